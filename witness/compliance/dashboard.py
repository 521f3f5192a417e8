"""Dashboard data per unit and month (issue 6 item 4; ACT-1, ACT-3, ING-2, SUP-1, SUP-2).

Each figure is one grouped query (GROUP BY unit, local month), never a loop over rows:

- ``must_record``: activities of a type the profile in force at the time lists as
  must-record (ACT-1), by month of arrival;
- ``recorded``: those of them with at least one audio or video recording;
- ``recordings`` / ``late``: audio/video recordings of the unit's activities by month of
  start, and how many of them carry an ``ING-2.late_upload`` finding;
- ``open_findings``: findings of the unit, by month of what they are about, not yet
  decided (open, explained, rejected);
- ``violations``: violations registered that month for findings of the unit (SUP-2);
- ``activities``: all activities of the unit by month of arrival (from the same query as
  ``must_record``: a conditional count);
- ``devices_in_use`` / ``minimum``: distinct devices out with the unit's people at any time
  in the month (an issue that began before the month's end and was not returned before its
  start — one COUNT DISTINCT per month shown, in one query), against the minimum of the
  profile in force at the month's start for a unit with field-enforcement duty (DEV-2);
- ``storage_bytes``: bytes of the originals ingested that month for the unit's activities
  (by the ingest time; a blob shared by two recordings counts twice). The used total and
  its forecast are :func:`storage`'s.

Months are local (``settings.TIME_ZONE``, Asia/Shanghai by default). The web issue draws
these rows as charts; ``witness dashboard`` and the web CSV download give them as CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from witness.activities.models import Activity
from witness.devices.models import DeviceIssue
from witness.findings.models import Finding, FindingStatus, Violation
from witness.org.models import Unit
from witness.recordings.models import MediaKind, Recording

from .engine import periods

LATE_RULE = "ING-2.late_upload"
UNDECIDED = (FindingStatus.OPEN, FindingStatus.EXPLAINED, FindingStatus.REJECTED)
AV = (MediaKind.VIDEO, MediaKind.AUDIO)


@dataclass
class Row:
    unit: str
    unit_name: str
    month: str  # YYYY-MM, local
    must_record: int = 0
    recorded: int = 0
    recordings: int = 0
    late: int = 0
    open_findings: int = 0
    violations: int = 0
    activities: int = 0
    devices_in_use: int = 0
    minimum: int = 0
    storage_bytes: int = 0

    @property
    def recorded_percent(self) -> float | None:
        return round(100 * self.recorded / self.must_record, 1) if self.must_record else None

    @property
    def on_time_percent(self) -> float | None:
        if not self.recordings:
            return None
        return round(100 * (self.recordings - self.late) / self.recordings, 1)

    def as_dict(self) -> dict:
        return {**asdict(self), "recorded_percent": self.recorded_percent,
                "on_time_percent": self.on_time_percent}


COLUMNS = ("unit", "unit_name", "month", "must_record", "recorded", "recorded_percent",
           "recordings", "late", "on_time_percent", "open_findings", "violations",
           "activities", "devices_in_use", "minimum", "storage_bytes")


def _month(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m") if timezone.is_aware(moment) \
        else moment.strftime("%Y-%m")


def monthly(agency, *, start: datetime | None = None, end: datetime | None = None,
            unit_ids=None) -> list[Row]:
    """One row per unit and month with any figure, ordered by month then unit code."""
    tz = timezone.get_current_timezone()
    units = {u.pk: u for u in Unit.objects.filter(agency=agency)}
    rows: dict[tuple[int, str], Row] = {}

    def row(unit_id, month) -> Row:
        key = (unit_id, _month(month))
        if key not in rows:
            unit = units[unit_id]
            rows[key] = Row(unit.code, unit.name, key[1])
        return rows[key]

    def window(field: str) -> Q:
        q = Q()
        if start is not None:
            q &= Q(**{f"{field}__gte": start})
        if end is not None:
            q &= Q(**{f"{field}__lt": end})
        return q

    recorded = Exists(Recording.objects.filter(activity=OuterRef("pk"), kind__in=AV))
    spans = periods(agency)
    for profile, span in spans:
        acts = (Activity.objects.filter(unit__agency=agency)
                .filter(span.q("arrived_at")).filter(window("arrived_at")))
        if unit_ids is not None:
            acts = acts.filter(unit_id__in=unit_ids)
        must = Q(activity_type__in=profile.must_record_codes)
        for r in (acts.annotate(month=TruncMonth("arrived_at", tzinfo=tz))
                  .values("unit_id", "month")
                  .annotate(all=Count("pk"), n=Count("pk", filter=must),
                            done=Count("pk", filter=must & Q(recorded)))):
            target = row(r["unit_id"], r["month"])
            target.activities += r["all"]
            target.must_record += r["n"]
            target.recorded += r["done"]

    late = Exists(Finding.objects.filter(rule_id=LATE_RULE, object_id=OuterRef("pk"),
                                         content_type__app_label="recordings",
                                         content_type__model="recording")
                  .exclude(status=FindingStatus.RESOLVED))  # "no longer found": on time
    recs = Recording.objects.filter(activity__unit__agency=agency, kind__in=AV,
                                    started_at__isnull=False).filter(window("started_at"))
    if unit_ids is not None:
        recs = recs.filter(activity__unit_id__in=unit_ids)
    for r in (recs.annotate(month=TruncMonth("started_at", tzinfo=tz))
              .values("activity__unit_id", "month")
              .annotate(n=Count("pk"), late=Count("pk", filter=Q(late)))):
        target = row(r["activity__unit_id"], r["month"])
        target.recordings += r["n"]
        target.late += r["late"]

    findings = Finding.objects.filter(unit__agency=agency, status__in=UNDECIDED,
                                      occurred_at__isnull=False).filter(window("occurred_at"))
    if unit_ids is not None:
        findings = findings.filter(unit_id__in=unit_ids)
    for r in (findings.annotate(month=TruncMonth("occurred_at", tzinfo=tz))
              .values("unit_id", "month").annotate(n=Count("pk"))):
        row(r["unit_id"], r["month"]).open_findings += r["n"]

    violations = Violation.objects.filter(finding__unit__agency=agency).filter(
        window("registered_at"))
    if unit_ids is not None:
        violations = violations.filter(finding__unit_id__in=unit_ids)
    for r in (violations.annotate(month=TruncMonth("registered_at", tzinfo=tz))
              .values("finding__unit_id", "month").annotate(n=Count("pk"))):
        row(r["finding__unit_id"], r["month"]).violations += r["n"]

    stored = Recording.objects.filter(activity__unit__agency=agency).filter(
        window("ingested_at"))
    if unit_ids is not None:
        stored = stored.filter(activity__unit_id__in=unit_ids)
    for r in (stored.annotate(month=TruncMonth("ingested_at", tzinfo=tz))
              .values("activity__unit_id", "month").annotate(n=Sum("blob__size"))):
        row(r["activity__unit_id"], r["month"]).storage_bytes += r["n"] or 0

    _devices(agency, rows, units, spans, unit_ids)
    return sorted(rows.values(), key=lambda r: (r.month, r.unit))


MAX_DEVICE_MONTHS = 120


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = int(month[:4]), int(month[5:7])
    start = timezone.make_aware(datetime(year, number, 1))
    end = timezone.make_aware(datetime(year + number // 12, number % 12 + 1, 1))
    return start, end


def _devices(agency, rows: dict, units: dict, spans, unit_ids) -> None:
    """devices_in_use and minimum of every row: one query, a COUNT DISTINCT per month."""
    months = sorted({month for _unit, month in rows})[-MAX_DEVICE_MONTHS:]
    for (unit_id, month), target in rows.items():
        start, _end = _month_bounds(month)
        profile = next((p for p, span in spans
                        if (span.start is None or span.start <= start)
                        and (span.end is None or start < span.end)), None)
        if profile is not None and units[unit_id].has_field_duty:
            target.minimum = profile.min_devices_per_field_unit
    if not months:
        return
    counts = {}
    for index, month in enumerate(months):
        start, end = _month_bounds(month)
        counts[f"m{index}"] = Count("device", distinct=True, filter=Q(
            issued_at__lt=end) & (Q(returned_at__isnull=True) | Q(returned_at__gte=start)))
    issues = DeviceIssue.objects.filter(holder_unit__agency=agency)
    if unit_ids is not None:
        issues = issues.filter(holder_unit_id__in=unit_ids)
    for r in issues.order_by().values("holder_unit_id").annotate(**counts):
        for index, month in enumerate(months):
            target = rows.get((r["holder_unit_id"], month))
            if target is not None:
                target.devices_in_use = r[f"m{index}"]


# --- storage used and its forecast ---------------------------------------------------------

FORECAST_FIT = 6  # months the line is fitted to
FORECAST_AHEAD = 3  # months forecast


@dataclass
class StoragePoint:
    month: str
    used: int  # bytes at the month's end
    growth: int  # bytes added in the month
    forecast: bool = False


def linear_fit(values: list[float]) -> tuple[float, float]:
    """Least-squares line through (0, v0), (1, v1)…: (slope, intercept)."""
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    if n == 1:
        return 0.0, float(values[0])
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def _next(month: str) -> str:
    _start, end = _month_bounds(month)
    return timezone.localtime(end).strftime("%Y-%m")


def storage(agency, rows: list[Row], *, start: datetime | None, unit_ids=None,
            months: list[str] | None = None) -> list[StoragePoint]:
    """Storage used at the end of each month (the bytes ingested before ``start`` plus each
    month's growth from ``rows``), then FORECAST_AHEAD months forecast by a least-squares
    line fitted to the used totals of the last FORECAST_FIT months (never below the last
    total: originals are not deleted except by the retention purge). One query."""
    before = 0
    if start is not None:
        base = Recording.objects.filter(activity__unit__agency=agency, ingested_at__lt=start)
        if unit_ids is not None:
            base = base.filter(activity__unit_id__in=unit_ids)
        before = base.aggregate(n=Sum("blob__size"))["n"] or 0
    growth: dict[str, int] = {}
    for r in rows:
        growth[r.month] = growth.get(r.month, 0) + r.storage_bytes
    points, used = [], before
    for month in months or sorted(growth):
        used += growth.get(month, 0)
        points.append(StoragePoint(month, used, growth.get(month, 0)))
    if not points:
        return points
    slope, intercept = linear_fit([p.used for p in points[-FORECAST_FIT:]])
    fitted = min(len(points), FORECAST_FIT)
    month, last = points[-1].month, points[-1].used
    for ahead in range(1, FORECAST_AHEAD + 1):
        month = _next(month)
        value = max(last, round(intercept + slope * (fitted - 1 + ahead)))
        points.append(StoragePoint(month, value, value - last, forecast=True))
        last = value
    return points


def to_csv(rows: list[Row]) -> str:
    """CSV with a header row; UTF-8 with BOM is the caller's choice (Excel in China)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in rows:
        data = r.as_dict()
        writer.writerow(["" if data[c] is None else data[c] for c in COLUMNS])
    return out.getvalue()
