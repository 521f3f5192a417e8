"""Viewing requests (查阅申请, EVD-2) and disclosure requests (EVD-3): the form, my requests,
a request's page with every step, withdrawal and revocation (issue 5 items 3 and 5).

The rules are witness.access.chain's; the pages only ask it. A request's page is open to
its requester, to those who decide or decided one of its steps, and to those whose register
scope covers it; anyone else gets 404 (its existence is not revealed) and a ``denied``
audit entry.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from witness.access import authz, chain
from witness.access.models import AccessRequest, Grant, RequestKind, RequestStatus
from witness.core.errors import WitnessError
from witness.recordings.models import Recording
from witness.web.access import may_open
from witness.web.views.common import (
    add_error,
    audit_denied,
    error_lines,
    form_status,
    keyset,
    roles_required,
)
from witness.web.views.requests_forms import DisclosureForm, RequestForm, RevokeForm

TARGET_SHOWN = 200  # recordings listed on the form (the request covers all of them)


def _ids(values) -> list[int]:
    return sorted({int(v) for v in values if str(v).isdigit()})


def _target(request, source):
    """What the form is for, from ``?recording=`` (repeatable), ``?activity=`` or
    ``?case=``, within the subject's scope; 404 otherwise."""
    subject = request.subject
    ids = _ids(source.getlist("recording"))
    activity_id, case_id = source.get("activity", ""), source.get("case", "")
    target = {"recordings": None, "activity": None, "case": None, "query": []}
    if ids:
        found = list(authz.visible_recordings(subject, Recording.objects.filter(
            ingest_run__agency=request.agency, pk__in=ids)).order_by("pk"))
        if len(found) != len(ids):
            raise Http404
        target["recordings"] = found
        target["shown"] = found
        target["query"] = [("recording", r.pk) for r in found]
    elif activity_id.isdigit():
        activity = authz.visible_activities(subject).filter(
            pk=int(activity_id), agency=request.agency).select_related("unit", "case").first()
        if activity is None:
            raise Http404
        target["activity"] = activity
        target["shown"] = list(Recording.objects.filter(activity=activity)
                               .order_by("started_at", "pk")[:TARGET_SHOWN])
        target["query"] = [("activity", activity.pk)]
    elif case_id.isdigit():
        case = authz.visible_cases(subject).filter(pk=int(case_id)).first()
        if case is None:
            raise Http404
        target["case"] = case
        target["shown"] = list(Recording.objects.filter(activity__case=case)
                               .order_by("started_at", "pk")[:TARGET_SHOWN])
        target["query"] = [("case", case.pk)]
    else:
        raise Http404
    return target


def _new(request, kind: str):
    target = _target(request, request.POST if request.method == "POST" else request.GET)
    form_class = DisclosureForm if kind == RequestKind.DISCLOSURE else RequestForm
    form = form_class(request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        extra = {k: data[k] for k in ("recipient_kind", "recipient_name", "recipient_org",
                                      "delivery")} if kind == RequestKind.DISCLOSURE else {}
        try:
            created = chain.submit(
                request.subject.person, recordings=target["recordings"],
                activity=target["activity"], case=target["case"], reason=data["reason"],
                wanted_from=data["wanted_from"], wanted_until=data["wanted_until"],
                may_download=data["may_download"], kind=kind, actor=request.user, **extra)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Request #%(id)s submitted; it waits for %(step)s.")
                             % {"id": created.pk,
                                "step": created.steps.order_by("position")[0]
                                .get_step_display()})
            return redirect("request_detail", pk=created.pk)
    return render(request, "web/requests/form.html", {
        "form": form, "target": target, "kind": kind,
        "disclosure": kind == RequestKind.DISCLOSURE}, status=form_status(form, status))


def _no_person(request):
    if request.subject.person is None:
        raise authz.Denied(code="no_person")


@roles_required("request_new")
@require_http_methods(["GET", "POST"])
def request_new(request):
    """A viewing request (EVD-2) for recordings, an activity or a case."""
    _no_person(request)
    return _new(request, RequestKind.VIEWING)


