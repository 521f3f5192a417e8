"""Rules about devices (issue 6 item 1): the equipment ratio (DEV-2), the issue/return
ledger (DEV-3), the pre-use check and the device clock (DEV-4), loss and damage (DEV-5).

Each rule is one or two queries; Python only walks the breaches they return.
"""

from __future__ import annotations

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from witness.devices.models import (
    DeviceEvent,
    DeviceIssue,
    DeviceKind,
    DeviceStatus,
    EventKind,
    PreUseCheck,
    RefusedIssue,
)
from witness.findings.models import Severity
from witness.org.models import PersonUnitHistory, Unit
from witness.recordings.models import IngestRun, Recording

from . import register
from .base import Context, Match, Rule, Window

# DEV-2: devices a field unit carries to a scene; a fixed surveillance camera or a storage
# device does not count even where it records both.
FIELD_KINDS = tuple(k for k in DeviceKind.values
                    if k not in (DeviceKind.SURVEILLANCE, DeviceKind.STORAGE))
GONE = (DeviceStatus.LOST, DeviceStatus.RETIRED)


def able_devices(prefix: str = "") -> Q:
    """Devices able to record image and sound at once that the unit still has (DEV-2):
    in service or under repair, not lost or retired."""
    return (Q(**{f"{prefix}records_video": True, f"{prefix}records_audio": True,
                 f"{prefix}kind__in": FIELD_KINDS})
            & ~Q(**{f"{prefix}status__in": GONE}))


# -- DEV-2 ----------------------------------------------------------------------------------

def too_few_devices(ctx: Context, profile, window: Window):
    minimum = profile.min_devices_per_field_unit
    if minimum <= 0:
        return []
    rows = (Unit.objects.filter(agency=ctx.agency, has_field_duty=True)
            .annotate(n=Count("devices", filter=able_devices("devices__")))
            .filter(n__lt=minimum).values_list("pk", "name", "n"))
    return [Match(pk, details={"unit": name, "devices": n, "minimum": minimum},
                  unit_id=pk, at=ctx.now) for pk, name, n in rows]


register(Rule(
    id="DEV-2.too_few_devices", requirement="DEV-2", articles="A3, B5",
    title=_("A field unit has fewer devices recording image and sound than the minimum"),
    subject="org.unit", evaluate=too_few_devices, by_activity_time=False))


# -- DEV-3 ----------------------------------------------------------------------------------

def refused_issues(ctx: Context, profile, window: Window):
    rows = (RefusedIssue.objects.filter(device__unit__agency=ctx.agency)
            .values_list("pk", "device__serial", "device__unit_id", "person_id",
                         "person__name", "person_unit__name", "issue_scope", "attempted_at",
                         "attempted_by__person__id"))
    return [Match(pk, details={"device": serial, "intended_holder": name,
                               "intended_holder_id": person_id, "holder_unit": unit_name,
                               "issue_scope": scope},
                  person_id=by, unit_id=unit_id, at=at)
            for pk, serial, unit_id, person_id, name, unit_name, scope, at, by in rows]


register(Rule(
    id="DEV-3.refused_issue", requirement="DEV-3", articles="A4, B9, B10, A18(3), B26(2)",
    title=_("Someone tried to issue a device outside the permitted scope"),
    subject="devices.refusedissue", evaluate=refused_issues, severity=Severity.SERIOUS,
    by_activity_time=False))


def unit_changed_while_holding(ctx: Context, profile, window: Window):
    moves = (PersonUnitHistory.objects
             .filter(person=OuterRef("holder"), effective_from__gt=OuterRef("issued_at"),
                     effective_from__lt=Coalesce(OuterRef("returned_at"), Value(ctx.now)))
             .exclude(unit=OuterRef("holder_unit")).order_by("effective_from", "pk"))
    rows = (DeviceIssue.objects.filter(device__unit__agency=ctx.agency)
            .filter(Exists(moves))
            .annotate(moved_to=Subquery(moves.values("unit__name")[:1]),
                      moved_at=Subquery(moves.values("effective_from")[:1]))
            .values_list("pk", "device__serial", "holder_id", "holder__name",
                         "holder_unit_id", "holder_unit__name", "issued_at", "returned_at",
                         "moved_to", "moved_at"))
    return [Match(pk, details={"device": serial, "holder": name, "unit_at_issue": unit_name,
                               "moved_to": moved_to,
                               "moved_at": moved_at.isoformat() if moved_at else None,
                               "returned": returned is not None},
                  person_id=holder, unit_id=unit_id, at=moved_at or issued)
            for pk, serial, holder, name, unit_id, unit_name, issued, returned, moved_to,
            moved_at in rows]


register(Rule(
    id="DEV-3.unit_changed_while_holding", requirement="DEV-3", articles="A4, B9, B10",
    title=_("The holder of a device moved to another unit while holding it"),
    subject="devices.deviceissue", evaluate=unit_changed_while_holding,
    by_activity_time=False))


# -- DEV-4 ----------------------------------------------------------------------------------

def _issues_of_activities(ctx: Context):
    return DeviceIssue.objects.filter(pk__in=Recording.objects.filter(
        activity_id__in=ctx.activity_ids, issue__isnull=False).values("issue_id"))


