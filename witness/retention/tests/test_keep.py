"""RET-1: each recording's keep-until — from the profile version in force when it was
recorded (A15: 24 months; B21: 12), extended by its case, a hold, an open finding or request —
recomputed set-based and never shortened automatically; every change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.findings.services import raise_finding
from witness.profiles import services as profiles
from witness.retention import holds, keep
from witness.retention.models import RecordingRetention, RetentionChange
from witness.retention.tests.conftest import OLD

pytestmark = pytest.mark.django_db


def keep_until(rec):
    return RecordingRetention.objects.get(recording=rec).keep_until


def test_RET1_profile_A_keeps_24_months_from_the_recording(world):
    rec = world.recording()
    keep.recompute(actor="test")
    assert keep_until(rec) == OLD.replace(year=OLD.year + 2)
    row = RecordingRetention.objects.get(recording=rec)
    assert row.basis == "profile" and row.profile_version.name == "lushan-2019"


def test_RET1_profile_B_keeps_12_months_from_the_recording(world_b):
    rec = world_b.recording()
    keep.recompute(actor="test")
    assert keep_until(rec) == OLD.replace(year=OLD.year + 1)


def test_RET1_the_version_in_force_when_recorded_decides(world):
    """A recording made after the agency switched to B keeps 12 months; one made before
    still keeps A's 24."""
    switch = (timezone.now() - timedelta(days=30)).replace(microsecond=0)
    profiles.apply(world.agency, "full-process-b", effective_from=switch, actor="test")
    before = world.recording()
    later = switch + timedelta(days=1)
    after = world.recording(started_at=later)
    keep.recompute(actor="test")
    assert keep_until(before) == OLD.replace(year=OLD.year + 2)
    assert keep_until(after) == later.replace(year=later.year + 1)
    assert RecordingRetention.objects.get(recording=after).profile_version.name == \
        "full-process-b"


def test_RET1_a_closed_case_extends_to_its_retention_class(world):
    rec = world.recording(world.act)
    closed = OLD + timedelta(days=40)
    world.case.status, world.case.closed_at = "closed", closed
    world.case.save()
    keep.recompute(actor="test")
    assert keep_until(rec) == closed.replace(year=closed.year + 10)
    assert RecordingRetention.objects.get(recording=rec).basis == "case"


def test_RET1_an_open_case_a_hold_and_an_open_finding_keep_an_expired_recording(world):
    in_case = world.recording(world.act)  # the case is open
    held = world.recording(world.loose)
    found = world.recording()
    free = world.recording()
    keep.recompute(actor="test")
    assert set(keep.expired(world.agency)) == {held, found, free}
    holds.propose(world.subject(world.officer), world.loose, "dispute", "当事人有异议")
    raise_finding("TEST-1", found, {}, actor="test")
    assert set(keep.expired(world.agency)) == {free}
    assert keep.reasons_for(in_case) == ["case"]
    assert keep.reasons_for(held) == ["hold"]
    assert keep.reasons_for(found) == ["finding"]


def test_RET1_never_shortened_by_a_recomputation(world):
    rec = world.recording(world.act)
    world.case.status, world.case.closed_at = "closed", OLD + timedelta(days=1)
    world.case.save()
    keep.recompute(actor="test")
    long = keep_until(rec)
    # the case link goes away (the recording moved to an activity outside any case)
    rec.activity = world.loose
    rec.save()
    keep.recompute(actor="test")
    assert keep_until(rec) == long
    # and a shorter profile from the start does not shorten it either
    assert long > OLD.replace(year=OLD.year + 2)


def test_RET1_every_extension_is_recorded_and_the_run_audited(world):
    recs = [world.recording() for _ in range(3)]
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    run = keep.recompute(actor="test")
    assert run.changed == 3
    assert RetentionChange.objects.filter(run=run).count() == 3
    change = RetentionChange.objects.get(run=run, recording=recs[0])
    assert change.old_keep_until is None and change.new_keep_until == keep_until(recs[0])
    entry = AuditEntry.objects.get(id__gt=since, action="retention.recompute")
    assert entry.details["extended"] == 3
    again = keep.recompute(actor="test")
    assert again.changed == 0 and not RetentionChange.objects.filter(run=again).exists()


def test_RET1_recompute_is_set_based(world, django_assert_max_num_queries):
    """The number of statements does not grow with the number of recordings."""
    for _ in range(3):
        world.recording()
    keep.recompute(actor="test")
    with django_assert_max_num_queries(40) as few:
        keep.recompute(actor="test")
    for _ in range(12):
        world.recording()
    with django_assert_max_num_queries(len(few.captured_queries)):
        keep.recompute(actor="test")