@roles_required("disclosure_new")
@require_http_methods(["GET", "POST"])
def disclosure_new(request):
    """A request to give recordings outside the agency (EVD-3), with its approval."""
    _no_person(request)
    return _new(request, RequestKind.DISCLOSURE)


@roles_required("request_list")
def request_list(request):
    """The signed-in person's own requests, newest first (keyset pages)."""
    person = request.subject.person
    qs = AccessRequest.objects.filter(requester=person) if person else \
        AccessRequest.objects.none()
    page = keyset(request, qs.select_related("activity", "case"), "created_at",
                  descending=True)
    return render(request, "web/requests/list.html", {
        "page": page, "can_inbox": may_open(request.roles, "inbox")})


def visible_request(request, pk, action: str) -> AccessRequest:
    """The request ``pk`` if the subject may see it (chain.can_view_request), else 404
    with a ``denied`` entry where it exists."""
    found = (AccessRequest.objects.filter(agency=request.agency, pk=pk)
             .select_related("requester__unit", "activity", "case").first())
    if found is None:
        raise Http404
    if not chain.can_view_request(request.subject, found):
        audit_denied(request, action, found, exc=authz.Denied(code="scope"))
        raise Http404
    return found


@roles_required("request_detail")
def request_detail(request, pk):
    req = visible_request(request, pk, "request.view")
    person = request.subject.person
    steps = list(req.steps.select_related("unit", "approver", "decided_by")
                 .order_by("position"))
    for step in steps:
        step.mine = step.state == "open" and chain.may_decide(step, person)
    items = list(req.items.select_related("recording").order_by("recording_id"))
    grants = list(req.grants.select_related("recording", "revoked_by").order_by("recording_id"))
    may_revoke = (may_open(request.roles, "grant_revoke")
                  and any(g.revoked_at is None for g in grants)
                  and chain.may_revoke(person, req))
    return render(request, "web/requests/detail.html", {
        "req": req, "steps": steps, "items": items, "grants": grants,
        "may_withdraw": person is not None and person.pk == req.requester_id
        and req.status == RequestStatus.PENDING,
        "may_revoke": may_revoke, "revoke_form": RevokeForm(),
    })


@roles_required("request_withdraw")
def request_withdraw(request, pk):
    """POST: the requester withdraws a request still in approval."""
    if request.method != "POST":
        return redirect("request_detail", pk=pk)
    req = visible_request(request, pk, "request.create")
    try:
        chain.withdraw(req, request.subject.person, actor=request.user)
    except WitnessError as exc:
        messages.error(request, "\n".join(error_lines(exc)))
    else:
        messages.success(request, _("Request #%(id)s withdrawn.") % {"id": req.pk})
    return redirect("request_detail", pk=req.pk)


def _revoke(request, req, target):
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for revoking."))
        return redirect("request_detail", pk=req.pk)
    try:
        grants = chain.revoke(target, request.subject.person, form.cleaned_data["reason"],
                              actor=request.user)
    except WitnessError as exc:
        messages.error(request, "\n".join(error_lines(exc)))
    else:
        messages.success(request, _("%(count)s grants revoked.") % {"count": len(grants)})
    return redirect("request_detail", pk=req.pk)


@roles_required("request_revoke")
def request_revoke(request, pk):
    """POST reason=…: revoke every grant of the request still in force."""
    if request.method != "POST":
        return redirect("request_detail", pk=pk)
    req = visible_request(request, pk, "grant.revoke")
    return _revoke(request, req, req)


@roles_required("grant_revoke")
def grant_revoke(request, pk):
    """POST reason=…: revoke one grant."""
    grant = Grant.objects.filter(request__agency=request.agency, pk=pk).first()
    if grant is None:
        raise Http404
    req = visible_request(request, grant.request_id, "grant.revoke")
    if request.method != "POST":
        return redirect("request_detail", pk=req.pk)
    return _revoke(request, req, grant)
