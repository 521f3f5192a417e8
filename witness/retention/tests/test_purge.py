"""RET-1 purge: plan → proposal (custodian) → approval (the approver the profile names, not
the proposer) → the task removes original, replica and playback copy; a tombstone remains.
Refused without approval; re-checked at approval and execution; a missing original raises a
finding and is not counted as purged."""

from __future__ import annotations

import pytest

from witness.access.authz import Denied
from witness.audit.models import AuditEntry
from witness.core.errors import Refused, WitnessError
from witness.findings.models import Finding
from witness.retention import holds, keep, purge
from witness.retention.models import BatchState, ItemResult, PurgeBatch
from witness.retention.tasks import execute_purge
from witness.storage.config import get_backend, get_replica
from witness.storage.models import Blob

pytestmark = pytest.mark.django_db


def present(blob):
    return get_backend().exists(blob.key), get_replica().exists(blob.key)


def proposed(world, recs):
    keep.recompute(actor="test")
    return purge.propose(world.subject(world.custodian), [r.pk for r in recs],
                         note="到期清除").batch


def test_RET1_plan_lists_what_expired_and_why(world):
    old = world.recording()
    world.recording(world.act)  # in an open case: kept
    keep.recompute(actor="test")
    plan = purge.plan(world.agency)
    assert [p["recording"] for p in plan] == [old.pk]
    assert plan[0]["basis"] == "profile" and plan[0]["profile"].startswith("lushan-2019")


def test_RET1_purge_end_to_end_removes_every_copy_and_leaves_a_tombstone(world):
    gone = world.recording(playback=True)
    stays = world.recording(world.act, playback=True)  # kept: open case
    batch = proposed(world, [gone])
    play = gone.derivatives.get().blob
    assert present(gone.blob) == (True, True) and present(play) == (True, True)
    with pytest.raises(Refused):  # not approved yet
        purge.execute(batch.pk)
    assert present(gone.blob) == (True, True)
    purge.decide(world.subject(world.leader), batch, approve=True, note="同意")
    execute_purge.call(batch.pk)
    batch.refresh_from_db()
    assert batch.state == BatchState.EXECUTED
    assert present(gone.blob) == (False, False) and present(play) == (False, False)
    assert present(stays.blob) == (True, True)
    assert present(stays.derivatives.get().blob) == (True, True)
    item = batch.items.get()
    assert item.result == ItemResult.PURGED
    tomb = item.tombstone
    assert tomb["digests"] == {"sha256": gone.blob.sha256} and tomb["size"] == gone.blob.size
    assert tomb["proposed_by"] == world.custodian.name
    assert tomb["approved_by"] == world.leader.name
    assert tomb["started_at"] and tomb["keep_until"] and tomb["purged_at"]
    assert {o["copy"] for o in tomb["objects"]} >= {"primary", "replica", "derivative"}
    logged = {e["action"] for e in tomb["audit_entries"]}
    assert {"blob.store", "retention.propose", "retention.approve",
            "retention.purge_item"} <= logged, logged
    assert Blob.objects.get(pk=gone.blob_id).removed_at is not None
    actions = set(AuditEntry.objects.filter(object_type="retention.purgebatch",
                                            object_id=str(batch.pk))
                  .values_list("action", flat=True))
    assert {"retention.propose", "retention.approve", "retention.purge_start",
            "retention.purge"} <= actions


def test_RET1_the_proposer_cannot_approve_and_only_the_named_approver_can(world):
    rec = world.recording()
    batch = proposed(world, [rec])
    custodian = world.subject(world.custodian)
    with pytest.raises(Denied):
        purge.decide(custodian, batch, approve=True)
    with pytest.raises(Denied):
        purge.decide(world.subject(world.p["legal"]), batch, approve=True)
    # the principal leader proposing (were he allowed) could not approve his own batch
    batch.proposed_by = world.leader
    batch.save()
    with pytest.raises(Denied):
        purge.decide(world.subject(world.leader), batch, approve=True)


def test_RET1_a_hold_placed_after_the_proposal_saves_the_recording(world):
    rec = world.recording(world.loose)
    other = world.recording()
    batch = proposed(world, [rec, other])
    purge.decide(world.subject(world.leader), batch, approve=True)
    holds.propose(world.subject(world.officer), world.loose, "obstruction", "阻碍执法")
    purge.execute(batch.pk)
    assert present(rec.blob) == (True, True)
    assert present(other.blob) == (False, False)
    saved = batch.items.get(recording=rec)
    assert saved.result == ItemResult.SAVED and saved.saved_because == "hold"


def test_RET1_a_rejected_batch_deletes_nothing(world):
    rec = world.recording()
    batch = proposed(world, [rec])
    with pytest.raises(WitnessError, match="reason for rejecting"):
        purge.decide(world.subject(world.leader), batch, approve=False, note="")
    purge.decide(world.subject(world.leader), batch, approve=False, note="仍需保存")
    with pytest.raises(Refused):
        purge.execute(batch.pk)
    assert present(rec.blob) == (True, True)


def test_RET1_a_recording_not_expired_cannot_be_proposed(world):
    kept = world.recording(world.act)
    keep.recompute(actor="test")
    with pytest.raises(Refused):
        purge.propose(world.subject(world.custodian), [kept.pk])
    assert not PurgeBatch.objects.exists()


def test_RET1_a_missing_original_raises_a_finding_and_is_not_purged(world):
    rec = world.recording()
    batch = proposed(world, [rec])
    purge.decide(world.subject(world.leader), batch, approve=True)
    get_backend().path(rec.blob.key).unlink()
    purge.execute(batch.pk)
    assert batch.items.get().result == ItemResult.MISSING
    assert Finding.objects.filter(rule_id=purge.MISSING_RULE, object_id=rec.pk).exists()
    assert get_replica().exists(rec.blob.key)  # nothing deleted because a file went missing
    assert Blob.objects.get(pk=rec.blob_id).removed_at is None


def test_RET1_dry_runs_change_nothing(world):
    rec = world.recording()
    keep.recompute(actor="test")
    out = purge.propose(world.subject(world.custodian), [rec.pk], dry_run=True)
    assert out.dry_run and [i["recording"] for i in out.items] == [rec.pk]
    assert not PurgeBatch.objects.exists()
    batch = proposed(world, [rec])
    purge.decide(world.subject(world.leader), batch, approve=True, dry_run=True)
    batch.refresh_from_db()
    assert batch.state == BatchState.PROPOSED
    purge.decide(world.subject(world.leader), batch, approve=True)
    plan = purge.execute(batch.pk, dry_run=True)
    assert {o["copy"] for o in plan.items[0]["objects"]} >= {"primary", "replica"}
    assert present(rec.blob) == (True, True)
