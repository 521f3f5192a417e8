"""The recording-level rules (issue 6 item 1): ACT-5 (gaps, sequence holes, signs of
editing), ACT-6 (use outside official work) and ING-2 (late upload), each positive and
negative, under both builtin profiles; the end-to-end gap from generated device files; and
evaluation that does not grow in queries with the number of recordings."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from witness.access.chain import notice_text
from witness.access.models import Notification
from witness.audit.models import AuditEntry
from witness.compliance import engine
from witness.compliance.rules import get
from witness.compliance.rules.base import Context
from witness.devices import services as devices
from witness.devices.models import DeviceIssue
from witness.findings.models import Finding, FindingStatus
from witness.findings.services import raise_finding
from witness.ingest.services import SAME_BYTES_RULE, ingest_volume
from witness.recordings import segments
from witness.recordings.models import Attribution, QueueReason, Recording
from witness.storage.backends.local import LocalBackend
from witness.testing import factories as f
from witness.testing.media import ffmpeg_available
from witness.testing.volumes import identity_file, segment

pytestmark = pytest.mark.django_db

PROFILES = ["lushan-2019", "full-process-b"]
TZ = timezone.get_default_timezone()


def local(day, hour, minute=0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)), TZ)


def check(ns, *rule_ids, **kwargs):
    return engine.run(ns.agency, rules=[get(r) for r in rule_ids], actor="test", **kwargs)


def found(rule_id, **filters):
    return Finding.objects.filter(rule_id=rule_id, **filters)


@pytest.fixture
def world(make_agency):
    """make_agency(profile) plus a camera issued to the officer 30 days ago and an activity
    of the officer's unit ten days ago (10:00-11:00 local)."""

    def build(profile="lushan-2019"):
        ns = make_agency(profile)
        ns.officer = ns.people["officer"]
        ns.head = ns.people["unit_head"]
        ns.custodian = ns.people["custodian"]
        ns.device = f.DeviceFactory(unit=ns.field, custodian=ns.custodian)
        ns.issue = DeviceIssue.objects.create(
            device=ns.device, holder=ns.officer, holder_unit=ns.field,
            issued_at=timezone.now() - timedelta(days=30))
        ns.day = timezone.localdate() - timedelta(days=10)
        ns.activity = f.ActivityFactory(unit=ns.field, arrived_at=local(ns.day, 10),
                                        departed_at=local(ns.day, 11))
        f.ActivityOfficerFactory(activity=ns.activity, person=ns.officer, is_recorder=True)
        return ns

    return build


def rec(ns, start, seconds=60, *, activity=True, device=None, **kwargs) -> Recording:
    """A recording of the officer (attributed to the activity unless told otherwise)."""
    device = device or ns.device
    values = dict(device=device, started_at=start, ended_at=start + timedelta(seconds=seconds),
                  device_start=start, holder=ns.officer, issue=ns.issue,
                  ingested_at=start + timedelta(hours=1))
    if activity:
        values.update(activity=ns.activity if activity is True else activity,
                      attribution=Attribution.ATTRIBUTED, queue_reason="")
    values.update(kwargs)
    return f.RecordingFactory(**values)


# --- ACT-5.gap --------------------------------------------------------------------------

