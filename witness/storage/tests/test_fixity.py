"""Fixity audits: every recorded digest re-read and compared, on the filesystem and on a
real S3 server; untracked objects; repair from the replica; rolling batches; the CLI (ING-4).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.findings.models import Finding
from witness.storage import fixity, replica
from witness.storage.backends.base import content_key
from witness.storage.backends.local import LocalBackend
from witness.storage.models import Blob, FixityCheck, Replica
from witness.storage.pipeline import store_file
from witness.testing.s3 import empty_bucket, make_backend

pytestmark = pytest.mark.django_db
ALGORITHMS = ("sha256", "sm3")


# -- stores: the local filesystem, or two buckets of the test run's Ceph RGW ---------------

def flip(backend, key: str) -> bytes:
    """Flip one byte of a stored object in place (as a failing disk or a tamperer would);
    return the damaged bytes."""
    if isinstance(backend, LocalBackend):
        path = backend.path(key)
        path.chmod(0o644)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        path.chmod(0o444)
        return bytes(data)
    full = backend.prefix + key
    data = bytearray(backend.client.get_object(Bucket=backend.bucket, Key=full)["Body"].read())
    data[len(data) // 2] ^= 0xFF
    backend.client.put_object(Bucket=backend.bucket, Key=full, Body=bytes(data))
    return bytes(data)


def remove(backend, key: str) -> None:
    if isinstance(backend, LocalBackend):
        backend.path(key).unlink()
    else:
        backend.client.delete_object(Bucket=backend.bucket, Key=backend.prefix + key)


def plant(backend, key: str, data: bytes) -> None:
    """An object put into the store behind Witness's back."""
    if isinstance(backend, LocalBackend):
        path = backend.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    else:
        backend.client.put_object(Bucket=backend.bucket, Key=backend.prefix + key, Body=data)


def stored_bytes(backend, key: str) -> bytes:
    return b"".join(backend.read(key))


def aside_bytes(backend, aside: str) -> bytes:
    """The damaged bytes a repair kept aside: a quarantined file, or the older version."""
    if isinstance(backend, LocalBackend):
        assert aside.startswith("quarantine/")
        return (backend.root / aside).read_bytes()
    key, _, version = aside.partition("?versionId=")
    return backend.client.get_object(Bucket=backend.bucket, Key=key,
                                     VersionId=version)["Body"].read()


@pytest.fixture(params=["file", "s3"])
def stores(request, tmp_path):
    """A primary and a replica store of one kind, and a way to store originals."""
    if request.param == "file":
        primary, second = LocalBackend(tmp_path / "primary"), LocalBackend(tmp_path / "replica")
    else:
        server = request.getfixturevalue("s3_server")
        primary = request.getfixturevalue("s3_backend")
        second = make_backend(server)
        second.ensure_bucket()
        request.addfinalizer(lambda: empty_bucket(second))
    counter = iter(range(10**6))

    def original(data: bytes | None = None, *, copy: bool = False) -> Blob:
        data = os.urandom(3000) if data is None else data
        path = tmp_path / f"source-{next(counter)}.mp4"
        path.write_bytes(data)
        blob = store_file(path, primary, ALGORITHMS).blob
        if copy:
            assert replica.replicate(blob, primary=primary, replica=second) == "copied"
        return blob

    return SimpleNamespace(kind=request.param, primary=primary, replica=second,
                           original=original)


def check(stores, selection=None, **kwargs):
    selection = Blob.objects.all() if selection is None else selection
    kwargs.setdefault("replica", stores.replica)
    return fixity.run_checks(selection, primary=stores.primary, **kwargs)


def results(report) -> dict[str, int]:
    return {r: n for r, n in report.as_dict()["counts"].items() if n}


# -- finding damage -----------------------------------------------------------------------

