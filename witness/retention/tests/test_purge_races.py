"""RET-1: the purge loses nothing when things happen while it runs — a hold proposed mid-run,
two recordings with the same bytes, a second run of the same batch, a run that crashes and
is resumed, an original kept for another recording — and loads each item's rows once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.confidentiality import removal
from witness.core.errors import Refused
from witness.derivatives.models import Derivative, Kind, Status
from witness.findings.models import Finding
from witness.retention import holds, keep, purge
from witness.retention.models import BatchState, ItemResult, PurgeBatch
from witness.retention.tests.conftest import OLD, store
from witness.storage import replica
from witness.storage.config import get_backend, get_replica
from witness.storage.models import Blob
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def present(blob):
    return get_backend().exists(blob.key), get_replica().exists(blob.key)


def approved(world, recs):
    keep.recompute(actor="test")
    batch = purge.propose(world.subject(world.custodian), [r.pk for r in recs]).batch
    purge.decide(world.subject(world.leader), batch, approve=True)
    return batch


def twin(world, rec, activity=None):
    """A second recording of the same bytes (ACT-5: two devices), with its own playback."""
    other = f.RecordingFactory(blob=rec.blob, device=f.DeviceFactory(unit=world.ns.field),
                               activity=activity, holder=world.officer, started_at=OLD)
    copy = store(world.tmp, f"play-twin-{other.pk}.mp4")
    Derivative.objects.create(recording=other, kind=Kind.PLAYBACK, blob=copy,
                              status=Status.DONE)
    replica.replicate(copy, actor="test")
    return other


def on_removal(monkeypatch, when, then):
    """Run ``then()`` once, right after the real removal of the first object ``when`` picks."""
    real, fired = removal.remove_object, []

    def remove(target):
        out = real(target)
        if not fired and when(target):
            fired.append(target)
            then()
        return out

    monkeypatch.setattr(removal, "remove_object", remove)
    return fired


def original_of(rec):
    return lambda t: t.copy == removal.ORIGINAL and t.sha256 == rec.blob.sha256


def test_RET1_a_hold_proposed_while_the_purge_runs_saves_the_items_still_waiting(
        world, monkeypatch):
    first = world.recording()
    waiting = world.recording(world.loose, playback=True)
    batch = approved(world, [first, waiting])

    def complaint():
        holds.register_complaint(world.subject(world.p["legal"]), world.loose,
                                 kind="complaint", complainant="王某",
                                 received_at=timezone.now(), summary="对检查不服")

    fired = on_removal(monkeypatch, original_of(first), complaint)
    purge.execute(batch.pk)
    assert fired
    assert present(first.blob) == (False, False)
    assert present(waiting.blob) == (True, True)
    assert present(waiting.derivatives.get().blob) == (True, True)
    saved = batch.items.get(recording=waiting)
    assert saved.result == ItemResult.SAVED and saved.saved_because == "hold"
    assert not saved.tombstone
    assert AuditEntry.objects.filter(action="retention.purge_item", object_id=str(waiting.pk),
                                     details__result="saved").exists()
    assert Blob.objects.get(pk=waiting.blob_id).removed_at is None


def test_RET1_two_recordings_of_the_same_bytes_in_one_batch_are_both_purged(world):
    a = world.recording(playback=True)
    b = twin(world, a)
    batch = approved(world, [a, b])
    purge.execute(batch.pk)
    items = {i.recording_id: i for i in batch.items.all()}
    assert {i.result for i in items.values()} == {ItemResult.PURGED}
    assert not Finding.objects.filter(rule_id=purge.MISSING_RULE).exists()
    assert present(a.blob) == (False, False)
    for rec in (a, b):
        assert present(rec.derivatives.get().blob) == (False, False)
    tomb = items[b.pk].tombstone
    assert tomb["same_bytes_as"] == [a.pk] and tomb["content_kept_for"] == []
    assert {o["copy"] for o in tomb["objects"]} >= {"primary", "derivative"}
    assert Blob.objects.get(pk=a.blob_id).removed_at is not None


def test_RET1_a_second_run_while_the_first_holds_the_batch_is_refused(world, monkeypatch):
    recs = [world.recording(), world.recording()]
    batch = approved(world, recs)
    refusals = []

    def again():
        with pytest.raises(Refused) as exc:
            purge.execute(batch.pk)
        refusals.append(exc.value)

    on_removal(monkeypatch, original_of(recs[0]), again)
    purge.execute(batch.pk)
    assert refusals and refusals[0].code == "purge_running"
    assert "正在" in refusals[0].zh and "another run" in refusals[0].en
    results = list(batch.items.order_by("pk").values_list("result", "tombstone"))
    assert [r for r, _t in results] == [ItemResult.PURGED, ItemResult.PURGED]
    assert not Finding.objects.filter(rule_id=purge.MISSING_RULE).exists()
    with pytest.raises(Refused):  # executed: a third run changes nothing
        purge.execute(batch.pk)
    assert list(batch.items.order_by("pk").values_list("result", "tombstone")) == results
    batch.refresh_from_db()
    assert batch.state == BatchState.EXECUTED and not batch.lease_owner


def test_RET1_a_lease_of_another_run_refuses_until_it_lapses(world):
    rec = world.recording()
    batch = approved(world, [rec])
    PurgeBatch.objects.filter(pk=batch.pk).update(
        state=BatchState.EXECUTING, lease_owner="crashed-run",
        lease_until=timezone.now() + timedelta(minutes=5))
    with pytest.raises(Refused, match="another run"):
        purge.execute(batch.pk)
    assert present(rec.blob) == (True, True)
    PurgeBatch.objects.filter(pk=batch.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1))
    purge.execute(batch.pk)
    assert batch.items.get().result == ItemResult.PURGED


def test_RET1_a_run_that_crashed_after_removing_the_original_is_resumed(world, monkeypatch):
    rec = world.recording(playback=True)
    other = world.recording()
    batch = approved(world, [rec, other])

    def crash():
        raise RuntimeError("power cut")

    on_removal(monkeypatch, original_of(rec), crash)
    with pytest.raises(RuntimeError):
        purge.execute(batch.pk)
    item = batch.items.get(recording=rec)
    assert item.result == ItemResult.REMOVING and item.planned["objects"]
    assert not get_backend().exists(rec.blob.key)
    batch.refresh_from_db()
    assert batch.state == BatchState.EXECUTING and not batch.lease_owner
    monkeypatch.undo()
    purge.execute(batch.pk)
    item.refresh_from_db()
    assert item.result == ItemResult.PURGED
    assert item.tombstone["digests"] == {"sha256": rec.blob.sha256}
    original = [o for o in item.tombstone["objects"] if o["copy"] == "primary"]
    assert [o["result"] for o in original] == [removal.ABSENT]
    assert not Finding.objects.filter(rule_id=purge.MISSING_RULE).exists()
    assert Blob.objects.get(pk=rec.blob_id).removed_at is not None
    assert present(rec.derivatives.get().blob) == (False, False)
    assert batch.items.get(recording=other).result == ItemResult.PURGED


def test_RET1_an_original_kept_for_another_recording_is_said_so_and_not_proposed_again(world):
    a = world.recording()
    c = twin(world, a)
    hold = holds.propose(world.subject(world.officer), c, "major", "重大事项")  # kept
    batch = approved(world, [a])
    purge.execute(batch.pk)
    item = batch.items.get()
    assert item.result == ItemResult.PURGED
    assert item.tombstone["content_kept_for"] == [c.pk]
    assert str(c.pk) in item.tombstone["content"] and "kept" in item.tombstone["content"]
    assert present(a.blob) == (True, True)
    keep.recompute(actor="test")
    assert a.pk not in [p["recording"] for p in purge.plan(world.agency)]
    with pytest.raises(Refused):
        purge.propose(world.subject(world.custodian), [a.pk])
    # the hold is rejected: c expires; its purge takes the original (a is taken already)
    holds.decide(world.subject(world.leader), hold, approve=False, note="无需长期保存")
    later = approved(world, [c])
    purge.execute(later.pk)
    assert later.items.get().result == ItemResult.PURGED
    assert later.items.get().tombstone["content_kept_for"] == []
    assert present(a.blob) == (False, False)


def _queries_for(world, n):
    batch = approved(world, [world.recording(world.loose, playback=True) for _ in range(n)])
    with CaptureQueriesContext(connection) as ctx:
        purge.execute(batch.pk)
    assert set(batch.items.values_list("result", flat=True)) == {ItemResult.PURGED}
    return [q["sql"] for q in ctx.captured_queries]


def test_RET1_a_batch_loads_each_items_rows_once(world):
    from witness.activities.models import Activity
    from witness.devices.models import Device

    two, five = _queries_for(world, 2), _queries_for(world, 5)
    per_item = (len(five) - len(two)) / 3
    assert per_item == int(per_item) and per_item <= 30, (len(two), len(five))
    for model in (Blob, Device, Activity):
        table = model._meta.db_table
        by_pk = re.compile(rf'FROM "{table}" WHERE "{table}"\."id" = ')
        assert not [q for q in five if by_pk.search(q)], table


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_RET1_a_hold_proposal_waits_for_the_claim_of_an_item_it_would_keep(world):
    """The purge's claim and a hold proposal take the same row locks (PostgreSQL)."""
    import threading

    from django.db import connections, transaction

    from witness.retention.execution import _lock
    from witness.retention.models import Hold

    rec = world.recording(world.loose)
    batch = approved(world, [rec])
    officer = world.subject(world.officer)
    done = threading.Event()

    def propose():
        try:
            holds.propose(officer, world.loose, "dispute", "异议")
        finally:
            connections.close_all()
            done.set()

    with transaction.atomic():
        _lock(batch.items.get())
        thread = threading.Thread(target=propose)
        thread.start()
        assert not done.wait(1.0), "the hold did not wait for the claim's lock"
    assert done.wait(10.0)
    thread.join()
    assert Hold.objects.filter(activity=world.loose).exists()
