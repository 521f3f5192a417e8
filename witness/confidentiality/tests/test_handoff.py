"""The 国家秘密 hand-off (EVD-4, issue 5 item 4): marking an item a state secret refuses
its content at once and starts a hand-off per recording; the content leaves storage only
after the export is recorded and the removal approved, the metadata stays, and the removal
completes when run again after a crash."""

from __future__ import annotations

import pytest

from witness.access import authz
from witness.access.authz import Denied
from witness.access.labels import Label
from witness.audit.models import AuditEntry
from witness.confidentiality import removal, services
from witness.confidentiality.models import HandoffState, SecretHandoff
from witness.core.errors import Refused, WitnessError
from witness.storage.config import get_backend, get_replica
from witness.storage.models import Blob, Replica
from witness.testing import factories as f

EXPORT = {"medium": "DVD-R 光盘", "medium_id": "MM-2026-017", "held_at": "局保密室 2 号柜",
          "held_by": "张保密（保密员）", "exported_at": "2026-11-30T09:30",
          "reference": "导出包 EXP-17"}


def mark(w, target, who=None):
    change = services.request_change(w.subject(who or w.p["unit_head"]), target,
                                     "state_secret", "经定密属国家秘密")
    return services.decide(w.subject(change.approver), change, approve=True)


def stored(blob) -> tuple[bool, bool]:
    primary = get_backend().exists(blob.key)
    replica = get_replica()
    return primary, replica is not None and replica.exists(blob.key)


def actions(recording) -> list[str]:
    return list(AuditEntry.objects.filter(
        object_type="recordings.recording", object_id=str(recording.pk),
        action__startswith="secret.").order_by("id").values_list("action", flat=True))


def test_EVD4_state_secret_handoff_end_to_end_removes_content_and_keeps_metadata(world):
    w = world
    blob, poster = w.rec.blob, w.derivative.blob
    assert stored(blob) == (True, True) and stored(poster) == (True, True)
    sha, size, digests = blob.sha256, blob.size, dict(blob.digests)
    change = mark(w, w.act)  # the activity: both its recordings
    w.rec.refresh_from_db()
    w.rec2.refresh_from_db()
    assert w.rec.label == w.rec2.label == Label.STATE_SECRET
    handoffs = {h.recording_id: h for h in SecretHandoff.objects.filter(label_change=change)}
    assert set(handoffs) == {w.rec.pk, w.rec2.pk}
    handoff = handoffs[w.rec.pk]
    assert handoff.state == HandoffState.MARKED

    # nobody plays or downloads it any more, with or without a grant
    for person in (w.officer, w.custodian, w.principal):
        for download in (False, True):
            with pytest.raises(Denied) as refused:
                authz.content_allowance(w.subject(person), w.rec, download=download)
            assert refused.value.code == "state_secret"

    custodian, approver = w.subject(w.custodian), w.subject(w.principal)
    services.record_export(custodian, handoff, **EXPORT)
    assert stored(blob) == (True, True)  # the export removes nothing
    services.approve_removal(approver, handoff, "已移交保密室离线保存")
    assert stored(blob) == (True, True)  # nor does the approval
    result = services.remove(custodian, handoff)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.REMOVED and handoff.removed_by == w.custodian
    assert stored(blob) == (False, False) and stored(poster) == (False, False)
    copies = {(o["copy"], o["result"]) for o in result.objects}
    assert copies == {("primary", "removed"), ("replica", "removed"),
                      ("derivative", "removed"), ("derivative_replica", "removed")}

    # the metadata stays: the recording, its blob row (digests, size), the replica row,
    # and where the content is held offline
    w.rec.refresh_from_db()
    row = Blob.objects.get(pk=blob.pk)
    assert (row.sha256, row.size, row.digests) == (sha, size, digests)
    assert Replica.objects.filter(blob=blob).exists()
    assert (handoff.medium_id, handoff.held_at, handoff.held_by) == (
        "MM-2026-017", "局保密室 2 号柜", "张保密（保密员）")
    assert services.removed_blob_ids() == {blob.pk, poster.pk}
    assert actions(w.rec) == ["secret.mark", "secret.export", "secret.approve_removal",
                              "secret.remove_start", "secret.remove"]
    entry = AuditEntry.objects.filter(action="secret.remove").latest("id")
    assert entry.details["sha256"] == sha and entry.actor_id == str(w.custodian.user.pk)
    # the other recording of the activity is untouched until its own steps are taken
    assert stored(w.rec2.blob) == (True, False)
    assert handoffs[w.rec2.pk].state == HandoffState.MARKED


