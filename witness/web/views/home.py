"""The home page: what each role must do today (issue 8 item 1), above the agency's real
counts (devices out, equipment ratio, this week's activities, open cases, open findings).

Per role (an account with several roles gets each panel): officers their open findings,
their recent activities with no recording yet and the devices they hold; custodians the
docking station, the files waiting for assignment and the registrations waiting;
unit heads and leaders the approvals waiting and the findings explained and waiting for a
decision; the legal and supervision role the review campaigns under way. Every list is
bounded (LIMIT) and every figure one query (witness/web/views/home_tasks.py).
Administrators get a notice with their console instead: they see no enforcement data."""

from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone

from witness.activities.models import Activity, Case, CaseStatus
from witness.core.errors import WitnessError
from witness.devices.models import Device, DeviceEvent, DeviceIssue, PreUseCheck, RefusedIssue
from witness.devices.services import equipment_ratio
from witness.findings.models import Finding, FindingStatus
from witness.org.models import Person, Role, Unit
from witness.web.access import is_administrator
from witness.web.views import home_tasks
from witness.web.views.common import error_lines, roles_required

# The agency-scoped models a finding can be about, with the path to their agency.
FINDING_SUBJECTS = [
    (Device, "unit__agency"), (DeviceIssue, "device__unit__agency"),
    (PreUseCheck, "device__unit__agency"), (DeviceEvent, "device__unit__agency"),
    (RefusedIssue, "device__unit__agency"), (Activity, "agency"), (Case, "agency"),
    (Person, "agency"), (Unit, "agency"),
]


def week_start(now=None):
    """Monday 00:00 of this week in local time (settings.TIME_ZONE)."""
    local = timezone.localtime(now)
    monday = local - timedelta(days=local.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def open_findings(agency) -> int:
    return open_findings_qs(agency).count()


def open_findings_qs(agency):
    """Open findings about the agency's objects: a subquery per type (the content types
    come from Django's cache)."""
    types = ContentType.objects.get_for_models(*(model for model, _path in FINDING_SUBJECTS))
    about = Q()
    for model, path in FINDING_SUBJECTS:
        ids = model.objects.filter(**{path: agency}).values("pk")
        about |= Q(content_type=types[model], object_id__in=ids)
    return Finding.objects.filter(about, status=FindingStatus.OPEN)


def counts(agency) -> dict:
    now = timezone.now()
    since = week_start(now)
    try:
        ratios, ratio_error = equipment_ratio(agency, now), None
    except WitnessError as exc:
        ratios, ratio_error = [], error_lines(exc)
    figures = home_tasks.count_all(
        devices_out=DeviceIssue.objects.filter(returned_at__isnull=True,
                                               device__unit__agency=agency),
        activities_this_week=Activity.objects.filter(agency=agency, arrived_at__gte=since,
                                                     arrived_at__lte=now),
        open_cases=Case.objects.filter(agency=agency, status=CaseStatus.OPEN),
        open_findings=open_findings_qs(agency))
    return {
        **figures,
        "ratios": ratios,
        "ratio_error": ratio_error,
        "units_short": sum(1 for r in ratios if r.short),
        "week_start": since,
    }


@roles_required("home")
def home(request):
    """Through the gate like every page (any signed-in account; issue 5 item 1)."""
    agency, roles = request.agency, request.roles
    administrator = is_administrator(roles)
    context = {"agency": agency, "has_role": bool(roles), "administrator": administrator}
    if roles and not administrator:
        context["tasks"] = home_tasks.tasks(request.subject)
        if roles - {Role.OFFICER}:
            context.update(counts(agency), overview=True)
    return render(request, "web/home.html", context)