def gap_pair(ns, gap_seconds):
    first = rec(ns, ns.activity.arrived_at + timedelta(minutes=1), 60)
    second = rec(ns, first.ended_at + timedelta(seconds=gap_seconds), 60)
    segments.recompute(ns.activity.pk, ns.device.pk)
    second.refresh_from_db()
    return first, second


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_gap_above_tolerance_raises_one_finding_and_tells_the_unit_head(world, profile):
    ns = world(profile)
    _first, second = gap_pair(ns, 45)  # tolerance 30 s in both profiles
    result = check(ns, "ACT-5.gap")
    finding = found("ACT-5.gap").get()
    assert (finding.object_id, finding.key) == (second.pk, "")
    assert finding.responsible == ns.officer and finding.unit == ns.field
    assert finding.occurred_at == second.started_at
    assert finding.details["gap_seconds"] == 45.0 and finding.details["requirement"] == "ACT-5"
    assert result.per_rule["ACT-5.gap"]["raised"] == 1
    # B16: the department head learns of it at once, in the inbox, in both languages
    note = Notification.objects.get(kind="finding_gap")
    assert note.person == ns.head
    assert note.details == {"finding": finding.pk, "activity": ns.activity.pk, "gap": 45.0,
                            "device": ns.device.serial}
    with translation.override("en"):
        assert f"#{finding.pk}" in notice_text(note) and "45.0 s" in notice_text(note)
        assert "interrupted" in notice_text(note)
    with translation.override("zh-hans"):
        assert "中断" in notice_text(note) and f"#{ns.activity.pk}" in notice_text(note)
    assert AuditEntry.objects.filter(action="finding.notify", object_id=str(finding.pk)).exists()
    # a second run neither raises nor notifies again
    check(ns, "ACT-5.gap")
    assert found("ACT-5.gap").count() == 1 and Notification.objects.count() == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_gap_within_tolerance_raises_nothing(world, profile):
    ns = world(profile)
    gap_pair(ns, 30)  # exactly the tolerance
    photo = rec(ns, ns.activity.arrived_at + timedelta(minutes=20), 0, kind="photo",
                gap_before_seconds=500)  # photos are moments, not segments
    assert photo.kind == "photo"
    check(ns, "ACT-5.gap")
    assert not found("ACT-5.gap").exists() and not Notification.objects.exists()


def test_ACT5_gap_closed_by_a_late_segment_resolves_the_finding(world):
    ns = world()
    first, _second = gap_pair(ns, 200)
    check(ns, "ACT-5.gap")
    assert found("ACT-5.gap").get().status == FindingStatus.OPEN
    rec(ns, first.ended_at, 200)  # the missing segment arrives: no gap any more
    segments.recompute(ns.activity.pk, ns.device.pk)
    check(ns, "ACT-5.gap", activity_ids=[ns.activity.pk])
    assert found("ACT-5.gap").get().status == FindingStatus.RESOLVED


# --- ACT-5.sequence_hole ----------------------------------------------------------------

def sequence(ns, numbers, device=None, activity=True):
    start = ns.activity.arrived_at
    return [rec(ns, start + timedelta(minutes=i), 30, sequence=n, device=device,
                activity=activity) for i, n in enumerate(numbers)]


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_sequence_hole_raises_on_the_recording_after_the_hole(world, profile):
    ns = world(profile)
    rows = sequence(ns, [1, 2, 5, 6, 8])
    check(ns, "ACT-5.sequence_hole")
    got = {(x.object_id, x.key): x.details for x in found("ACT-5.sequence_hole")}
    assert set(got) == {(rows[2].pk, "3-4"), (rows[4].pk, "7-7")}
    assert got[(rows[2].pk, "3-4")]["missing_from"] == 3
    assert got[(rows[2].pk, "3-4")]["missing_to"] == 4
    assert got[(rows[2].pk, "3-4")]["missing_count"] == 2


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_sequence_numbers_contiguous_per_device_raise_nothing(world, profile):
    ns = world(profile)
    other = f.DeviceFactory(unit=ns.field)
    sequence(ns, [1, 2, 3, 3, 4])  # a repeated number (counter wrapped) is no hole
    sequence(ns, [5, 6], device=other)  # numbers are per device: 4 -> 5 is no hole
    rec(ns, ns.activity.arrived_at, 10, sequence=None)  # a name without a number
    check(ns, "ACT-5.sequence_hole")
    assert not found("ACT-5.sequence_hole").exists()


def test_ACT5_sequence_hole_incremental_check_sees_the_devices_other_recordings(world):
    ns = world()
    elsewhere = f.ActivityFactory(unit=ns.field, arrived_at=local(ns.day, 15),
                                  departed_at=local(ns.day, 16))
    sequence(ns, [1, 2])
    after = sequence(ns, [4], activity=elsewhere)[0]  # the hole is on the other activity
    check(ns, "ACT-5.sequence_hole", activity_ids=[ns.activity.pk])
    assert found("ACT-5.sequence_hole").get().object_id == after.pk
    # the missing file turns up: the hole is gone
    sequence(ns, [3])
    check(ns, "ACT-5.sequence_hole")
    assert found("ACT-5.sequence_hole").get().status == FindingStatus.RESOLVED


# --- ACT-5.encoder ----------------------------------------------------------------------

