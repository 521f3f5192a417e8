"""The home page: real counts for the agency (devices out, equipment ratio, this week's
activities, open cases, open findings)."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from witness.activities.models import Activity, Case, CaseStatus
from witness.core.errors import WitnessError
from witness.devices.models import DeviceIssue
from witness.devices.services import equipment_ratio
from witness.findings.models import Finding, FindingStatus
from witness.org import services as org
from witness.web.views.common import agency_for, error_text, no_agency


def week_start(now=None):
    """Monday 00:00 of this week in local time (Asia/Shanghai unless configured)."""
    local = timezone.localtime(now)
    monday = local - timedelta(days=local.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


@login_required
def home(request):
    agency = agency_for(request)
    if agency is None:
        return no_agency(request)
    request.agency = agency  # the header shows it
    roles = org.current_roles_of_user(request.user)
    context = {"agency": agency, "has_role": bool(roles)}
    if roles:
        now = timezone.now()
        since = week_start(now)
        try:
            ratios = equipment_ratio(agency, now)
            ratio_error = None
        except WitnessError as exc:
            ratios, ratio_error = [], error_text(request, exc)
        context.update(
            devices_out=DeviceIssue.objects.filter(returned_at__isnull=True,
                                                   device__unit__agency=agency).count(),
            ratios=ratios,
            ratio_error=ratio_error,
            units_short=sum(1 for r in ratios if r.short),
            week_start=since,
            activities_this_week=Activity.objects.filter(
                agency=agency, arrived_at__gte=since, arrived_at__lte=now).count(),
            open_cases=Case.objects.filter(agency=agency, status=CaseStatus.OPEN).count(),
            open_findings=Finding.objects.filter(status=FindingStatus.OPEN).count(),
        )
    return render(request, "web/home.html", context)
