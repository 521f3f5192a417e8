"""The activity rules (issue 6 item 1): ACT-1 not recorded, ACT-3 coverage, ACT-2 officers,
recorder and photos, ACT-4 work records — each under both builtin profiles where they differ,
run through the engine and checked on the findings it writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from witness.activities import work_records
from witness.activities.models import EvidenceItem, WorkRecord
from witness.audit.models import AuditEntry
from witness.compliance import engine
from witness.compliance.rules import Context, get
from witness.core.errors import Refused, WitnessError
from witness.findings.models import Finding, FindingStatus
from witness.testing import factories as f

A, B = "lushan-2019", "full-process-b"
MUST = {A: "on_site_enforcement", B: "routine_inspection"}
PROFILES = pytest.mark.parametrize("profile", [A, B])


class World:
    pass


@pytest.fixture
def world(make_agency):
    def build(profile=A):
        ns = make_agency(profile)
        w = World()
        w.profile, w.ns, w.agency, w.field = profile, ns, ns.agency, ns.field
        w.officers = [f.PersonFactory(unit=ns.field, roles=["officer"]) for _ in range(3)]
        w.device = f.DeviceFactory(unit=ns.field)
        w.device2 = f.DeviceFactory(unit=ns.field)
        # three days ago: the time to hand the recordings over (ING-2) has passed
        w.arrived = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
        return w

    return build


def activity(w, *, officers=None, recorder=0, minutes=60, arrived=None, type=None,
             evidence=()):
    """An activity of ``w``'s field unit; ``officers``: how many (default: the profile
    minimum); ``recorder``: index of the designated recorder, or None."""
    arrived = arrived or w.arrived
    act = f.ActivityFactory(unit=w.field, activity_type=type or MUST[w.profile],
                            arrived_at=arrived, departed_at=arrived + timedelta(minutes=minutes))
    n = (2 if w.profile == B else 1) if officers is None else officers
    for i, person in enumerate(w.officers[:n]):
        f.ActivityOfficerFactory(activity=act, person=person, is_recorder=(i == recorder))
    for text in evidence:
        EvidenceItem.objects.create(activity=act, description=text)
    return act


def recording(w, act, start_min=0, end_min=None, *, kind="video", device=None, timed=True):
    """A recording of ``act`` from ``start_min`` to ``end_min`` minutes after its arrival."""
    end_min = (act.departed_at - act.arrived_at).total_seconds() / 60 if end_min is None \
        else end_min
    start = act.arrived_at + timedelta(minutes=start_min)
    return f.RecordingFactory(device=device or w.device, activity=act, kind=kind,
                              attribution="attributed", queue_reason="",
                              started_at=start if timed else None,
                              ended_at=act.arrived_at + timedelta(minutes=end_min)
                              if timed else None)


def check(w, rule_id, **kwargs):
    engine.run(w.agency, rules=[get(rule_id)], **kwargs)
    return list(Finding.objects.filter(rule_id=rule_id).order_by("object_id", "key"))


def shown(findings):
    return [(x.rule_id, x.content_type.model, x.object_id, x.key, x.unit_id, x.responsible_id)
            for x in findings]


# -- ACT-1.not_recorded ---------------------------------------------------------------------

@PROFILES
def test_ACT1_must_record_activity_without_recording_is_a_finding(world, profile):
    w = world(profile)
    act = activity(w)
    found = check(w, "ACT-1.not_recorded")
    assert shown(found) == [("ACT-1.not_recorded", "activity", act.pk, "", w.field.pk,
                             w.officers[0].pk)]
    assert found[0].occurred_at == act.arrived_at
    assert found[0].details["requirement"] == "ACT-1"
    assert found[0].severity == "serious"


@PROFILES
def test_ACT1_no_recorder_means_nobody_responsible(world, profile):
    w = world(profile)
    act = activity(w, recorder=None)
    assert shown(check(w, "ACT-1.not_recorded")) == [
        ("ACT-1.not_recorded", "activity", act.pk, "", w.field.pk, None)]


@PROFILES
def test_ACT1_recorded_activity_is_no_finding(world, profile):
    w = world(profile)
    video, audio = activity(w), activity(w)
    recording(w, video, 0, 5)  # any length: coverage is ACT-3
    recording(w, audio, 0, 60, kind="audio")
    assert check(w, "ACT-1.not_recorded") == []


@PROFILES
def test_ACT1_photos_alone_do_not_count(world, profile):
    w = world(profile)
    act = activity(w)
    recording(w, act, 1, 1, kind="photo")
    assert [x.object_id for x in check(w, "ACT-1.not_recorded")] == [act.pk]


@PROFILES
def test_ACT1_not_decided_before_the_upload_time_has_passed(world, profile):
    w = world(profile)
    recent = activity(w, arrived=timezone.now() - timedelta(hours=2))
    away = activity(w, arrived=w.arrived)
    away.continuous, away.returned_to_unit_at = True, timezone.now() - timedelta(hours=1)
    away.save()
    old = activity(w)
    assert [x.object_id for x in check(w, "ACT-1.not_recorded")] == [old.pk]
    assert recent.pk and away.pk


def test_ACT1_A_exemption_counts_only_once_the_principal_leader_reviewed_it(world):
    w = world(A)
    act = activity(w)
    record = work_records.file_work_record(act, kind="exemption", reason="privacy",
                                           basis="涉及个人隐私", written_by=w.officers[0],
                                           actor="test")
    assert [x.object_id for x in check(w, "ACT-1.not_recorded")] == [act.pk]
    work_records.review_work_record(record, reviewed_by=w.ns.people["leader"], actor="test")
    found = check(w, "ACT-1.not_recorded")
    assert [(x.object_id, x.status) for x in found] == [(act.pk, FindingStatus.RESOLVED)]


def test_ACT1_B_exemption_counts_once_filed(world):
    w = world(B)
    act, other = activity(w), activity(w)
    work_records.file_work_record(act, kind="exemption", reason="objective",
                                  basis="现场无法录制", written_by=w.officers[1], actor="test")
    assert [x.object_id for x in check(w, "ACT-1.not_recorded")] == [other.pk]


@PROFILES
def test_ACT1_a_stop_record_does_not_excuse_no_recording(world, profile):
    w = world(profile)
    act = activity(w)
    record = work_records.file_work_record(act, kind="stop", reason="device_failure",
                                           basis="设备故障", written_by=w.officers[0],
                                           actor="test")
    if profile == A:
        work_records.review_work_record(record, reviewed_by=w.ns.people["leader"], actor="t")
    assert [x.object_id for x in check(w, "ACT-1.not_recorded")] == [act.pk]


# -- ACT-3.coverage -------------------------------------------------------------------------

@PROFILES
def test_ACT3_uncovered_time_above_tolerance_is_a_finding(world, profile):
    w = world(profile)
    act = activity(w)
    # two devices, overlapping and nested: covered 0-30 and 40-60, uncovered 10 minutes
    recording(w, act, 0, 30)
    recording(w, act, 5, 10, device=w.device2)
    recording(w, act, 10, 20, device=w.device2)
    recording(w, act, 40, 70)  # runs past the departure: clipped
    found = check(w, "ACT-3.coverage")
    assert shown(found) == [("ACT-3.coverage", "activity", act.pk, "", w.field.pk,
                             w.officers[0].pk)]
    details = found[0].details
    assert details["uncovered_seconds"] == 600
    assert details["covered_percent"] == pytest.approx(83.3)
    assert details["articles"] == "A8, B14"


@PROFILES
def test_ACT3_late_start_and_early_end_are_uncovered(world, profile):
    w = world(profile)
    act = activity(w)
    recording(w, act, -10, -5)  # before the arrival: covers nothing
    recording(w, act, 2, 57)
    found = check(w, "ACT-3.coverage")
    assert [(x.object_id, x.details["uncovered_seconds"]) for x in found] == [(act.pk, 300)]


@PROFILES
def test_ACT3_full_coverage_by_several_devices_is_no_finding(world, profile):
    w = world(profile)
    act = activity(w)
    recording(w, act, -5, 31)
    recording(w, act, 30, 65, device=w.device2)
    recording(w, act, 20, 25)
    assert check(w, "ACT-3.coverage") == []


@PROFILES
def test_ACT3_uncovered_time_within_tolerance_is_no_finding(world, profile):
    w = world(profile)
    within, above = activity(w), activity(w)
    recording(w, within, 0, 29)
    recording(w, within, 30, 60, device=w.device2)  # exactly 60 s uncovered: the tolerance
    recording(w, above, 0, 29)
    recording(w, above, 30, 59.95)  # 63 s uncovered
    found = check(w, "ACT-3.coverage")
    assert [(x.object_id, x.details["uncovered_seconds"]) for x in found] == [(above.pk, 63)]


@PROFILES
def test_ACT3_untimed_recordings_and_photos_are_left_out(world, profile):
    w = world(profile)
    untimed, photos = activity(w), activity(w)
    recording(w, untimed, timed=False)
    recording(w, photos, 0, 60, kind="photo")
    recording(w, photos, 0, 30)
    found = check(w, "ACT-3.coverage")
    assert [(x.object_id, x.details["uncovered_seconds"]) for x in found] == [(photos.pk, 1800)]


# -- ACT-2 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("profile, officers, finding", [
    (A, 0, True), (A, 1, False), (B, 1, True), (B, 2, False)])
def test_ACT2_fewer_officers_than_the_profile_minimum(world, profile, officers, finding):
    w = world(profile)
    act = activity(w, officers=officers)
    found = check(w, "ACT-2.too_few_officers")
    recorder = w.officers[0].pk if officers else None
    assert shown(found) == ([("ACT-2.too_few_officers", "activity", act.pk, "", w.field.pk,
                              recorder)] if finding else [])
    if finding:
        assert found[0].details["officers"] == officers
        assert found[0].details["minimum"] == (2 if profile == B else 1)


@pytest.mark.parametrize("profile, recorder, finding", [
    (B, None, True), (B, 1, False), (A, None, False), (A, 0, False)])
def test_ACT2_no_designated_recorder_where_the_profile_asks_for_one(world, profile, recorder,
                                                                    finding):
    w = world(profile)
    act = activity(w, recorder=recorder)
    assert shown(check(w, "ACT-2.no_recorder")) == (
        [("ACT-2.no_recorder", "activity", act.pk, "", w.field.pk, None)] if finding else [])


@PROFILES
def test_ACT2_key_evidence_without_photos_is_a_finding(world, profile):
    w = world(profile)
    bare = activity(w, evidence=["过期食品", "进货单据"])
    video_only = activity(w, evidence=["过期食品"])
    recording(w, video_only, 0, 60)
    assert shown(check(w, "ACT-2.no_evidence_photos")) == [
        ("ACT-2.no_evidence_photos", "activity", bare.pk, "", w.field.pk, w.officers[0].pk),
        ("ACT-2.no_evidence_photos", "activity", video_only.pk, "", w.field.pk,
         w.officers[0].pk)]
    assert Finding.objects.get(object_id=bare.pk).details["evidence_items"] == 2


@PROFILES
def test_ACT2_photographed_or_no_evidence_listed_is_no_finding(world, profile):
    w = world(profile)
    shot = activity(w, evidence=["过期食品"])
    recording(w, shot, 10, 10, kind="photo")
    activity(w)  # nothing listed
    assert check(w, "ACT-2.no_evidence_photos") == []


# -- ACT-4 ----------------------------------------------------------------------------------

def _record(w, act, *, days_ago, kind="stop", reason="weather"):
    record = work_records.file_work_record(act, kind=kind, reason=reason, basis="暴雨",
                                           written_by=w.officers[0], actor="test")
    WorkRecord.objects.filter(pk=record.pk).update(
        written_at=timezone.now() - timedelta(days=days_ago))
    return record


def test_ACT4_A_work_record_unreviewed_after_7_days_is_a_finding(world):
    w = world(A)
    act = activity(w)
    late = _record(w, act, days_ago=8)
    _record(w, act, days_ago=2)  # still within 7 days
    reviewed = _record(w, act, days_ago=9)
    work_records.review_work_record(reviewed, reviewed_by=w.ns.people["leader"], actor="t")
    assert shown(check(w, "ACT-4.unreviewed")) == [
        ("ACT-4.unreviewed", "workrecord", late.pk, "", w.field.pk, w.officers[0].pk)]


def test_ACT4_B_asks_for_no_review(world):
    w = world(B)
    _record(w, activity(w), days_ago=30)
    assert check(w, "ACT-4.unreviewed") == []


def test_ACT4_review_resolves_the_finding(world):
    w = world(A)
    late = _record(w, activity(w), days_ago=8)
    assert len(check(w, "ACT-4.unreviewed")) == 1
    work_records.review_work_record(late, reviewed_by=w.ns.people["leader"], actor="t")
    assert [x.status for x in check(w, "ACT-4.unreviewed")] == [FindingStatus.RESOLVED]


def test_ACT4_filing_and_review_are_audited_and_checked(world):
    w = world(A)
    act = activity(w)
    stranger = f.PersonFactory(unit=w.field, roles=["officer"])
    with pytest.raises(Refused):  # not an officer of the activity
        work_records.file_work_record(act, kind="stop", reason="weather", basis="暴雨",
                                      written_by=stranger, actor="test")
    with pytest.raises(WitnessError):  # a stop cannot give privacy as its reason (A12, B7)
        work_records.file_work_record(act, kind="stop", reason="privacy", basis="隐私",
                                      written_by=w.officers[0], actor="test")
    with pytest.raises(WitnessError):
        work_records.file_work_record(act, kind="exemption", reason="privacy", basis=" ",
                                      written_by=w.officers[0], actor="test")
    record = work_records.file_work_record(act, kind="exemption", reason="privacy",
                                           basis="涉及个人隐私", written_by=w.officers[0],
                                           actor="test")
    filed = AuditEntry.objects.get(action="activity.work_record.file")
    assert filed.object_id == str(record.pk) and filed.details["kind"] == "exemption"
    another_leader = f.PersonFactory(unit=w.ns.office, roles=["leader"])
    for wrong in (another_leader, w.ns.people["unit_head"], w.officers[0]):
        with pytest.raises(Refused):
            work_records.review_work_record(record, reviewed_by=wrong, actor="test")
    work_records.review_work_record(record, reviewed_by=w.ns.people["leader"], note="同意",
                                    actor="test")
    record.refresh_from_db()
    assert record.reviewed_by == w.ns.people["leader"] and record.review_note == "同意"
    assert AuditEntry.objects.filter(action="activity.work_record.review",
                                     object_id=str(record.pk)).count() == 1
    with pytest.raises(Refused):  # once only
        work_records.review_work_record(record, reviewed_by=w.ns.people["leader"], actor="t")


def test_ACT4_B_review_is_refused_as_not_asked_for(world):
    w = world(B)
    record = _record(w, activity(w), days_ago=1)
    with pytest.raises(Refused):
        work_records.review_work_record(record, reviewed_by=w.ns.people["leader"], actor="t")


def test_ACT4_unit_head_profile_needs_the_head_of_the_activity_unit(make_agency, settings,
                                                                    tmp_path):
    from witness.profiles.services import BUILTIN_DIR
    text = (BUILTIN_DIR / f"{A}.toml").read_text(encoding="utf-8")
    text = text.replace('name = "lushan-2019"', 'name = "heads"').replace(
        'work_record_review = "principal_leader"', 'work_record_review = "unit_head"')
    settings.WITNESS_PROFILE_DIR = str(tmp_path)
    (tmp_path / "heads.toml").write_text(text, encoding="utf-8")
    ns = make_agency("heads")
    officer = f.PersonFactory(unit=ns.field, roles=["officer"])
    act = f.ActivityFactory(unit=ns.field, arrived_at=timezone.now() - timedelta(days=3))
    f.ActivityOfficerFactory(activity=act, person=officer, is_recorder=True)
    record = work_records.file_work_record(act, kind="exemption", reason="state_secret",
                                           basis="涉密", written_by=officer, actor="t")
    other_head = f.PersonFactory(unit=ns.field2, roles=["unit_head"])
    for wrong in (ns.people["leader"], other_head):
        with pytest.raises(Refused):
            work_records.review_work_record(record, reviewed_by=wrong, actor="t")
    engine.run(ns.agency, rules=[get("ACT-1.not_recorded")])
    assert Finding.objects.get(rule_id="ACT-1.not_recorded").object_id == act.pk
    work_records.review_work_record(record, reviewed_by=ns.people["unit_head"], actor="t")
    engine.run(ns.agency, rules=[get("ACT-1.not_recorded")])
    assert Finding.objects.get(rule_id="ACT-1.not_recorded").status == FindingStatus.RESOLVED


# -- incremental checks, and no loop per activity ---------------------------------------------

def test_ACT1_incremental_check_decides_only_the_given_activities_and_resolves(world):
    w = world(B)
    first, second = activity(w), activity(w)
    assert [x.object_id for x in check(w, "ACT-1.not_recorded",
                                       activity_ids=[first.pk])] == [first.pk]
    assert [x.object_id for x in check(w, "ACT-1.not_recorded")] == [first.pk, second.pk]
    recording(w, first, 0, 60)
    recording(w, second, 0, 60)
    found = check(w, "ACT-1.not_recorded", activity_ids=[first.pk])
    assert [(x.object_id, x.status) for x in found] == [
        (first.pk, FindingStatus.RESOLVED), (second.pk, FindingStatus.OPEN)]
    resolved = AuditEntry.objects.get(action="finding.resolve")
    assert resolved.details["rule_id"] == "ACT-1.not_recorded"


def _context(w):
    return Context(agency=w.agency, now=timezone.now())


RULES = ["ACT-1.not_recorded", "ACT-3.coverage", "ACT-2.too_few_officers",
         "ACT-2.no_recorder", "ACT-2.no_evidence_photos", "ACT-4.unreviewed"]


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_queries_do_not_grow_with_the_activities(world, rule_id,
                                                      django_assert_max_num_queries):
    w = world(A if rule_id == "ACT-4.unreviewed" else B)  # A asks for reviews, B for two
    rule = get(rule_id)

    def make(n):
        for i in range(n):
            act = activity(w, officers=1, recorder=None, evidence=["证据"])
            if i % 3:  # a third not recorded at all (ACT-1), the others with gaps (ACT-3)
                recording(w, act, 0, 20 + i % 7)
                recording(w, act, 30, 50, device=w.device2)
            _record(w, act, days_ago=8)

    make(3)
    with django_assert_max_num_queries(4):
        three = engine.evaluate(rule, _context(w))
    make(27)
    with django_assert_max_num_queries(4):
        thirty = engine.evaluate(rule, _context(w))
    assert len(thirty) == 10 * len(three) > 0