def encoded(ns, tags, device=None):
    start = ns.activity.arrived_at
    return [rec(ns, start + timedelta(minutes=i), 30, encoder=tag, device=device)
            for i, tag in enumerate(tags)]


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_encoder_unlike_the_models_usual_tag_raises(world, profile):
    ns = world(profile)
    rows = encoded(ns, ["Ambarella A9"] * 4 + ["Lavf58.76.100"])
    other_model = f.DeviceFactory(unit=ns.field, model="OTHER-1")
    encoded(ns, ["Lavf58.76.100"], device=other_model)  # another model: not compared
    check(ns, "ACT-5.encoder")
    finding = found("ACT-5.encoder").get()
    assert finding.object_id == rows[-1].pk
    assert finding.details["usual_encoder"] == "Ambarella A9"
    assert finding.details["encoder"] == "Lavf58.76.100"
    assert finding.details["model_recordings"] == 5


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_encoder_without_a_clear_norm_raises_nothing(world, profile):
    ns = world(profile)
    encoded(ns, ["Ambarella A9"] * 3 + ["Lavf58.76.100"])  # 4 recordings: too few
    check(ns, "ACT-5.encoder")
    assert not found("ACT-5.encoder").exists()
    second = f.DeviceFactory(unit=ns.field, model="DSJ-A9")
    encoded(ns, ["Lavf58.76.100"] * 2, device=second)  # 3 against 3: a tie, no norm
    unreadable = encoded(ns, ["x"])[0]
    Recording.objects.filter(pk=unreadable.pk).update(readable=False)  # no facts: left out
    check(ns, "ACT-5.encoder")
    assert not found("ACT-5.encoder").exists()


# --- ACT-5.creation_time ----------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_creation_time_far_from_the_name_start_raises(world, profile):
    ns = world(profile)
    start = ns.activity.arrived_at + timedelta(minutes=5)
    late = rec(ns, start, 60, creation_time=start + timedelta(minutes=10))  # re-encoded later
    early = rec(ns, start + timedelta(minutes=3), 60,
                creation_time=start + timedelta(minutes=3) - timedelta(seconds=90))
    check(ns, "ACT-5.creation_time")
    got = {x.object_id: x.details for x in found("ACT-5.creation_time")}
    assert set(got) == {late.pk, early.pk}
    assert got[late.pk]["difference_seconds"] == 600.0
    assert got[early.pk]["difference_seconds"] == -90.0
    assert got[late.pk]["tolerance_seconds"] == 60


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_creation_time_within_the_recording_and_tolerance_raises_nothing(world, profile):
    ns = world(profile)
    start = ns.activity.arrived_at + timedelta(minutes=5)
    drift = timedelta(seconds=40)  # the device clock ran 40 s fast; started_at is corrected
    rec(ns, start - drift, 60, device_start=start, creation_time=start + timedelta(seconds=1))
    rec(ns, start + timedelta(minutes=2), 60,  # stamped when the file was closed
        creation_time=start + timedelta(minutes=3, seconds=50))
    rec(ns, start + timedelta(minutes=4), 60, creation_time=start - timedelta(seconds=10)
        + timedelta(minutes=4))
    rec(ns, start + timedelta(minutes=6), 60, time_source="container",  # timed by it
        creation_time=start + timedelta(hours=5))
    check(ns, "ACT-5.creation_time")
    assert not found("ACT-5.creation_time").exists()


