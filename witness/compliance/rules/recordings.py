"""Rules about recordings (issue 6 item 1): interruptions and signs of tampering (ACT-5),
use outside official work (ACT-6) and late upload (ING-2).

Every rule is one or two set-based queries over ``recordings.Recording``; Python only walks
the breaches the database returns. A finding names the recording's holder as the person
responsible where the data knows one, the activity's unit (else the device's unit) as its
unit, and the recording's start as the moment it happened.

An incremental check (after an ingest) re-decides the recordings of the given activities,
or — for the per-device sequence rule — every recording of the devices that recorded them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models import Window as Over
from django.db.models.functions import Coalesce, Lag, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.devices.models import Device, DeviceIssue
from witness.findings.models import Severity
from witness.recordings.models import Attribution, MediaKind, Recording, TimeSource

from . import register
from .base import Context, Match, Rule, Window

AV = (MediaKind.VIDEO, MediaKind.AUDIO)

# ACT-5.encoder: a device model's usual encoder tag is decided only from this many readable
# recordings of that model (and kind) or more; fewer say nothing about what is usual.
ENCODER_MIN_RECORDINGS = 5
# ACT-6.outside_activity: how old a recording outside any activity must be before it is a
# finding (an activity entered late, or the custodian's decision revised, settles it first).
OUTSIDE_ACTIVITY_AFTER = timedelta(days=7)
# The in-app inbox entry a unit head gets for a gap (witness.access.chain.NOTICES).
GAP_NOTICE = "finding_gap"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _seconds(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return float(Decimal(str(value)).quantize(Decimal("0.001")))


def _matches(qs: QuerySet, *, fields: Iterable[str] = (),
             key: Callable[[dict], str] = lambda row: "",
             details: Callable[[dict], dict] = lambda row: {},
             person: str = "holder_id") -> Iterable[Match]:
    """One Match per row of ``qs`` (the breaches): the holder, the activity's unit else the
    device's, the start."""
    responsible = F("holder_id") if person == "holder_id" else Coalesce("holder_id", person)
    rows = qs.order_by().values("pk", "started_at", *fields, responsible=responsible,
                                unit=Coalesce("activity__unit_id", "device__unit_id"))
    for row in rows:
        yield Match(object_id=row["pk"], key=key(row), details=details(row),
                    person_id=row["responsible"], unit_id=row["unit"], at=row["started_at"])


def _in_activities(ctx: Context) -> QuerySet | None:
    """Touched: the recordings of the activities of an incremental check."""
    return ctx.recordings()


# --- ACT-5: interruptions ---------------------------------------------------------------

