"""The compliance dashboard page and its CSV (issue 6 item 4): figures per unit and month.
Unit heads see their own units; leaders, the legal department and custodians the agency.
Downloading the CSV is audited (``compliance.dashboard.export``)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from witness.audit import services as audit
from witness.compliance import dashboard
from witness.compliance.management.commands.dashboard import next_month, parse_month
from witness.core.errors import WitnessError
from witness.org.models import Role
from witness.web.views.common import error_lines, roles_required

MONTHS_SHOWN = 12


def _scope(request) -> list[int] | None:
    subject = request.subject
    if subject.agency_wide or Role.CUSTODIAN in subject.roles:
        return None
    return sorted(subject.head_units)


def _shift(moment, months: int):
    index = moment.year * 12 + moment.month - 1 + months
    return parse_month(f"{index // 12}-{index % 12 + 1}")


def _period(request):
    """?from=YYYY-MM&to=YYYY-MM (both months included); default the last twelve months."""
    end_text, start_text = request.GET.get("to", ""), request.GET.get("from", "")
    now = timezone.localtime()
    end = next_month(parse_month(end_text)) if end_text else _shift(now, 1)
    start = parse_month(start_text) if start_text else _shift(end, -MONTHS_SHOWN)
    return start, end


def _figures(request):
    """(start, end, rows) of the period asked for, or a 400 answer in both languages."""
    try:
        start, end = _period(request)
    except WitnessError as exc:
        return HttpResponse("\n".join(error_lines(exc)), status=400,
                            content_type="text/plain; charset=utf-8")
    return start, end, dashboard.monthly(request.agency, start=start, end=end,
                                         unit_ids=_scope(request))


@roles_required("compliance_dashboard")
def compliance_dashboard(request):
    figures = _figures(request)
    if isinstance(figures, HttpResponse):
        return figures
    start, end, rows = figures
    return render(request, "compliance/dashboard.html", {
        "rows": rows, "start": start, "end": end, "query": request.GET.urlencode()})


@roles_required("compliance_dashboard_csv")
def compliance_dashboard_csv(request):
    figures = _figures(request)
    if isinstance(figures, HttpResponse):
        return figures
    start, end, rows = figures
    name = f"compliance-{start:%Y-%m}.csv"
    with transaction.atomic():
        audit.append(request.user, "compliance.dashboard.export", None,
                     details={"file": name, "rows": len(rows), "via": "web",
                              "from": start.isoformat(), "to": end.isoformat()})
    response = HttpResponse("\ufeff" + dashboard.to_csv(rows),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