# --- ACT-5.same-bytes-other-device -------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_same_bytes_from_another_device_raises_on_the_later_recording(world, profile):
    ns = world(profile)
    assert get(SAME_BYTES_RULE).id == SAME_BYTES_RULE == "ACT-5.same-bytes-other-device"
    other = f.DeviceFactory(unit=ns.field2)
    first = rec(ns, ns.activity.arrived_at, 60)
    copy = rec(ns, ns.activity.arrived_at, 60, device=other, blob=first.blob, activity=False)
    rec(ns, ns.activity.arrived_at + timedelta(minutes=5), 60)  # other bytes
    check(ns, SAME_BYTES_RULE)
    finding = found(SAME_BYTES_RULE).get()
    assert (finding.object_id, finding.key) == (copy.pk, "")
    assert finding.details["other_recordings"] == [{"id": first.pk,
                                                    "device": ns.device.serial}]
    assert finding.unit == ns.field2
    # an incremental check of the activity decides the copy outside it as well
    check(ns, SAME_BYTES_RULE, activity_ids=[ns.activity.pk])
    assert found(SAME_BYTES_RULE).get().status == FindingStatus.OPEN


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_same_bytes_raised_at_ingest_is_neither_duplicated_nor_resolved(world, profile):
    ns = world(profile)
    other = f.DeviceFactory(unit=ns.field)
    first = rec(ns, ns.activity.arrived_at, 60)
    copy = rec(ns, ns.activity.arrived_at, 60, device=other, blob=first.blob)
    # what ingest does at once (witness.ingest.services, SAME_BYTES_RULE, no key)
    raised, _created = raise_finding(SAME_BYTES_RULE, copy, {"sha256": first.blob.sha256},
                                     actor="system:ingest")
    result = check(ns, SAME_BYTES_RULE)
    assert result.per_rule[SAME_BYTES_RULE] == {**result.per_rule[SAME_BYTES_RULE],
                                                "found": 1, "raised": 0, "resolved": 0}
    assert list(found(SAME_BYTES_RULE).values_list("pk", "status")) == [
        (raised.pk, FindingStatus.OPEN)]
    check(ns, SAME_BYTES_RULE, activity_ids=[ns.activity.pk])
    assert found(SAME_BYTES_RULE).count() == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT5_distinct_bytes_raise_no_same_bytes_finding(world, profile):
    ns = world(profile)
    other = f.DeviceFactory(unit=ns.field)
    rec(ns, ns.activity.arrived_at, 60)
    rec(ns, ns.activity.arrived_at, 60, device=other)
    check(ns, SAME_BYTES_RULE)
    assert not found(SAME_BYTES_RULE).exists()


# --- ACT-6 ------------------------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_ACT6_recording_started_after_departure_raises(world, profile):
    ns = world(profile)
    late = rec(ns, ns.activity.departed_at + timedelta(minutes=5), 60)
    check(ns, "ACT-6.after_departure")
    finding = found("ACT-6.after_departure").get()
    assert finding.object_id == late.pk and finding.responsible == ns.officer
    assert finding.details["seconds_after_departure"] == 300.0
    assert finding.details["articles"] == "B16"


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT6_recording_within_the_activity_raises_no_after_departure(world, profile):
    ns = world(profile)
    rec(ns, ns.activity.arrived_at - timedelta(minutes=2), 60)  # on the way in
    rec(ns, ns.activity.departed_at - timedelta(seconds=30), 120)  # runs past departure
    rec(ns, ns.activity.departed_at + timedelta(seconds=30), 60)  # clock within tolerance
    rec(ns, ns.activity.departed_at + timedelta(hours=2), 60, activity=False)  # no activity
    check(ns, "ACT-6.after_departure")
    assert not found("ACT-6.after_departure").exists()


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT6_recording_while_the_device_was_issued_to_nobody_raises(world, profile):
    ns = world(profile)
    spare = f.DeviceFactory(unit=ns.field, custodian=ns.custodian)
    DeviceIssue.objects.create(device=spare, holder=ns.officer, holder_unit=ns.field,
                               issued_at=local(ns.day, 8), returned_at=local(ns.day, 9))
    after_return = rec(ns, local(ns.day, 10), 60, device=spare, issue=None, holder=None)
    never = f.DeviceFactory(unit=ns.field2)
    unissued = rec(ns, local(ns.day, 10), 60, device=never, issue=None, holder=None)
    check(ns, "ACT-6.not_issued")
    got = {x.object_id: x for x in found("ACT-6.not_issued")}
    assert set(got) == {after_return.pk, unissued.pk}
    assert got[after_return.pk].responsible == ns.custodian  # who keeps the ledger
    assert got[unissued.pk].responsible is None and got[unissued.pk].unit == ns.field


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT6_recording_while_the_device_was_issued_raises_no_not_issued(world, profile):
    ns = world(profile)
    spare = f.DeviceFactory(unit=ns.field)
    DeviceIssue.objects.create(device=spare, holder=ns.officer, holder_unit=ns.field,
                               issued_at=local(ns.day, 8), returned_at=local(ns.day, 12))
    rec(ns, local(ns.day, 10), 60)  # the open issue of 30 days ago
    rec(ns, local(ns.day, 10), 60, device=spare)
    rec(ns, local(ns.day, 12), 60, device=spare)  # the very moment of return
    rec(ns, local(ns.day, 20), 60, device=spare, backfill=True, activity=False)  # history
    check(ns, "ACT-6.not_issued")
    assert not found("ACT-6.not_issued").exists()


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT6_recording_confirmed_outside_any_activity_raises_after_7_days(world, profile):
    ns = world(profile)
    old = timezone.now() - timedelta(days=8)
    confirmed = rec(ns, old, 60, activity=False, attribution=Attribution.NO_ACTIVITY,
                    queue_reason=QueueReason.NO_ACTIVITY)
    audio = rec(ns, old, 60, activity=False, kind="audio",
                attribution=Attribution.NO_ACTIVITY)
    check(ns, "ACT-6.outside_activity")
    got = {x.object_id: x for x in found("ACT-6.outside_activity")}
    assert set(got) == {confirmed.pk, audio.pk}
    assert got[confirmed.pk].responsible == ns.officer