def test_EVD4_steps_out_of_order_are_refused_and_nothing_is_removed(world):
    w = world
    mark(w, w.rec)
    handoff = w.rec.secret_handoffs.get()
    custodian, approver = w.subject(w.custodian), w.subject(w.principal)
    with pytest.raises(Refused) as early:
        services.remove(custodian, handoff)
    assert early.value.code == "out_of_order"
    with pytest.raises(Refused):
        services.approve_removal(approver, handoff, "先批准")
    services.record_export(custodian, handoff, **EXPORT)
    with pytest.raises(Refused):
        services.record_export(custodian, handoff, **EXPORT)  # recorded once
    with pytest.raises(Refused):
        services.remove(custodian, handoff, dry_run=True)  # not even a dry run
    with pytest.raises(Refused):
        services.remove(custodian, handoff)
    assert stored(w.rec.blob) == (True, True)
    services.approve_removal(approver, handoff, "同意移除")
    with pytest.raises(Refused):
        services.approve_removal(approver, handoff, "再批一次")
    plan = services.remove(custodian, handoff, dry_run=True)
    assert plan.dry_run and {o["copy"] for o in plan.objects} >= {"primary", "replica"}
    assert stored(w.rec.blob) == (True, True)  # a dry run removes nothing
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.REMOVAL_APPROVED


def test_EVD4_each_step_only_by_its_role(world):
    w = world
    mark(w, w.rec)
    handoff = w.rec.secret_handoffs.get()
    for person in (w.officer, w.principal, w.p["unit_head"], w.p["sysadmin"]):
        with pytest.raises(Denied):  # recording the export: custodians only
            services.record_export(w.subject(person), handoff, **EXPORT)
    services.record_export(w.subject(w.custodian), handoff, **EXPORT)
    for person in (w.custodian, w.in_charge, w.officer):
        with pytest.raises(Denied):  # approving removal: the profile's label approver
            services.approve_removal(w.subject(person), handoff, "同意")
    services.approve_removal(w.subject(w.principal), handoff, "同意")
    for person in (w.principal, w.officer, w.p["legal"]):
        with pytest.raises(Denied):  # running the removal: custodians only
            services.remove(w.subject(person), handoff)
    assert stored(w.rec.blob) == (True, True)


def test_EVD4_removal_approver_follows_the_profile(world):
    w = world
    w.use_profile_approver("leader_in_charge")
    assert mark(w, w.rec).decided_by == w.in_charge
    handoff = w.rec.secret_handoffs.get()
    services.record_export(w.subject(w.custodian), handoff, **EXPORT)
    with pytest.raises(Denied):
        services.approve_removal(w.subject(w.principal), handoff, "同意")
    services.approve_removal(w.subject(w.in_charge), handoff, "同意")


def test_EVD4_a_removal_interrupted_half_way_is_completed_by_running_it_again(world,
                                                                              monkeypatch):
    w = world
    mark(w, w.rec)
    handoff = w.rec.secret_handoffs.get()
    custodian = w.subject(w.custodian)
    services.record_export(custodian, handoff, **EXPORT)
    services.approve_removal(w.subject(w.principal), handoff, "同意")
    real = removal.remove_object
    calls = []

    def crash_after_two(target):
        if len(calls) == 2:
            raise OSError("power lost")
        calls.append(target.copy)
        return real(target)

    monkeypatch.setattr(removal, "remove_object", crash_after_two)
    with pytest.raises(OSError):
        services.remove(custodian, handoff)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.REMOVING  # committed before the first object went
    assert calls == ["derivative_replica", "derivative"]
    assert stored(w.rec.blob) == (True, True)  # the original not yet
    monkeypatch.setattr(removal, "remove_object", real)

    result = services.remove(custodian, handoff)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.REMOVED
    assert stored(w.rec.blob) == (False, False)
    assert {o["copy"]: o["result"] for o in result.objects} == {
        "derivative_replica": "absent", "derivative": "absent", "replica": "removed",
        "primary": "removed"}
    assert handoff.removed_objects == result.objects
    # once more: nothing left, nothing written
    before = AuditEntry.objects.count()
    again = services.remove(custodian, handoff)
    assert again.already and AuditEntry.objects.count() == before


def test_EVD4_removal_refused_while_the_same_bytes_serve_another_recording(world):
    w = world
    twin = f.RecordingFactory(blob=w.loose_rec.blob, device=f.DeviceFactory(unit=w.ns.field),
                              activity=w.loose, holder=w.officer)
    mark(w, w.loose_rec)
    handoff = w.loose_rec.secret_handoffs.get()
    services.record_export(w.subject(w.custodian), handoff, **EXPORT)
    services.approve_removal(w.subject(w.principal), handoff, "同意")
    with pytest.raises(Refused) as refused:
        services.remove(w.subject(w.custodian), handoff)
    assert refused.value.code == "shared_original" and str(twin.pk) in refused.value.en
    assert get_backend().exists(w.loose_rec.blob.key)