def test_a_flipped_byte_is_a_mismatch_with_a_finding_and_an_audit_entry_ING4(stores):
    good, bad = stores.original(), stores.original()
    before = Blob.objects.get(pk=bad.pk).verified_at
    flip(stores.primary, bad.key)

    report = check(stores, replica=False)
    assert results(report) == {"ok": 1, "mismatch": 1} and not report.ok
    row = FixityCheck.objects.get(blob=bad)
    assert (row.copy, row.result, row.key, row.size) == ("primary", "mismatch", bad.key, 3000)
    assert row.mismatched == ["sha256", "sm3"]  # every recorded digest, by its name
    assert set(row.digests) == {"sha256", "sm3"} and row.sha256 != bad.sha256
    assert row.run == report.run

    finding = Finding.objects.get(rule_id="ING-4.fixity")
    assert finding.subject == bad and finding.severity == "serious"
    assert finding.details["for_roles"] == ["custodian", "secadmin"]
    assert finding.key == f"primary:{row.sha256}"
    entry = AuditEntry.objects.get(action="blob.fixity")
    assert (entry.object_type, entry.object_id, entry.outcome) == (
        "storage.blob", str(bad.pk), "failure")
    assert entry.details["mismatched"] == ["sha256", "sm3"]
    run = AuditEntry.objects.get(action="fixity.run")
    assert run.outcome == "failure" and run.object_id == str(report.run)
    assert run.details["counts"] == {"ok": 1, "mismatch": 1}

    assert Blob.objects.get(pk=bad.pk).verified_at == before  # a failure is not verified
    assert Blob.objects.get(pk=good.pk).verified_at > before

    check(stores, replica=False)  # the same damage again: recorded, no second finding
    assert FixityCheck.objects.filter(blob=bad).count() == 2
    assert Finding.objects.count() == 1


def test_a_missing_object_is_missing_ING4(stores):
    blob = stores.original()
    remove(stores.primary, blob.key)
    report = check(stores, replica=False)
    assert results(report) == {"missing": 1}
    row = FixityCheck.objects.get()
    assert (row.result, row.sha256, row.size) == ("missing", "", None)
    assert Finding.objects.get().key == "primary:missing"
    assert report.failures[0]["details"] == {"no_replica": True}


def test_an_object_no_blob_names_is_untracked_and_staging_is_not_ING4(stores):
    stores.original()
    stray_sha = hashlib.sha256(b"put there by hand").hexdigest()
    plant(stores.primary, content_key(stray_sha), b"put there by hand")
    plant(stores.primary, "notes/readme.txt", b"not an original")
    staging = stores.primary.open_staging()  # a leftover of an ingest: not an object
    staging.write(b"half an ingest")
    staging.close()

    report = check(stores, untracked=True, replica=False)
    assert results(report) == {"ok": 1, "untracked": 2}
    rows = FixityCheck.objects.filter(result="untracked")
    assert sorted(rows.values_list("key", flat=True)) == [
        "notes/readme.txt", content_key(stray_sha)]
    assert all(r.blob_id is None for r in rows)
    assert Finding.objects.filter(rule_id="ING-4.fixity").count() == 2
    assert AuditEntry.objects.filter(action="blob.fixity", object_type="storage.fixitycheck",
                                     outcome="failure").count() == 2

    check(stores, untracked=True, replica=False)  # found again: no second finding
    assert Finding.objects.count() == 2
    assert FixityCheck.objects.filter(result="untracked").count() == 4
    stores.primary.discard(staging)


def test_an_sm3_mismatch_is_found_by_its_algorithm_name_ING4(stores):
    """The bytes still give the registered SHA-256, but not the registered SM3."""
    blob = stores.original()
    sm3 = blob.digests["sm3"]
    Blob.objects.filter(pk=blob.pk).update(digests={**blob.digests, "sm3": "0" * 64})
    report = check(stores, replica=False)
    assert results(report) == {"mismatch": 1}
    row = FixityCheck.objects.get()
    assert row.mismatched == ["sm3"] and row.sha256 == blob.sha256
    assert row.digests["sm3"] == sm3


def test_a_check_streams_memory_stays_flat_ING4(tmp_path):
    import tracemalloc

    mib = 1024 * 1024
    path = tmp_path / "big.mp4"
    with open(path, "wb") as fh:
        for _ in range(48):
            fh.write(os.urandom(mib))
    backend = LocalBackend(tmp_path / "p")
    blob = store_file(path, backend, ALGORITHMS).blob
    tracemalloc.start()
    try:
        result = fixity.check_copy(backend, blob, "primary")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.result == "ok" and result.size == 48 * mib
    assert peak < 20 * mib  # two 8 MiB reads at most (the last and the next), not 48 MiB


def test_list_keys_lists_final_objects_only_ING4(stores):
    blobs = [stores.original() for _ in range(3)]
    staging = stores.primary.open_staging()
    staging.write(b"x")
    staging.close()
    assert sorted(stores.primary.list_keys()) == sorted(b.key for b in blobs)
    stores.primary.discard(staging)


# -- repair from the other copy -----------------------------------------------------------