@pytest.mark.parametrize("profile", PROFILES)
def test_ACT6_recording_in_the_queue_or_recent_raises_no_outside_activity(world, profile):
    ns = world(profile)
    old = timezone.now() - timedelta(days=8)
    rec(ns, old, 60, activity=False)  # still in the custodian's queue (no activity)
    rec(ns, old, 60, activity=False, queue_reason=QueueReason.SEVERAL_ACTIVITIES)
    rec(ns, timezone.now() - timedelta(days=6), 60, activity=False,
        attribution=Attribution.NO_ACTIVITY)  # not 7 days old yet
    rec(ns, old, 0, activity=False, kind="photo", attribution=Attribution.NO_ACTIVITY)
    rec(ns, old, 60, activity=False, backfill=True, attribution=Attribution.NO_ACTIVITY)
    rec(ns, ns.activity.arrived_at, 60)  # in an activity
    check(ns, "ACT-6.outside_activity")
    assert not found("ACT-6.outside_activity").exists()


def test_ACT6_outside_activity_is_decided_by_full_checks_only(world):
    ns = world()
    rec(ns, timezone.now() - timedelta(days=8), 60, activity=False,
        attribution=Attribution.NO_ACTIVITY)
    check(ns, "ACT-6.outside_activity", activity_ids=[ns.activity.pk])
    assert not found("ACT-6.outside_activity").exists()
    check(ns, "ACT-6.outside_activity")
    assert found("ACT-6.outside_activity").count() == 1


# --- ING-2.late_upload ------------------------------------------------------------------

# departure 11:00 local; (profile, ingested at: days after the departure day, hour, minute,
# expected finding key or None). lushan-2019: 24 h after departure; full-process-b: 24:00
# of the departure day.
LATE = [
    ("lushan-2019", 0, 23, 0, None),
    ("lushan-2019", 1, 0, 30, None),
    ("lushan-2019", 1, 10, 59, None),
    ("lushan-2019", 1, 11, 30, "normal"),
    ("full-process-b", 0, 23, 59, None),
    ("full-process-b", 1, 0, 30, "normal"),
    ("full-process-b", 1, 10, 59, "normal"),
]


@pytest.mark.parametrize(("profile", "days", "hour", "minute", "key"), LATE)
def test_ING2_late_upload_normal_limb_per_profile(world, profile, days, hour, minute, key):
    ns = world(profile)
    r = rec(ns, local(ns.day, 10, 5), 60,
            ingested_at=local(ns.day + timedelta(days=days), hour, minute))
    check(ns, "ING-2.late_upload")
    if key is None:
        assert not found("ING-2.late_upload").exists()
        return
    finding = found("ING-2.late_upload").get()
    assert (finding.object_id, finding.key) == (r.pk, key)
    expected_limit = (local(ns.day + timedelta(days=1), 0) if profile == "full-process-b"
                      else ns.activity.departed_at + timedelta(hours=24))
    assert datetime.fromisoformat(finding.details["limit"]) == expected_limit
    assert finding.details["limb"] == "normal"
    assert finding.details["rule"] == ("same_day" if profile == "full-process-b"
                                       else "hours_after_departure")