def no_check(ctx: Context, profile, window: Window):
    """A ledger line with recordings and no pre-use check at or before its first one:
    a check of that line, or one of the device made after the issue (a check made with
    the time given, not attached to the line)."""
    first = (Recording.objects.filter(issue=OuterRef("pk"), started_at__isnull=False)
             .order_by("started_at").values("started_at")[:1])
    checked = PreUseCheck.objects.filter(
        Q(issue=OuterRef("pk"))
        | Q(issue__isnull=True, device=OuterRef("device"),
            checked_at__gte=OuterRef("issued_at")),
        checked_at__lte=OuterRef("first_recording"))
    issues = DeviceIssue.objects.filter(device__unit__agency=ctx.agency)
    if ctx.incremental:
        issues = issues.filter(pk__in=_issues_of_activities(ctx).values("pk"))
    rows = (issues.annotate(first_recording=Subquery(first))
            .filter(first_recording__isnull=False).filter(~Exists(checked))
            .values_list("pk", "device__serial", "holder_id", "holder__name",
                         "holder_unit_id", "issued_at", "first_recording"))
    return [Match(pk, details={"device": serial, "holder": name,
                               "issued_at": issued.isoformat(),
                               "first_recording": first_at.isoformat()},
                  person_id=holder, unit_id=unit_id, at=first_at)
            for pk, serial, holder, name, unit_id, issued, first_at in rows]


register(Rule(
    id="DEV-4.no_check", requirement="DEV-4", articles="A7, B12",
    title=_("A device was used without a pre-use check"),
    subject="devices.deviceissue", evaluate=no_check, touched=_issues_of_activities,
    by_activity_time=False))


def _drift_over(tolerance: int) -> Q:
    return Q(clock_drift_seconds__gt=tolerance) | Q(clock_drift_seconds__lt=-tolerance)


def _runs_of_activities(ctx: Context):
    return IngestRun.objects.filter(pk__in=Recording.objects.filter(
        activity_id__in=ctx.activity_ids, ingest_run__isnull=False).values("ingest_run_id"))


def clock_drift(ctx: Context, profile, window: Window):
    """An ingest run whose device clock (from the clock file on the volume) or any of whose
    recordings' clock (from the pre-use check before it) was off by more than the
    tolerance: one finding per docking, for the holder of its first such recording."""
    tolerance = profile.clock_drift_tolerance_seconds
    over = _drift_over(tolerance)
    recordings = (Recording.objects.filter(ingest_run=OuterRef("pk")).filter(over)
                  .order_by("started_at", "pk"))
    runs = IngestRun.objects.filter(agency=ctx.agency).filter(window.q("started_at"))
    if ctx.incremental:
        runs = runs.filter(pk__in=_runs_of_activities(ctx).values("pk"))
    rows = list(runs.filter(over | Exists(recordings))
                .annotate(holder_id=Subquery(recordings.values("holder_id")[:1]),
                          holder_unit_id=Subquery(recordings.values("issue__holder_unit_id")[:1]))
                .values_list("pk", "volume", "device__serial", "device__unit_id",
                             "clock_drift_seconds", "started_at", "holder_id",
                             "holder_unit_id"))
    if not rows:
        return []
    worst = {run: (n, low, high) for run, n, low, high in (
        Recording.objects.filter(ingest_run__in=[r[0] for r in rows]).filter(over)
        .order_by().values("ingest_run").annotate(
            n=Count("pk"), low=Min("clock_drift_seconds"), high=Max("clock_drift_seconds"))
        .values_list("ingest_run", "n", "low", "high"))}
    out = []
    for pk, volume, serial, device_unit, drift, started, holder, holder_unit in rows:
        n, low, high = worst.get(pk, (0, None, None))
        seen = [d for d in (drift, low, high) if d is not None]
        out.append(Match(pk, details={
            "device": serial, "volume": volume, "run_drift_seconds": drift,
            "max_drift_seconds": max(seen, key=abs), "recordings_over": n,
            "tolerance_seconds": tolerance},
            person_id=holder, unit_id=holder_unit or device_unit, at=started))
    return out


register(Rule(
    id="DEV-4.clock_drift", requirement="DEV-4", articles="A7, B12",
    title=_("A device clock was off by more than the tolerance"),
    subject="recordings.ingestrun", evaluate=clock_drift, touched=_runs_of_activities))


# -- DEV-5 ----------------------------------------------------------------------------------

def lost_or_damaged(ctx: Context, profile, window: Window):
    rows = (DeviceEvent.objects.filter(device__unit__agency=ctx.agency,
                                       kind__in=(EventKind.LOSS, EventKind.DAMAGE))
            .values_list("pk", "kind", "device__serial", "device__unit_id", "responsible_id",
                         "responsible__unit_id", "occurred_at", "description"))
    return [Match(pk, details={"device": serial, "event": kind, "description": text[:200]},
                  person_id=person, unit_id=person_unit or device_unit, at=at)
            for pk, kind, serial, device_unit, person, person_unit, at, text in rows]


register(Rule(
    id="DEV-5.lost_or_damaged", requirement="DEV-5", articles="B9, B11, A18(5), B26(7)",
    title=_("A device was lost or damaged"),
    subject="devices.deviceevent", evaluate=lost_or_damaged, severity=Severity.SERIOUS,
    by_activity_time=False))
