"""Cases (案件): list, detail, create.

Scope (issue 5 item 1): the cases of ``authz.visible_cases`` (the heads: the agency's); a
case outside it answers 404 with a ``denied`` audit entry. A case's page lists only the
activities the user may see (``authz.visible_activities``).
"""

from django.db.models import Count, Prefetch
from django.shortcuts import redirect, render

from witness.access import authz
from witness.activities import services
from witness.activities.models import ActivityOfficer, Case
from witness.core.errors import WitnessError
from witness.web.access import may_open
from witness.web.forms import CaseFilterForm, CaseForm
from witness.web.views.common import add_error, form_status, keyset, roles_required, scoped
from witness.web.views.names import type_names

CASE_ACTIVITIES = 100


@roles_required("case_list")
def case_list(request):
    form = CaseFilterForm(request.GET or None)
    qs = (authz.visible_cases(request.subject).select_related("leader_in_charge")
          .annotate(activity_count=Count("activities")))
    if form.is_valid() and form.cleaned_data["status"]:
        qs = qs.filter(status=form.cleaned_data["status"])
    page = keyset(request, qs, "opened_at", descending=True)
    return render(request, "web/cases/list.html", {
        "form": form, "page": page, "can_create": may_open(request.roles, "case_create")})


@roles_required("case_detail")
def case_detail(request, pk):
    case = scoped(request, Case.objects.select_related("leader_in_charge"), pk, "case.view",
                  authz.visible_cases)
    officers = Prefetch("officers", queryset=ActivityOfficer.objects.select_related("person"))
    activities = list(authz.visible_activities(request.subject, case.activities.all())
                      .select_related("unit").prefetch_related(officers)
                      .order_by("-arrived_at", "-id")[:CASE_ACTIVITIES + 1])
    names = type_names(request.agency)
    for activity in activities:
        activity.type_name = names.get(activity.activity_type, activity.activity_type)
    return render(request, "web/cases/detail.html", {
        "case": case, "activities": activities[:CASE_ACTIVITIES],
        "more_activities": len(activities) > CASE_ACTIVITIES,
        "can_create": may_open(request.roles, "activity_create")})


@roles_required("case_create")
def case_create(request):
    form = CaseForm(request.agency, request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = services.create_case(
                request.agency, number=data["number"], name=data["name"],
                leader_in_charge=data["leader_in_charge"],
                retention_class=data["retention_class"], opened_at=data["opened_at"],
                actor=request.user)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            return redirect("case_detail", pk=case.pk)
    return render(request, "web/cases/form.html", {"form": form},
                  status=form_status(form, status))