def test_a_flipped_byte_is_repaired_from_the_replica_ING4(stores):
    data = os.urandom(5000)
    blob = stores.original(data, copy=True)
    damaged = flip(stores.primary, blob.key)

    report = check(stores, fix=True)
    assert results(report) == {"ok": 1, "repaired": 1} and not report.ok
    assert stored_bytes(stores.primary, blob.key) == data  # reads back identical
    repaired = FixityCheck.objects.get(result="repaired")
    assert repaired.copy == "primary" and repaired.sha256 == blob.sha256
    aside = repaired.details["aside"]
    assert aside_bytes(stores.primary, aside) == damaged  # the evidence of damage is kept

    entry = AuditEntry.objects.get(action="blob.repair")
    assert entry.outcome == "success" and entry.object_id == str(blob.pk)
    assert entry.details["before"]["sha256"] == hashlib.sha256(damaged).hexdigest()
    assert entry.details["after"]["digests"] == blob.digests
    assert entry.details["source"] == stores.replica.location
    assert Finding.objects.get().details["result"] == "repaired"

    again = check(stores)
    assert again.ok and results(again) == {"ok": 2}


def test_a_missing_replica_copy_is_repaired_from_the_primary_ING4(stores):
    data = os.urandom(4000)
    blob = stores.original(data, copy=True)
    remove(stores.replica, blob.key)
    report = check(stores, fix=True)
    assert results(report) == {"ok": 1, "repaired": 1}
    assert FixityCheck.objects.get(result="repaired").copy == "replica"
    assert stored_bytes(stores.replica, blob.key) == data
    entry = AuditEntry.objects.get(action="blob.repair")
    assert entry.details["before"]["result"] == "missing" and entry.details["aside"] is None


def test_no_repair_when_the_replica_is_bad_too_ING4(stores):
    blob = stores.original(copy=True)
    damaged = flip(stores.primary, blob.key)
    flip(stores.replica, blob.key)
    report = check(stores, fix=True)
    assert results(report) == {"mismatch": 2}
    assert stored_bytes(stores.primary, blob.key) == damaged  # nothing written
    assert not AuditEntry.objects.filter(action="blob.repair").exists()
    assert all(f["details"]["no_good_copy"] for f in report.failures)
    assert Finding.objects.count() == 2  # one per copy


def test_without_repair_a_repairable_copy_is_only_reported_ING4(stores):
    blob = stores.original(copy=True)
    damaged = flip(stores.primary, blob.key)
    report = check(stores)
    assert report.failures[0]["details"]["repairable_from"] == "replica"
    assert stored_bytes(stores.primary, blob.key) == damaged


def test_the_replica_copy_is_checked_and_verified_at_advances_ING4(stores):
    blob = stores.original(copy=True)
    copy = Replica.objects.get(blob=blob)
    report = check(stores)
    assert results(report) == {"ok": 2}
    assert Replica.objects.get(pk=copy.pk).verified_at > copy.verified_at
    assert sorted(FixityCheck.objects.values_list("copy", flat=True)) == ["primary", "replica"]


def test_an_unversioned_bucket_is_not_overwritten_ING4(s3_server, tmp_path):
    """On S3 a repair writes a new version; without versioning it would destroy the
    damaged bytes, so it is refused (and audited as a failed repair)."""
    primary = make_backend(s3_server)
    primary.client.create_bucket(Bucket=primary.bucket)  # never versioned
    try:
        path = tmp_path / "a.mp4"
        path.write_bytes(b"evidence" * 100)
        blob = store_file(path, primary, ALGORITHMS).blob
        second = LocalBackend(tmp_path / "replica")
        replica.replicate(blob, primary=primary, replica=second)
        damaged = flip(primary, blob.key)
        report = fixity.run_checks(Blob.objects.all(), primary=primary, replica=second,
                                   fix=True)
        assert results(report) == {"ok": 1, "mismatch": 1}
        assert report.failures[0]["details"]["repair_error"]["code"] == "s3_not_versioned"
        assert stored_bytes(primary, blob.key) == damaged
        assert AuditEntry.objects.get(action="blob.repair").outcome == "failure"
    finally:
        empty_bucket(primary)


