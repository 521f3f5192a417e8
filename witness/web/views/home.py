"""The home page: real counts for the agency (devices out, equipment ratio, this week's
activities, open cases, open findings). Administrators get a notice instead: they see no
enforcement data (the audit administrator's notice links to the audit pages)."""

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
from witness.org.models import Person, Unit
from witness.web.access import is_administrator
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
    """Open findings about the agency's objects: one COUNT with a subquery per type (the
    content types come from Django's cache)."""
    types = ContentType.objects.get_for_models(*(model for model, _path in FINDING_SUBJECTS))
    about = Q()
    for model, path in FINDING_SUBJECTS:
        ids = model.objects.filter(**{path: agency}).values("pk")
        about |= Q(content_type=types[model], object_id__in=ids)
    return Finding.objects.filter(about, status=FindingStatus.OPEN).count()


def counts(agency) -> dict:
    now = timezone.now()
    since = week_start(now)
    try:
        ratios, ratio_error = equipment_ratio(agency, now), None
    except WitnessError as exc:
        ratios, ratio_error = [], error_lines(exc)
    return {
        "devices_out": DeviceIssue.objects.filter(returned_at__isnull=True,
                                                  device__unit__agency=agency).count(),
        "ratios": ratios,
        "ratio_error": ratio_error,
        "units_short": sum(1 for r in ratios if r.short),
        "week_start": since,
        "activities_this_week": Activity.objects.filter(
            agency=agency, arrived_at__gte=since, arrived_at__lte=now).count(),
        "open_cases": Case.objects.filter(agency=agency, status=CaseStatus.OPEN).count(),
        "open_findings": open_findings(agency),
    }


@roles_required("home")
def home(request):
    """Through the gate like every page (any signed-in account; issue 5 item 1)."""
    agency, roles = request.agency, request.roles
    administrator = is_administrator(roles)
    context = {"agency": agency, "has_role": bool(roles), "administrator": administrator}
    if roles and not administrator:
        context.update(counts(agency))
    return render(request, "web/home.html", context)