def _gap(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ACT-5 (B16): an audio/video recording inside an activity that starts more than
    ``gap_tolerance_seconds`` after the end of the same device's previous segment of that
    activity (``gap_before_seconds``, kept by recordings.segments at ingest and on
    assignment). The activity's arrival decides the profile version."""
    tolerance = profile.gap_tolerance_seconds
    qs = ctx.recordings().filter(window.q("activity__arrived_at"), activity__isnull=False,
                                 kind__in=AV, gap_before_seconds__gt=tolerance)
    return _matches(
        qs, fields=("activity_id", "device__serial", "gap_before_seconds", "segment_index"),
        details=lambda r: {"activity": r["activity_id"], "device": r["device__serial"],
                           "gap_seconds": _seconds(r["gap_before_seconds"]),
                           "segment": r["segment_index"], "tolerance_seconds": tolerance})


def _tell_unit_heads(findings: list) -> None:
    """B16: the department head learns of an interruption at once — an inbox entry for each
    unit head of the activity's unit (found as the viewing chain finds them), audited."""
    from witness.access.models import Notification
    from witness.audit import services as audit
    from witness.org.models import Role, Unit
    from witness.org.services import people_with_role

    by_unit: dict[int | None, list] = defaultdict(list)
    for finding in findings:
        by_unit[finding.unit_id].append(finding)
    units = Unit.objects.in_bulk([u for u in by_unit if u is not None])
    rows = []
    for unit_id, unit_findings in by_unit.items():
        unit = units.get(unit_id)
        heads = (list(people_with_role(Role.UNIT_HEAD, unit=unit)
                      .filter(agency_id=unit.agency_id).order_by("pk"))
                 if unit is not None else [])
        for finding in unit_findings:
            details = {"finding": finding.pk, "activity": finding.details.get("activity"),
                       "gap": finding.details.get("gap_seconds"),
                       "device": finding.details.get("device") or ""}
            rows += [Notification(person=head, kind=GAP_NOTICE, details=details)
                     for head in heads]
            audit.append(f"system:rule:{finding.rule_id}", "finding.notify", finding,
                         outcome="success" if heads else "failure",
                         details={"kind": GAP_NOTICE, "to": [h.pk for h in heads],
                                  "unit": unit_id,
                                  **({} if heads else {"reason": "no unit head"})})
    Notification.objects.bulk_create(rows)


register(Rule(
    id="ACT-5.gap", requirement="ACT-5", articles="B16",
    title=_("Gap between a device's segments inside an activity above the tolerance"),
    subject="recordings.recording", evaluate=_gap, touched=_in_activities,
    notify=_tell_unit_heads))


def _devices_touched(ctx: Context) -> QuerySet:
    """Touched by a per-device rule: every recording of the devices that recorded in the
    activities of an incremental check."""
    return Recording.objects.filter(
        device_id__in=ctx.recordings().filter(device__isnull=False).values("device_id"))


def _sequence_hole(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ACT-5 (B16, B24): a hole in a device's file sequence numbers — files deleted on the
    device. Per device, its recordings ordered by the sequence number in their names; a
    recording whose number exceeds the previous one (Lag) by more than one is the
    recording after the hole, and the key is the missing range ``a-b``. Repeated numbers
    (a counter that wrapped round) are no hole. Thresholds play no part, so it is decided
    once for all time."""
    base = Recording.objects.filter(device__unit__agency=ctx.agency, sequence__isnull=False)
    if ctx.incremental:
        base = base.filter(device_id__in=ctx.recordings().filter(device__isnull=False)
                           .values("device_id"))
    holes = base.annotate(previous=Over(Lag("sequence"), partition_by=[F("device_id")],
                                        order_by=[F("sequence").asc(), F("id").asc()])
                          ).filter(previous__lt=F("sequence") - 1)
    return _matches(
        holes, fields=("previous", "sequence", "device_id", "device__serial"),
        key=lambda r: f"{r['previous'] + 1}-{r['sequence'] - 1}",
        details=lambda r: {"device": r["device__serial"], "missing_from": r["previous"] + 1,
                           "missing_to": r["sequence"] - 1,
                           "missing_count": r["sequence"] - r["previous"] - 1,
                           "previous_sequence": r["previous"], "sequence": r["sequence"]})


register(Rule(
    id="ACT-5.sequence_hole", requirement="ACT-5", articles="B16, B24",
    title=_("Hole in a device's file sequence numbers (files deleted on the device)"),
    subject="recordings.recording", evaluate=_sequence_hole, touched=_devices_touched,
    severity=Severity.SERIOUS, by_activity_time=False))


# --- ACT-5: signs of editing or re-encoding ---------------------------------------------

def _usual_encoders(ctx: Context) -> dict[tuple[str, str], tuple[str, int, int]]:
    """(device model, kind) -> (usual encoder tag, recordings with it, recordings in all),
    from one grouped query over the agency's readable audio/video recordings by device,
    kind and tag (an index-only scan of ``recording_encoder_tally``), summed per model here
    (a few rows per device). An incremental check counts only the models it touches."""
    devices = Device.objects.filter(unit__agency=ctx.agency).exclude(model="")
    if ctx.incremental:
        devices = devices.filter(model__in=ctx.recordings().values("device__model"))
    model_of = dict(devices.values_list("pk", "model"))
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = (Recording.objects.filter(device_id__in=list(model_of), readable=True, kind__in=AV)
            .order_by().values_list("device_id", "kind", "encoder").annotate(n=Count("id")))
    for device_id, kind, encoder, n in rows:
        counts[(model_of[device_id], kind)][encoder] += n
    usual = {}
    for group, tags in counts.items():
        total = sum(tags.values())
        ranked = sorted(tags.items(), key=lambda t: -t[1])
        if total < ENCODER_MIN_RECORDINGS:
            continue
        if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
            continue  # two tags equally common: nothing is usual
        usual[group] = (ranked[0][0], ranked[0][1], total)
    return usual


def _encoder(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ACT-5 (B16, B24): a readable audio/video recording whose encoder tag differs from
    the tag most recordings of the same device model (``Device.model``) and kind carry —
    a file re-encoded or edited by other software. What is usual is decided by the data,
    not a list: the modal tag of the agency's readable recordings of that model, counted
    only where the model has at least ``ENCODER_MIN_RECORDINGS`` (5) of them and one tag
    is strictly the most common (a tie names no norm). An empty tag counts as a tag: a
    model whose files carry none makes a tagged file stand out, and the other way round.
    Decided under the current profile: no threshold of the profile plays a part."""
    usual = _usual_encoders(ctx)
    if not usual:
        return []
    unusual = reduce(or_, (Q(device__model=model, kind=kind) & ~Q(encoder=tag)
                           for (model, kind), (tag, _n, _total) in usual.items()))
    qs = ctx.recordings().filter(unusual, readable=True)

    def details(r):
        tag, n, total = usual[(r["device__model"], r["kind"])]
        return {"device": r["device__serial"], "model": r["device__model"],
                "encoder": r["encoder"], "usual_encoder": tag, "usual_count": n,
                "model_recordings": total}

    return _matches(qs, fields=("device__model", "device__serial", "kind", "encoder"),
                    details=details)


register(Rule(
    id="ACT-5.encoder", requirement="ACT-5", articles="B16, B24",
    title=_("Encoder tag unlike the device model's usual one (re-encoded or edited)"),
    subject="recordings.recording", evaluate=_encoder, touched=_in_activities,
    by_activity_time=False))


def _creation_time(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ACT-5 (B16, B24): the creation time embedded in the file disagrees with the start
    the device wrote into the file name. Only recordings timed by their file name
    (``time_source`` file_name) are compared, and against ``device_start`` — the name's
    start as the device clock showed it, before the drift correction — since the device
    stamped both with the same clock. Some devices stamp the file when they close it, so
    the creation time may lie anywhere from the start to the end of the recording on that
    clock; more than ``clock_drift_tolerance_seconds`` before the start or after the end
    is a finding. The profile in force at the recording's start decides."""
    tolerance = timedelta(seconds=profile.clock_drift_tolerance_seconds)
    length = ExpressionWrapper(Coalesce("ended_at", "started_at") - F("started_at"),
                               output_field=DurationField())
    qs = (ctx.recordings()
          .filter(window.q("started_at"), time_source=TimeSource.FILE_NAME,
                  creation_time__isnull=False, device_start__isnull=False,
                  started_at__isnull=False)
          .annotate(device_end=ExpressionWrapper(F("device_start") + length,
                                                 output_field=DateTimeField()))
          .filter(Q(creation_time__lt=F("device_start") - tolerance)
                  | Q(creation_time__gt=F("device_end") + tolerance)))

    def details(r):
        return {"device": r["device__serial"], "creation_time": _iso(r["creation_time"]),
                "name_start": _iso(r["device_start"]),
                "difference_seconds": _seconds(r["creation_time"] - r["device_start"]),
                "tolerance_seconds": profile.clock_drift_tolerance_seconds}

    return _matches(qs, fields=("device__serial", "creation_time", "device_start"),
                    details=details)


register(Rule(
    id="ACT-5.creation_time", requirement="ACT-5", articles="B16, B24",
    title=_("Creation time in the file disagrees with the start in its name"),
    subject="recordings.recording", evaluate=_creation_time, touched=_in_activities))


# The id ingest raises this finding under at once (witness.ingest.services.SAME_BYTES_RULE);
# the engine owns it from then on.
SAME_BYTES = "ACT-5.same-bytes-other-device"


def _with_uploads(ctx: Context) -> QuerySet:
    """The agency's recordings, uploads without a device included (by their ingest run);
    for an incremental check, those sharing a blob with a recording of its activities."""
    qs = Recording.objects.filter(Q(device__unit__agency=ctx.agency)
                                  | Q(activity__unit__agency=ctx.agency)
                                  | Q(ingest_run__agency=ctx.agency))
    if ctx.incremental:
        qs = qs.filter(blob_id__in=Recording.objects.filter(activity_id__in=ctx.activity_ids)
                       .values("blob_id"))
    return qs


def _same_bytes(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ACT-5 (B16, B24): the same stored bytes (one ``storage.Blob``) recorded by
    recordings of two different devices — copied footage, or footage inserted as another
    device's. The unique constraints make two recordings of one blob always come from
    different devices (or one from no device: an upload), so the breach is every recording
    of a blob that an earlier recording (lower id) already had: exactly the recording
    ingest raises the finding on, with the same (empty) key, so the engine neither
    duplicates ingest's finding nor resolves it."""
    shared = Recording.objects.all()
    if ctx.incremental:  # only the blobs of the activities' recordings
        shared = shared.filter(blob_id__in=ctx.recordings().values("blob_id"))
    shared = (shared.order_by().values("blob_id").annotate(n=Count("id"))
              .filter(n__gt=1).values("blob_id"))  # blobs of two recordings or more
    earlier = Recording.objects.filter(blob_id=OuterRef("blob_id"), pk__lt=OuterRef("pk"))
    breaches = list(_with_uploads(ctx).filter(blob_id__in=shared).filter(Exists(earlier))
                    .order_by()
                    .values("pk", "blob_id", "blob__sha256", "device__serial", "holder_id",
                            "started_at",
                            unit=Coalesce("activity__unit_id", "device__unit_id")))
    if not breaches:
        return []
    others: dict[int, list] = defaultdict(list)
    for pk, blob_id, serial in (Recording.objects
                                .filter(blob_id__in={r["blob_id"] for r in breaches})
                                .order_by("pk").values_list("pk", "blob_id",
                                                            "device__serial")):
        others[blob_id].append((pk, serial))
    return [Match(object_id=r["pk"], person_id=r["holder_id"], unit_id=r["unit"],
                  at=r["started_at"],
                  details={"sha256": r["blob__sha256"], "device": r["device__serial"],
                           "other_recordings": [{"id": pk, "device": serial}
                                                for pk, serial in others[r["blob_id"]]
                                                if pk != r["pk"]]})
            for r in breaches]


def _same_blob_touched(ctx: Context) -> QuerySet:
    """Touched: the recordings sharing a blob with a recording of the activities."""
    return _with_uploads(ctx)


register(Rule(
    id=SAME_BYTES, requirement="ACT-5", articles="B16, B24",
    title=_("Identical bytes recorded by another device"),
    subject="recordings.recording", evaluate=_same_bytes, touched=_same_blob_touched,
    by_activity_time=False))


# --- ACT-6: recording outside official work ---------------------------------------------

def _after_departure(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ACT-6 (B16: no re-recording afterwards): a recording of an activity that starts after
    the activity's departure. The start is corrected for the known clock drift; a clock
    within the profile's ``clock_drift_tolerance_seconds`` (DEV-4) may still show a start a
    little late, so only starts later than departure plus that tolerance count. The
    activity's arrival decides the profile version."""
    tolerance = timedelta(seconds=profile.clock_drift_tolerance_seconds)
    qs = ctx.recordings().filter(
        window.q("activity__arrived_at"), activity__isnull=False,
        started_at__gt=F("activity__departed_at") + tolerance)
    return _matches(
        qs, fields=("activity_id", "activity__departed_at", "device__serial"),
        details=lambda r: {
            "activity": r["activity_id"], "device": r["device__serial"],
            "departed_at": _iso(r["activity__departed_at"]),
            "seconds_after_departure": _seconds(r["started_at"]
                                                - r["activity__departed_at"])})


register(Rule(
    id="ACT-6.after_departure", requirement="ACT-6", articles="B16",
    title=_("Recording of an activity started after the departure"),
    subject="recordings.recording", evaluate=_after_departure, touched=_in_activities))


def _not_issued(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ACT-6 (A4, A5, B4, B17): a recording that started while its device was issued to
    nobody — no line of the issue/return ledger of that device with ``issued_at`` at or
    before the start and ``returned_at`` empty or at or after it. Historical footage
    (backfill) predates the ledger and is left out. Nobody held the device, so the
    person responsible is the device's custodian, who keeps the ledger (A4), unless a
    holder was set. No threshold plays a part."""
    covering = (DeviceIssue.objects.filter(device_id=OuterRef("device_id"),
                                           issued_at__lte=OuterRef("started_at"))
                .filter(Q(returned_at__isnull=True) | Q(returned_at__gte=OuterRef("started_at"))))
    qs = (ctx.recordings().filter(device__isnull=False, started_at__isnull=False,
                                  backfill=False)
          .filter(~Exists(covering)))
    return _matches(qs, fields=("device__serial",), person="device__custodian_id",
                    details=lambda r: {"device": r["device__serial"],
                                       "started_at": _iso(r["started_at"])})


register(Rule(
    id="ACT-6.not_issued", requirement="ACT-6", articles="A4, A5, B4, B17",
    title=_("Recording made while the device was issued to nobody"),
    subject="recordings.recording", evaluate=_not_issued, touched=_in_activities,
    by_activity_time=False))


def _outside_activity(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ACT-6 (A5, B4, B17): an audio/video recording of a device that belongs to no
    activity, started more than 7 days ago, and is not in the custodian's assignment
    queue.

    "In the queue" is ``attribution == queued`` whatever the ``queue_reason``: ingest could
    not decide (no holder, no or several activities of the holder at that time, no time,
    historical footage) and the custodian has not yet assigned it or confirmed it belongs
    to no activity; until then the data does not say it is outside official work. So the
    breach is, in practice, a recording the custodian confirmed as outside any activity
    (``attribution == no_activity``, with the custodian's note) — or one that lost its
    activity otherwise. The 7 days leave time for an activity entered late and for the
    custodian to revise a decision before it becomes a finding. Historical footage
    (backfill) predates the activity records and is left out. Only a full check decides
    it: such a recording belongs to no activity an ingest touches."""
    qs = (ctx.recordings()
          .filter(activity__isnull=True, device__isnull=False, kind__in=AV, backfill=False,
                  started_at__lt=ctx.now - OUTSIDE_ACTIVITY_AFTER)
          .exclude(attribution=Attribution.QUEUED))
    return _matches(qs, fields=("device__serial", "attribution"),
                    details=lambda r: {"device": r["device__serial"],
                                       "attribution": r["attribution"],
                                       "started_at": _iso(r["started_at"])})


register(Rule(
    id="ACT-6.outside_activity", requirement="ACT-6", articles="A5, B4, B17",
    title=_("Recording outside any activity (possible use outside official work)"),
    subject="recordings.recording", evaluate=_outside_activity, touched=None,
    by_activity_time=False))


# --- ING-2: late upload -----------------------------------------------------------------

def _local_midnight_after(moment: datetime) -> datetime:
    """24:00 local time (settings.TIME_ZONE) of the day of ``moment``."""
    tz = timezone.get_default_timezone()
    day = timezone.localtime(moment, tz).date() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time.min), tz)


def _late_upload(ctx: Context, profile, window: Window) -> Iterable[Match]:
    """ING-2 (A13, B20): a recording of an activity ingested later than the profile's
    ``upload`` limits allow; the key names the limb breached.

    * exception limb — the activity carries one of ``upload.exception_flags`` (off_site,
      remote, continuous: 异地/偏远/连续执法) and its return to the unit is recorded: the
      limit is ``returned_to_unit_at`` + ``exception_hours``;
    * normal limb — every other activity, and a flagged one whose return to the unit is not
      recorded (the exception cannot be measured without it, so the normal limit applies
      and the details say so): ``hours_after_departure`` — departure + ``normal_hours``;
      ``same_day`` — 24:00 local time (settings.TIME_ZONE) of the departure day, i.e. the
      local date of the ingest is later than the local date of the departure (computed in
      SQL).

    Historical footage (backfill) is left out: it was kept elsewhere before Witness and its
    ingest time says nothing about the upload. The activity's arrival decides the profile
    version."""
    tz = timezone.get_default_timezone()
    flags = profile.upload_exception_flags
    if profile.upload_normal == "same_day":
        late = Q(ingested_day__gt=F("departed_day"))
    else:
        late = Q(ingested_at__gt=F("activity__departed_at")
                 + timedelta(hours=profile.upload_normal_hours))
    if flags:
        exception = (reduce(or_, (Q(**{f"activity__{flag}": True}) for flag in flags))
                     & Q(activity__returned_to_unit_at__isnull=False))
        late = (exception & Q(ingested_at__gt=F("activity__returned_to_unit_at")
                              + timedelta(hours=profile.upload_exception_hours))
                | ~exception & late)
    qs = (ctx.recordings()
          .filter(window.q("activity__arrived_at"), activity__isnull=False, backfill=False)
          .annotate(ingested_day=TruncDate("ingested_at", tzinfo=tz),
                    departed_day=TruncDate("activity__departed_at", tzinfo=tz))
          .filter(late))

    def limb(r) -> str:
        return ("exception" if r["activity__returned_to_unit_at"] is not None
                and any(r[f"activity__{f}"] for f in flags) else "normal")

    def details(r) -> dict:
        out = {"activity": r["activity_id"], "limb": limb(r),
               "ingested_at": _iso(r["ingested_at"]),
               "departed_at": _iso(r["activity__departed_at"])}
        if out["limb"] == "exception":
            limit = r["activity__returned_to_unit_at"] + timedelta(
                hours=profile.upload_exception_hours)
            out.update(rule="exception_hours", hours=profile.upload_exception_hours,
                       returned_to_unit_at=_iso(r["activity__returned_to_unit_at"]))
        elif profile.upload_normal == "same_day":
            limit = _local_midnight_after(r["activity__departed_at"])
            out.update(rule="same_day", time_zone=settings.TIME_ZONE)
        else:
            limit = r["activity__departed_at"] + timedelta(hours=profile.upload_normal_hours)
            out.update(rule="hours_after_departure", hours=profile.upload_normal_hours)
        if out["limb"] == "normal" and any(r[f"activity__{f}"] for f in flags):
            out["note"] = "no return to the unit recorded: the normal limit applies"
        out.update(limit=_iso(limit), seconds_late=_seconds(r["ingested_at"] - limit))
        return out

    return _matches(qs, fields=("activity_id", "ingested_at", "activity__departed_at",
                                "activity__returned_to_unit_at",
                                *(f"activity__{f}" for f in flags)),
                    key=limb, details=details)


register(Rule(
    id="ING-2.late_upload", requirement="ING-2", articles="A13, B20",
    title=_("Recording uploaded later than the profile's limit"),
    subject="recordings.recording", evaluate=_late_upload, touched=_in_activities))
