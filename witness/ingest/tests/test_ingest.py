"""witness ingest: a docked device volume to verified, write-once, attributed recordings
(issue 3; ING-1..ING-4, DEV-3, DEV-4, ACT-5)."""

import hashlib
import os
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from witness.audit.models import AuditEntry
from witness.core.errors import NotFound, WitnessError
from witness.findings.models import Finding
from witness.ingest import services
from witness.ingest.services import SAME_BYTES_RULE, ingest_volume
from witness.recordings.models import (
    Attribution,
    DriftSource,
    IngestRun,
    Outcome,
    QueueReason,
    Recording,
    RunStatus,
    TimeSource,
)
from witness.storage.models import Blob
from witness.testing import factories as f
from witness.testing.volumes import body_camera_volume

pytestmark = pytest.mark.django_db(transaction=True)


def outcomes(run: IngestRun) -> dict[str, str]:
    return {i.path: i.outcome for i in run.items.all()}


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rec(scene, role) -> Recording:
    return Recording.objects.get(source_path=scene.volume.names[role])


def test_every_file_stored_verified_and_reported_ING1_ING4(scene):
    vol = scene.volume
    run = ingest_volume(vol.root, backend=scene.backend, actor="test")
    got = outcomes(run)
    for role in ("seg1", "seg2", "seg4", "hevc", "truncated", "empty", "photo", "wav"):
        assert got[vol.names[role]] == Outcome.STORED, role
    assert got[vol.names["symlink"]] == Outcome.SKIPPED
    assert got["DEVICE.TXT"] == Outcome.SKIPPED
    assert run.status == RunStatus.DONE and run.counts[Outcome.FAILED] == 0
    assert run.counts[Outcome.STORED] == 8

    for role in ("seg1", "hevc", "truncated", "empty", "wav"):
        r = rec(scene, role)
        assert r.blob.sha256 == sha256(vol.path(role)) == r.blob.digests["sha256"]
        stored = scene.backend.path(r.blob.key)
        assert sha256(stored) == r.blob.sha256 and not stored.stat().st_mode & 0o222
    item = run.items.get(path=vol.names["seg1"])
    assert item.digests == {"sha256": sha256(vol.path("seg1"))}
    assert item.recording == rec(scene, "seg1")
    # the device is untouched without --wipe
    assert all(vol.path(role).exists() for role in vol.names)


def test_unreadable_and_empty_files_are_kept_as_evidence_and_flagged(scene):
    ingest_volume(scene.volume.root, backend=scene.backend)
    truncated, empty = rec(scene, "truncated"), rec(scene, "empty")
    assert not truncated.readable and truncated.unreadable_reason
    assert not empty.readable and empty.size == 0 and empty.blob.size == 0
    assert rec(scene, "seg1").readable


def test_names_give_times_sequence_and_important_mark(scene):
    ingest_volume(scene.volume.root, backend=scene.backend)
    seg1, seg4, hevc = rec(scene, "seg1"), rec(scene, "seg4"), rec(scene, "hevc")
    assert seg1.time_source == TimeSource.FILE_NAME and seg1.started_at == scene.start
    assert seg1.ended_at - seg1.started_at == timedelta(seconds=float(seg1.duration))
    assert (seg1.sequence, seg4.sequence, hevc.sequence) == (1, 4, 5)  # 3 is missing
    assert hevc.important and not seg1.important
    assert hevc.video_codec == "hevc" and not hevc.browser_playable
    assert seg1.video_codec == "h264" and seg1.browser_playable
    photo, wav = rec(scene, "photo"), rec(scene, "wav")
    assert photo.time_source == TimeSource.EXIF and photo.kind == "photo"
    assert photo.started_at == scene.start + timedelta(seconds=60) == photo.ended_at
    assert wav.time_source == TimeSource.FILE_TIME and wav.kind == "audio"


def test_attributed_to_device_ledger_entry_holder_and_activity_DEV3(scene):
    ingest_volume(scene.volume.root, backend=scene.backend)
    seg1 = rec(scene, "seg1")
    issue = scene.device.issues.get()
    assert (seg1.device, seg1.issue, seg1.holder, seg1.activity) == (
        scene.device, issue, scene.officer, scene.activity)
    assert seg1.attribution == Attribution.ATTRIBUTED
    # the ledger entry lists what was recorded under it
    assert set(issue.recordings.values_list("source_path", flat=True)) >= {
        scene.volume.names[r] for r in ("seg1", "seg2", "seg4", "hevc", "photo")}
    # the WAV's file time (now) is outside the activity: the custodian's queue
    wav = rec(scene, "wav")
    assert wav.attribution == Attribution.QUEUED
    assert wav.queue_reason == QueueReason.NO_ACTIVITY and wav.holder == scene.officer


