"""Dashboard data per unit and month (issue 6 item 4; ACT-1, ACT-3, ING-2, SUP-1, SUP-2).

Each figure is one grouped query (GROUP BY unit, local month), never a loop over rows:

- ``must_record``: activities of a type the profile in force at the time lists as
  must-record (ACT-1), by month of arrival;
- ``recorded``: those of them with at least one audio or video recording;
- ``recordings`` / ``late``: audio/video recordings of the unit's activities by month of
  start, and how many of them carry an ``ING-2.late_upload`` finding;
- ``open_findings``: findings of the unit, by month of what they are about, not yet
  decided (open, explained, rejected);
- ``violations``: violations registered that month for findings of the unit (SUP-2).

Months are local (``settings.TIME_ZONE``, Asia/Shanghai by default). The web issue draws
these rows as charts; ``witness dashboard`` and the web CSV download give them as CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from witness.activities.models import Activity
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
           "recordings", "late", "on_time_percent", "open_findings", "violations")


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
    for profile, span in periods(agency):
        acts = (Activity.objects.filter(unit__agency=agency,
                                        activity_type__in=profile.must_record_codes)
                .filter(span.q("arrived_at")).filter(window("arrived_at")))
        if unit_ids is not None:
            acts = acts.filter(unit_id__in=unit_ids)
        for r in (acts.annotate(month=TruncMonth("arrived_at", tzinfo=tz))
                  .values("unit_id", "month")
                  .annotate(n=Count("pk"), done=Count("pk", filter=Q(recorded)))):
            target = row(r["unit_id"], r["month"])
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

    return sorted(rows.values(), key=lambda r: (r.month, r.unit))


def to_csv(rows: list[Row]) -> str:
    """CSV with a header row; UTF-8 with BOM is the caller's choice (Excel in China)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in rows:
        data = r.as_dict()
        writer.writerow(["" if data[c] is None else data[c] for c in COLUMNS])
    return out.getvalue()