def test_EVD4_a_shared_derived_picture_is_kept_for_the_other_recording(world):
    w = world
    from witness.derivatives.models import Derivative, Kind, Status

    Derivative.objects.create(recording=w.loose_rec, kind=Kind.POSTER,
                              blob=w.derivative.blob, status=Status.DONE)
    mark(w, w.rec)
    handoff = w.rec.secret_handoffs.get()
    services.record_export(w.subject(w.custodian), handoff, **EXPORT)
    services.approve_removal(w.subject(w.principal), handoff, "同意")
    result = services.remove(w.subject(w.custodian), handoff)
    assert {o["result"] for o in result.objects if o["copy"].startswith("derivative")} == \
        {"kept_shared"}
    assert get_backend().exists(w.derivative.blob.key)
    assert not get_backend().exists(w.rec.blob.key)


def test_EVD4_a_damaged_copy_kept_aside_by_fixity_goes_too(world):
    w = world
    backend = get_backend()
    aside = backend.root / "quarantine" / f"20261130T000000-{w.rec.blob.sha256}-abcd1234"
    aside.parent.mkdir(parents=True)
    aside.write_bytes(b"damaged secret bytes")
    mark(w, w.rec)
    handoff = w.rec.secret_handoffs.get()
    services.record_export(w.subject(w.custodian), handoff, **EXPORT)
    services.approve_removal(w.subject(w.principal), handoff, "同意")
    services.remove(w.subject(w.custodian), handoff)
    assert not aside.exists()


def test_EVD4_the_export_record_is_complete(world):
    w = world
    mark(w, w.rec)
    handoff = w.rec.secret_handoffs.get()
    with pytest.raises(WitnessError) as missing:
        services.record_export(w.subject(w.custodian), handoff,
                               **{**EXPORT, "held_at": " "})
    assert missing.value.code == "export_incomplete"
    with pytest.raises(WitnessError) as bad_time:
        services.record_export(w.subject(w.custodian), handoff,
                               **{**EXPORT, "exported_at": "yesterday"})
    assert bad_time.value.code == "bad_time"
    with pytest.raises(WitnessError) as future:
        services.record_export(w.subject(w.custodian), handoff,
                               **{**EXPORT, "exported_at": "2999-01-01T00:00"})
    assert future.value.code == "future_time"
    with pytest.raises(WitnessError) as no_reason:
        services.record_export(w.subject(w.custodian), handoff, **EXPORT)
        services.approve_removal(w.subject(w.principal), handoff, "")
    assert no_reason.value.code == "reason_required"


def test_EVD4_a_case_marked_state_secret_hands_off_all_its_recordings(world):
    w = world
    mark(w, w.case, who=w.p["legal"])
    assert set(SecretHandoff.objects.values_list("recording_id", flat=True)) == {
        w.rec.pk, w.rec2.pk}
    w.case.refresh_from_db()
    assert w.case.label == Label.STATE_SECRET
    assert AuditEntry.objects.filter(action="label.set", object_id=str(w.rec2.pk),
                                     object_type="recordings.recording").exists()


def test_EVD4_removed_content_is_passed_by_fixity_and_never_stored_again(world, tmp_path):
    """After the approved removal the blob row carries removed_at: the daily fixity run and
    the replication pass it by (no false 'missing' finding), and the same bytes offered
    again (a re-docked camera, an upload) are refused before anything is stored."""
    from witness.core.errors import WitnessError
    from witness.findings.models import Finding
    from witness.storage import fixity, replica
    from witness.storage.config import get_backend, get_replica
    from witness.storage.models import held_blobs
    from witness.storage.pipeline import store_file

    w = world
    data = b"secret bytes " * 500
    w.rec.blob = store_file_bytes(tmp_path / "s.mp4", data)
    w.rec.save(update_fields=["blob"])
    mark(w, w.rec)
    handoff = w.rec.secret_handoffs.get()
    services.record_export(w.subject(w.custodian), handoff, **EXPORT)
    services.approve_removal(w.subject(w.principal), handoff, "已移交保密室离线保存")
    services.remove(w.subject(w.custodian), handoff)
    blob = Blob.objects.get(pk=w.rec.blob_id)
    assert blob.removed_at is not None and f"#{handoff.pk}" in blob.removed_because
    assert not held_blobs().filter(pk=blob.pk).exists()

    report = fixity.run_checks(held_blobs(), untracked=True, actor="test")
    assert report.ok, report.failures  # nothing missing, nothing untracked
    assert not Finding.objects.filter(rule_id=fixity.RULE).exists()
    assert blob.pk not in fixity.due_batch()
    if get_replica() is not None:
        assert not replica.missing(get_replica()).filter(pk=blob.pk).exists()

    again = tmp_path / "again.mp4"
    again.write_bytes(data)
    with pytest.raises(WitnessError) as refused:
        store_file(again, get_backend(), actor="test")
    assert refused.value.code == "content_removed"
    assert not get_backend().exists(blob.key)
    assert again.read_bytes() == data  # the source is left as it was


def store_file_bytes(path, data: bytes):
    from witness.storage.config import get_backend
    from witness.storage.pipeline import store_file

    path.write_bytes(data)
    return store_file(path, get_backend(), actor="test").blob