def test_segments_and_gaps_ACT5(scene):
    ingest_volume(scene.volume.root, backend=scene.backend)
    seg1, seg2, seg4, hevc = (rec(scene, r) for r in ("seg1", "seg2", "seg4", "hevc"))
    assert [seg1.segment_index, seg2.segment_index, seg4.segment_index] == [1, 2, 3]
    assert seg1.gap_before_seconds is None
    assert abs(seg2.gap_before_seconds) <= Decimal("0.2")  # contiguous
    assert Decimal("115") <= seg4.gap_before_seconds <= Decimal("117")  # 120 s - 2 s - 2 s
    assert hevc.segment_index == 4 and hevc.gap_before_seconds > 50
    assert rec(scene, "photo").segment_index is None  # photos are moments


def test_same_volume_twice_changes_nothing(scene):
    first = ingest_volume(scene.volume.root, backend=scene.backend)
    before = {r.pk: (r.blob_id, r.started_at, r.activity_id, r.segment_index)
              for r in Recording.objects.all()}
    blobs = Blob.objects.count()
    second = ingest_volume(scene.volume.root, backend=scene.backend)
    assert set(outcomes(second).values()) == {Outcome.DUPLICATE, Outcome.SKIPPED}
    assert second.counts[Outcome.DUPLICATE] == first.counts[Outcome.STORED] == 8
    after = {r.pk: (r.blob_id, r.started_at, r.activity_id, r.segment_index)
             for r in Recording.objects.all()}
    assert after == before and Blob.objects.count() == blobs
    assert not Finding.objects.exists()
    assert not list(scene.backend.staging_dir.iterdir())


def test_same_bytes_from_another_device_is_a_second_recording_and_a_finding_ACT5(scene,
                                                                                tmp_path):
    ingest_volume(scene.volume.root, backend=scene.backend)
    other = f.DeviceFactory(unit=scene.field, serial="DSJ-A9-0002")
    copy_root = tmp_path / "other-cam"
    copy_root.mkdir()
    (copy_root / "DEVICE.TXT").write_text(f"SERIAL={other.serial}\n")
    (copy_root / "copied.mp4").write_bytes(scene.volume.path("seg1").read_bytes())
    run = ingest_volume(copy_root, backend=scene.backend)
    assert outcomes(run)["copied.mp4"] == Outcome.STORED
    original, copy = rec(scene, "seg1"), Recording.objects.get(source_path="copied.mp4")
    assert copy.blob == original.blob and copy.device == other
    finding = Finding.objects.get(rule_id=SAME_BYTES_RULE)
    assert finding.object_id == copy.pk
    assert finding.details["other_recordings"] == [{"id": original.pk,
                                                    "device": scene.device.serial}]


def test_wipe_deletes_only_what_was_stored_and_verified_ING3(scene, monkeypatch):
    vol = scene.volume
    real = services.store_object

    def failing(path, *args, **kwargs):
        if str(path).endswith(vol.names["seg2"]):
            raise WitnessError("disk on fire", code="storage_failed")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(services, "store_object", failing)
    run = ingest_volume(vol.root, backend=scene.backend, wipe=True)
    got = outcomes(run)
    assert got[vol.names["seg2"]] == Outcome.FAILED and run.status == RunStatus.FAILED
    assert vol.path("seg2").exists(), "a file that failed must stay on the device"
    assert not vol.path("seg1").exists() and not vol.path("truncated").exists()
    assert run.items.get(path=vol.names["seg1"]).wiped
    assert os.path.lexists(vol.path("symlink")) and (vol.root / "DEVICE.TXT").exists()
    assert AuditEntry.objects.filter(action="ingest.wipe").count() == 7


def test_wipe_leaves_a_file_replaced_after_it_was_stored(scene, monkeypatch):
    vol = scene.volume
    real = services.store_object

    def swap_after_store(path, *args, **kwargs):
        stored = real(path, *args, **kwargs)
        if str(path).endswith(vol.names["seg1"]):
            os.replace(vol.path("seg4"), path)  # another file under the same name
        return stored

    monkeypatch.setattr(services, "store_object", swap_after_store)
    run = ingest_volume(vol.root, backend=scene.backend, wipe=True)
    item = run.items.get(path=vol.names["seg1"])
    assert item.outcome == Outcome.STORED and not item.wiped and vol.path("seg1").exists()


def test_backfill_goes_to_the_assignment_queue(scene, tmp_path):
    folder = tmp_path / "nas"
    folder.mkdir()
    (folder / "2019年检查.mp4").write_bytes(scene.volume.path("seg4").read_bytes())
    run = ingest_volume(folder, backfill=True, backend=scene.backend)
    r = Recording.objects.get(source_path="2019年检查.mp4")
    assert run.device is None and r.device is None and r.backfill
    assert r.attribution == Attribution.QUEUED and r.queue_reason == QueueReason.BACKFILL
    again = ingest_volume(folder, backfill=True, backend=scene.backend)
    assert outcomes(again)["2019年检查.mp4"] == Outcome.DUPLICATE


