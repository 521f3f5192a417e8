"""The compliance dashboard page and its CSV (issue 6 item 4): figures per unit and month.
Unit heads see their own units; leaders, the legal department and custodians the agency.
Downloading the CSV is audited (``compliance.dashboard.export``)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.compliance import dashboard
from witness.compliance.management.commands.dashboard import next_month, parse_month
from witness.core.errors import WitnessError
from witness.org.models import Role, Unit
from witness.web.views.common import error_lines, roles_required

MONTHS_SHOWN = 12


def _scope(request) -> list[int] | None:
    """The units the user may see (None: all of the agency), narrowed to ?unit=<id>."""
    subject = request.subject
    allowed = None if subject.agency_wide or Role.CUSTODIAN in subject.roles \
        else sorted(subject.head_units)
    unit = request.GET.get("unit", "").strip()
    if not unit:
        return allowed
    if not (unit.isascii() and unit.isdigit()) or (allowed is not None
                                                  and int(unit) not in allowed):
        raise WitnessError(_("%(unit)s is not a unit you may see."), code="bad_unit",
                           unit=unit[:20])
    return [int(unit)]


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
        units = _scope(request)
    except WitnessError as exc:
        return HttpResponse("\n".join(error_lines(exc)), status=400,
                            content_type="text/plain; charset=utf-8")
    request.dashboard_units = units
    return start, end, dashboard.monthly(request.agency, start=start, end=end,
                                         unit_ids=units)


def _months(start, end) -> list[str]:
    out, moment = [], start
    while moment < end and len(out) < 240:
        out.append(f"{moment:%Y-%m}")
        moment = next_month(moment)
    return out


def chart_data(request, start, end, rows) -> dict:
    """The figures of the charts, per month over the units shown: JSON for
    witness/web/static/witness/dashboard.js (json_script, no inline script)."""
    months = _months(start, end)
    index = {m: i for i, m in enumerate(months)}
    keys = ("activities", "must_record", "recorded", "recordings", "late", "open_findings",
            "devices_in_use", "minimum")
    sums = {k: [0] * len(months) for k in keys}
    for r in rows:
        if r.month in index:
            for k in keys:
                sums[k][index[r.month]] += getattr(r, k)

    def share(part, whole):
        return [round(100 * p / w, 1) if w else None for p, w in zip(part, whole, strict=True)]

    points = dashboard.storage(request.agency, rows, start=start,
                               unit_ids=request.dashboard_units, months=months)
    gib = 1024 ** 3
    return {
        "months": months,
        "activities": sums["activities"], "must_record": sums["must_record"],
        "coverage": share(sums["recorded"], sums["must_record"]),
        "on_time": share([n - late for n, late in zip(sums["recordings"], sums["late"],
                                                      strict=True)],
                         sums["recordings"]),
        "open_findings": sums["open_findings"],
        "devices_in_use": sums["devices_in_use"], "minimum": sums["minimum"],
        "storage_months": [p.month for p in points],
        "storage_used_gib": [round(p.used / gib, 3) if not p.forecast else None
                             for p in points],
        "storage_forecast_gib": [round(p.used / gib, 3) if p.forecast or i == len(months) - 1
                                 else None for i, p in enumerate(points)],
        "storage_points": [{"month": p.month, "used": p.used, "growth": p.growth,
                            "forecast": p.forecast} for p in points],
    }


@roles_required("compliance_dashboard")
def compliance_dashboard(request):
    figures = _figures(request)
    if isinstance(figures, HttpResponse):
        return figures
    start, end, rows = figures
    charts = chart_data(request, start, end, rows)
    units = Unit.objects.filter(agency=request.agency).order_by("code")
    if request.dashboard_units is not None and not request.GET.get("unit"):
        units = units.filter(pk__in=request.dashboard_units)
    elif not (request.subject.agency_wide or Role.CUSTODIAN in request.subject.roles):
        units = units.filter(pk__in=request.subject.head_units)
    return render(request, "compliance/dashboard.html", {
        "rows": rows, "start": start, "end": end, "query": request.GET.urlencode(),
        "charts": charts, "storage_points": charts["storage_points"],
        "units": list(units.values("id", "name"))})


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