@pytest.mark.parametrize("profile", PROFILES)
def test_ING2_late_upload_exception_limb_24h_after_return(world, profile):
    ns = world(profile)
    ns.activity.off_site = True
    ns.activity.returned_to_unit_at = local(ns.day + timedelta(days=3), 8)
    ns.activity.save()
    in_time = rec(ns, local(ns.day, 10, 5), 60,
                  ingested_at=local(ns.day + timedelta(days=4), 7, 59))
    check(ns, "ING-2.late_upload")
    assert not found("ING-2.late_upload").exists()  # days after departure, yet in time
    Recording.objects.filter(pk=in_time.pk).update(
        ingested_at=local(ns.day + timedelta(days=4), 9))
    check(ns, "ING-2.late_upload")
    finding = found("ING-2.late_upload").get()
    assert finding.key == "exception" and finding.details["limb"] == "exception"
    assert datetime.fromisoformat(finding.details["limit"]) == local(ns.day + timedelta(days=4), 8)
    assert finding.details["seconds_late"] == 3600.0


@pytest.mark.parametrize("profile", PROFILES)
def test_ING2_flagged_activity_without_return_time_uses_the_normal_limb(world, profile):
    ns = world(profile)
    ns.activity.remote = True
    ns.activity.save()
    r = rec(ns, local(ns.day, 10, 5), 60, ingested_at=local(ns.day + timedelta(days=2), 12))
    rec(ns, local(ns.day, 10, 30), 60, ingested_at=local(ns.day, 12), backfill=True)
    check(ns, "ING-2.late_upload")
    finding = found("ING-2.late_upload").get()
    assert (finding.object_id, finding.key) == (r.pk, "normal")
    assert "no return to the unit" in finding.details["note"]


# --- end to end -------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_ACT5_2_minute_hole_raises_one_gap_tells_the_head_and_the_accepted_explanation_closes_it(
        make_agency, tmp_path):
    """Device files made with ffmpeg, through the real ingest: segments 1 and 2 are
    contiguous, segment 3 starts two minutes after segment 2 ended."""
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")
    ns = make_agency("full-process-b")
    officer, head = ns.people["officer"], ns.people["unit_head"]
    device = f.DeviceFactory(unit=ns.field, serial="DSJ-A9-0077")
    start = (timezone.localtime() - timedelta(days=1)).replace(hour=9, minute=30, second=5,
                                                                microsecond=0)
    devices.issue_device(device, officer, at=start - timedelta(hours=1),
                         no_check_reason="test", actor="test")
    activity = f.ActivityFactory(unit=ns.field, arrived_at=start - timedelta(minutes=5),
                                 departed_at=start + timedelta(minutes=15))
    f.ActivityOfficerFactory(activity=activity, person=officer, is_recorder=True)
    root = tmp_path / "cam"
    dcim = root / "DCIM"
    dcim.mkdir(parents=True)
    naive = start.replace(tzinfo=None)
    badge = officer.badge_number
    for seq, offset in ((1, 0), (2, 2), (3, 124)):  # 2 s each; 2 -> 4 s, then 124 s
        segment(dcim, device.serial, badge, naive + timedelta(seconds=offset), seq, seconds=2)
    identity_file(root, device.serial, badge)

    run = ingest_volume(root, backend=LocalBackend(tmp_path / "store"), actor="test")
    assert run.counts["stored"] == 3
    third = Recording.objects.get(sequence=3)
    assert third.activity == activity and 119 <= third.gap_before_seconds <= 121
    engine.run(ns.agency, activity_ids=[activity.pk], rules=[get("ACT-5.gap")],
               actor="test")
    finding = Finding.objects.get(rule_id="ACT-5.gap")
    assert finding.object_id == third.pk and finding.responsible == officer
    note = Notification.objects.get()
    assert (note.person, note.kind, note.details["finding"]) == (head, "finding_gap",
                                                                 finding.pk)
    # the nightly full check changes nothing: still one finding, one notification
    engine.run(ns.agency, rules=[get("ACT-5.gap")], actor="test")
    assert Finding.objects.filter(rule_id="ACT-5.gap").count() == 1
    assert Notification.objects.count() == 1
    assert AuditEntry.objects.filter(action="finding.raise", object_id=str(finding.pk)).count() == 1
    assert not Finding.objects.filter(rule_id="ACT-5.sequence_hole").exists()

    # the officer explains the interruption (B16), the head accepts it: the finding is
    # decided, the audit log shows each step, and later checks leave it alone
    from witness.access import authz
    from witness.findings import workflow
    for person in (officer, head):
        person.user = f.UserFactory(username=f"e2e-{person.pk}")
        person.save(update_fields=["user"])
    workflow.explain(authz.subject_of(officer.user), finding,
                     "电池耗尽，更换电池后继续录制。")
    workflow.decide(authz.subject_of(head.user), Finding.objects.get(pk=finding.pk),
                    accept=True)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.ACCEPTED
    steps = list(AuditEntry.objects.filter(object_id=str(finding.pk),
                                           action__startswith="finding.")
                 .order_by("id").values_list("action", flat=True))
    assert steps[0] == "finding.raise"
    assert steps[-2:] == ["finding.explain", "finding.accept"]
    assert Notification.objects.filter(person=officer, kind="finding_decided").exists()
    engine.run(ns.agency, rules=[get("ACT-5.gap")], actor="test")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.ACCEPTED