def test_device_identity_errors_are_clear_and_store_nothing(scene, tmp_path):
    with pytest.raises(WitnessError) as mismatch:
        ingest_volume(scene.volume.root, device_serial="OTHER-1", backend=scene.backend)
    assert mismatch.value.code == "device_mismatch" and "OTHER-1" in mismatch.value.zh
    bare = tmp_path / "card"
    bare.mkdir()
    (bare / "a.wav").write_bytes(scene.volume.path("wav").read_bytes())
    with pytest.raises(WitnessError) as unnamed:
        ingest_volume(bare, backend=scene.backend)
    assert unnamed.value.code == "device_unknown"
    with pytest.raises(NotFound):
        ingest_volume(bare, device_serial="NOPE-404", backend=scene.backend)
    assert not Recording.objects.exists() and not IngestRun.objects.exists()
    run = ingest_volume(bare, device_serial=scene.device.serial, backend=scene.backend)
    assert outcomes(run) == {"a.wav": Outcome.STORED}


def test_clock_file_drift_corrects_times_DEV4(scene, tmp_path):
    from django.utils import timezone

    device = f.DeviceFactory(unit=scene.field, serial="DSJ-A9-0009")
    fast = timezone.localtime().replace(tzinfo=None) + timedelta(seconds=300)
    vol = body_camera_volume(tmp_path / "fast", device.serial, "B9", scene.start.replace(
        tzinfo=None), clock=fast)
    # the device writes its clock when docked: 300 s fast at the moment the ingest starts
    # (rewritten now, after the volume's media were made, which takes seconds under load)
    before = time.monotonic()
    fast = timezone.localtime().replace(tzinfo=None) + timedelta(seconds=300)
    (vol.root / "TIME.TXT").write_text(f"{fast:%Y-%m-%d %H:%M:%S}\n")
    run = ingest_volume(vol.root, backend=scene.backend)
    took = time.monotonic() - before
    assert 300 - took - 1 <= run.clock_drift_seconds <= 301
    assert run.drift_source == DriftSource.CLOCK_FILE
    seg1 = Recording.objects.get(source_path=vol.names["seg1"], device=device)
    assert seg1.drift_source == DriftSource.CLOCK_FILE
    assert seg1.device_start == scene.start
    assert seg1.started_at == scene.start - timedelta(seconds=seg1.clock_drift_seconds)


def test_pre_use_check_drift_used_without_clock_file_DEV4(scene):
    from witness.devices import services as devices

    check_time = scene.start - timedelta(minutes=30)
    devices.record_check(scene.device, scene.officer, battery_percent=90, free_storage_mb=9000,
                         device_time=check_time + timedelta(seconds=42), at=check_time,
                         actor="test")
    ingest_volume(scene.volume.root, backend=scene.backend)
    seg1 = rec(scene, "seg1")
    assert (seg1.clock_drift_seconds, seg1.drift_source) == (42, DriftSource.PRE_USE_CHECK)
    assert seg1.started_at == scene.start - timedelta(seconds=42)


def test_audit_entries_written_with_the_rows(scene):
    run = ingest_volume(scene.volume.root, backend=scene.backend, actor="cli:tester")
    actions = list(AuditEntry.objects.filter(actor_label="cli:tester")
                   .values_list("action", flat=True))
    assert actions.count("recording.ingest") == 8 and actions.count("blob.store") == 8
    assert actions[0] == "ingest.start" and actions[-1] == "ingest.finish"
    assert run.finished_at is not None


def test_ingest_on_a_real_s3_store_ING4(scene, s3_backend):
    run = ingest_volume(scene.volume.root, backend=s3_backend)
    got = outcomes(run)
    assert run.counts[Outcome.STORED] == 8 and got[scene.volume.names["symlink"]] == "skipped"
    seg1 = rec(scene, "seg1")
    assert s3_backend.exists(seg1.blob.key)
    data = b"".join(s3_backend.read(seg1.blob.key))
    assert hashlib.sha256(data).hexdigest() == seg1.blob.sha256
    again = ingest_volume(scene.volume.root, backend=s3_backend)
    assert again.counts[Outcome.DUPLICATE] == 8


def test_each_new_recording_gets_its_derivative_jobs_queued(scene):
    from witness.derivatives.models import Derivative

    ingest_volume(scene.volume.root, backend=scene.backend)
    hevc = rec(scene, "hevc")
    assert set(Derivative.objects.filter(recording=hevc).values_list("kind", flat=True)) == {
        "playback", "poster", "waveform"}
    assert Derivative.objects.values("recording").distinct().count() == 8