def test_a_repair_under_object_lock_keeps_the_damaged_version_locked_ING4(s3_server, tmp_path):
    """The originals' bucket with object lock (GOVERNANCE retention, deletes denied): the
    repair is a new version, and the damaged one stays, locked (the bucket is left for the
    test cluster's removal, as no credentials may delete it)."""
    primary = make_backend(s3_server)
    primary.ensure_bucket(object_lock=True, retention_days=1)
    data = os.urandom(2000)
    path = tmp_path / "a.mp4"
    path.write_bytes(data)
    blob = store_file(path, primary, ALGORITHMS).blob
    second = LocalBackend(tmp_path / "replica")
    replica.replicate(blob, primary=primary, replica=second)
    damaged = flip(primary, blob.key)

    report = fixity.run_checks(Blob.objects.all(), primary=primary, replica=second, fix=True)
    assert results(report) == {"ok": 1, "repaired": 1}
    assert stored_bytes(primary, blob.key) == data
    aside = FixityCheck.objects.get(result="repaired").details["aside"]
    assert aside_bytes(primary, aside) == damaged
    key, _, version = aside.partition("?versionId=")
    head = primary.client.head_object(Bucket=primary.bucket, Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "GOVERNANCE"


# -- rolling batches ----------------------------------------------------------------------

@pytest.fixture
def configured(settings, tmp_path):
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    settings.WITNESS_FIXITY_DAYS = 5
    from witness.storage.config import get_backend

    backend = get_backend()

    def original(n: int) -> Blob:
        path = tmp_path / f"f{n}.mp4"
        path.write_bytes(os.urandom(100) + str(n).encode())
        return store_file(path, backend, ALGORITHMS).blob

    return SimpleNamespace(backend=backend, original=original)


def test_the_rolling_batch_checks_every_blob_once_per_period_ING4(configured):
    blobs = [configured.original(n) for n in range(14)]
    start = timezone.now() + timedelta(days=1)
    seen = []
    for day in range(5):  # WITNESS_FIXITY_DAYS = 5: ceil(14 / 5) = 3 a day
        batch = fixity.due_batch(start + timedelta(days=day))
        assert len(batch) == 3
        report = fixity.run_due(now=start + timedelta(days=day))
        assert report.ok and report.blobs == 3
        seen += batch
    assert set(seen) == {b.pk for b in blobs}  # every one within the period
    assert len(set(seen)) == 14 and seen[-1] == seen[0]  # the 15th check: the oldest again
    assert FixityCheck.objects.filter(result="ok").count() == 15


def test_an_overdue_backlog_doubles_the_batch_ING4(configured):
    for n in range(10):
        configured.original(n)
    later = timezone.now() + timedelta(days=30)  # nothing checked for 30 days
    assert len(fixity.due_batch(later)) == 4  # 2 x ceil(10 / 5)


def test_the_scheduled_task_runs_the_due_batch_ING4(configured, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    from witness.storage.tasks import fixity_batch

    configured.original(1)
    result = fixity_batch.enqueue()
    assert result.return_value["ok"] == 1
    assert FixityCheck.objects.get().result == "ok"
    assert AuditEntry.objects.get(action="fixity.run").actor_label == "system:fixity"


# -- the command --------------------------------------------------------------------------

def witness_fixity(*args) -> dict:
    out = io.StringIO()
    call_command("fixity", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_command_json_and_counts_ING4(configured):
    blobs = [configured.original(n) for n in range(3)]
    data = witness_fixity("--all")
    assert data["ok"] is True and data["blobs"] == 3
    assert data["counts"] == {"ok": 3, "missing": 0, "mismatch": 0, "untracked": 0,
                              "repaired": 0}
    flip(configured.backend, blobs[0].key)
    remove(configured.backend, blobs[1].key)
    data = witness_fixity("--sample", "3")
    assert data["ok"] is False and data["counts"]["mismatch"] == 1
    assert data["counts"]["missing"] == 1
    assert {(f["blob"], f["result"]) for f in data["failures"]} == {
        (blobs[0].pk, "mismatch"), (blobs[1].pk, "missing")}
    assert witness_fixity("--since", "2000-01-01")["blobs"] == 3
    assert witness_fixity("--since", "2099-01-01T00:00")["blobs"] == 0
    assert witness_fixity()["blobs"] == 1  # the due batch: ceil(3 / 5)


@pytest.mark.django_db(transaction=True)
def test_the_command_exit_status_ING4(configured, capsys):
    from django.core.management import load_command_class

    def run(*args) -> int:
        command = load_command_class("witness.storage", "fixity")
        try:
            command.run_from_argv(["witness", "fixity", *args])
        except SystemExit as exc:
            return exc.code
        return 0

    blob = configured.original(1)
    assert run("--all", "--json") == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    flip(configured.backend, blob.key)
    assert run("--all") == 1
    out = capsys.readouterr().out
    assert blob.key in out and "sha256, sm3" in out

    assert run("--since", "yesterday") == 1
    err = capsys.readouterr().err
    assert "yesterday" in err and "is not a date" in err
    assert run("--sample", "0") == 2
    assert "Wrong arguments" in capsys.readouterr().err
    assert run("--all", "--sample", "2") == 2


def test_bad_input_is_a_bilingual_error_ING4(configured):
    with pytest.raises(CommandError) as caught:
        call_command("fixity", "--since", "2026-13-45", stdout=io.StringIO())
    assert caught.value.error.code == "bad_date"