# --- queries do not grow with the recordings --------------------------------------------

RULES = ["ACT-5.gap", "ACT-5.sequence_hole", "ACT-5.encoder", "ACT-5.creation_time",
         SAME_BYTES_RULE, "ACT-6.after_departure", "ACT-6.not_issued",
         "ACT-6.outside_activity", "ING-2.late_upload"]


def plant(ns, n):
    """One breach of every rule, on a new device, activity and blob pair."""
    device = f.DeviceFactory(unit=ns.field, model="DSJ-A9")
    day = ns.day - timedelta(days=n)
    activity = f.ActivityFactory(unit=ns.field, arrived_at=local(day, 10),
                                 departed_at=local(day, 11))
    issue = DeviceIssue.objects.create(device=device, holder=ns.officer, holder_unit=ns.field,
                                       issued_at=local(day, 9), returned_at=local(day, 12))

    def make(start, seconds=60, **kwargs):
        values = dict(device=device, activity=activity, issue=issue, started_at=start,
                      ended_at=start + timedelta(seconds=seconds), device_start=start,
                      holder=ns.officer, attribution=Attribution.ATTRIBUTED, queue_reason="",
                      encoder="Ambarella A9", ingested_at=start + timedelta(hours=1))
        values.update(kwargs)
        return f.RecordingFactory(**values)

    first = make(local(day, 10, 1), sequence=1)
    make(local(day, 10, 5), sequence=3, encoder="Lavf58",  # gap, hole, encoder
         creation_time=local(day, 10, 30), ingested_at=local(day + timedelta(days=3), 9))
    for i in range(4):
        make(local(day, 10, 7) + timedelta(seconds=61 * i), sequence=4 + i)
    make(local(day, 11, 30), sequence=8)  # after departure
    make(local(day, 13), sequence=9, activity=None, issue=None,  # after return
         attribution=Attribution.NO_ACTIVITY)
    other = f.DeviceFactory(unit=ns.field, model="OTHER")
    DeviceIssue.objects.create(device=other, holder=ns.officer, holder_unit=ns.field,
                               issued_at=local(day, 9))
    make(first.started_at, device=other, blob=first.blob, encoder="")  # same bytes
    segments.recompute(activity.pk, device.pk)


def test_evaluation_queries_do_not_grow_with_the_number_of_recordings(world):
    ns = world()
    plant(ns, 10)
    ctx = Context(agency=ns.agency, now=timezone.now())

    def measure():
        out = {}
        for rule_id in RULES:
            with CaptureQueriesContext(connection) as queries:
                matches = engine.evaluate(get(rule_id), ctx)
            out[rule_id] = (len(queries), len(matches))
        return out

    small = measure()
    assert all(n >= 1 for _q, n in small.values()), small  # every rule finds its breach
    for n in range(11, 15):
        plant(ns, n)
    large = measure()
    for rule_id in RULES:
        assert large[rule_id][0] == small[rule_id][0], rule_id
        assert large[rule_id][1] > small[rule_id][1], rule_id
