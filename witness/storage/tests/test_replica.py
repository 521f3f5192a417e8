"""The second copy: WITNESS_REPLICA, the replication job (verified, idempotent, streamed),
and copying what an installation stored before it had a replica (ING-4)."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.storage import replica
from witness.storage.backends.local import LocalBackend
from witness.storage.config import get_replica, parse_replica
from witness.storage.models import Blob, Replica
from witness.storage.pipeline import store_file
from witness.storage.tests import test_fixity
from witness.storage.tests.test_fixity import aside_bytes, flip, stored_bytes

pytestmark = pytest.mark.django_db
stores = test_fixity.stores  # the same two stores, on the filesystem and on S3
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def source(tmp_path: Path, data: bytes, name: str = "clip.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def staging_left(backend) -> list:
    if isinstance(backend, LocalBackend):
        folder = backend.staging_dir
        return os.listdir(folder) if folder.exists() else []
    listed = backend.client.list_objects_v2(Bucket=backend.bucket,
                                            Prefix=f"{backend.prefix}staging/")
    return listed.get("Contents", [])


# -- the setting --------------------------------------------------------------------------

def test_the_replica_setting_ING4(settings, tmp_path, monkeypatch):
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'primary'}"
    settings.WITNESS_REPLICA = ""
    assert get_replica() is None
    settings.WITNESS_REPLICA = f"file://{tmp_path / 'replica'}"
    second = get_replica()
    assert isinstance(second, LocalBackend) and second.root == tmp_path / "replica"
    assert get_replica() is second  # built once

    settings.WITNESS_REPLICA = f"file://{tmp_path / 'primary'}"
    with pytest.raises(ImproperlyConfigured) as caught:
        get_replica()
    assert "WITNESS_REPLICA" in str(caught.value) and "同一位置" in str(caught.value)

    for bad in ("file:", "/relative/no/scheme", "s3://Bad_Bucket", "ftp://x"):
        with pytest.raises(ImproperlyConfigured) as caught:
            parse_replica(bad, home=tmp_path)
        assert "环境变量 WITNESS_REPLICA" in str(caught.value)
        assert "Environment variable WITNESS_REPLICA" in str(caught.value)

    settings.WITNESS_REPLICA = "s3://replica-bucket?endpoint=http://127.0.0.1:9"
    monkeypatch.setenv("WITNESS_S3_ACCESS_KEY", "primary-key")
    monkeypatch.setenv("WITNESS_S3_SECRET_KEY", "primary-secret")
    monkeypatch.setenv("WITNESS_REPLICA_S3_ACCESS_KEY", "replica-key")
    monkeypatch.setenv("WITNESS_REPLICA_S3_SECRET_KEY", "replica-secret")
    s3 = get_replica()
    assert s3.bucket == "replica-bucket"
    assert s3.client._request_signer._credentials.access_key == "replica-key"


# -- the job ------------------------------------------------------------------------------

def test_a_new_original_is_copied_after_commit_ING4(settings, tmp_path,
                                               django_capture_on_commit_callbacks):
    settings.TASKS = IMMEDIATE
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'primary'}"
    settings.WITNESS_REPLICA = f"file://{tmp_path / 'replica'}"
    from witness.storage.config import get_backend

    data = os.urandom(10_000)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        blob = store_file(source(tmp_path, data), get_backend(), ("sha256", "sm3")).blob
    assert len(callbacks) == 1
    copy = Replica.objects.get(blob=blob)
    assert (copy.store, copy.key, copy.size) == (get_replica().location, blob.key, 10_000)
    assert stored_bytes(get_replica(), blob.key) == data
    entry = AuditEntry.objects.get(action="blob.replicate")
    assert entry.details["outcome"] == "copied" and entry.details["digests"] == blob.digests

    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # a duplicate
        store_file(source(tmp_path, data, "again.mp4"), get_backend())
    assert callbacks == []  # not a new blob: nothing queued


def test_without_a_replica_nothing_is_queued_ING4(settings, tmp_path,
                                             django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    settings.WITNESS_REPLICA = ""
    with django_capture_on_commit_callbacks(execute=True):
        store_file(source(tmp_path, b"x" * 100), LocalBackend(tmp_path / "p"))
    assert not DBTaskResult.objects.exists()


def test_the_queued_job_names_the_blob_ING4(settings, tmp_path, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    settings.WITNESS_REPLICA = f"file://{tmp_path / 'replica'}"
    with django_capture_on_commit_callbacks(execute=True):
        blob = store_file(source(tmp_path, b"y" * 100), LocalBackend(tmp_path / "p")).blob
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "witness.storage.tasks.replicate_blob"
    assert queued.args_kwargs["args"] == [blob.pk]


def test_replication_is_idempotent_and_retry_safe_ING4(stores):
    blob = stores.original()
    assert replica.replicate(blob, primary=stores.primary, replica=stores.replica) == "copied"
    assert replica.replicate(blob, primary=stores.primary, replica=stores.replica) == "present"
    assert replica.replicate(blob.pk, primary=stores.primary,
                             replica=stores.replica) == "present"
    assert Replica.objects.count() == 1
    assert AuditEntry.objects.filter(action="blob.replicate").count() == 1
    assert staging_left(stores.replica) == []


def test_a_copy_made_before_a_crash_is_verified_not_copied_again_ING4(stores):
    """The job died after the object was final but before its row: the retry reads the
    object back, finds it intact, and records it."""
    blob = stores.original()
    from witness.storage.pipeline import copy_verified

    copy_verified(stores.primary.read_verified(blob.key), stores.replica, blob.digests,
                  blob.size, blob.key)
    assert replica.replicate(blob, primary=stores.primary, replica=stores.replica) == "verified"
    assert Replica.objects.filter(blob=blob).exists()


def test_a_damaged_unrecorded_copy_is_replaced_and_kept_aside_ING4(stores):
    data = os.urandom(3000)
    blob = stores.original(data)
    from witness.storage.pipeline import copy_verified

    copy_verified(stores.primary.read_verified(blob.key), stores.replica, blob.digests,
                  blob.size, blob.key)
    damaged = flip(stores.replica, blob.key)
    assert replica.replicate(blob, primary=stores.primary, replica=stores.replica) == "repaired"
    assert stored_bytes(stores.replica, blob.key) == data
    entry = AuditEntry.objects.get(action="blob.replicate")
    assert aside_bytes(stores.replica, entry.details["aside"]) == damaged


def test_a_damaged_original_is_not_replicated_ING4(stores):
    blob = stores.original()
    flip(stores.primary, blob.key)
    with pytest.raises(WitnessError) as caught:
        replica.replicate(blob, primary=stores.primary, replica=stores.replica)
    assert caught.value.code == "copy_mismatch"
    assert "sha256" in caught.value.en and "sm3" in caught.value.en
    assert not Replica.objects.exists() and not stores.replica.exists(blob.key)
    assert staging_left(stores.replica) == []
    assert AuditEntry.objects.get(action="blob.replicate").outcome == "failure"


def test_replication_streams_memory_stays_flat_ING4(tmp_path):
    chunk = 1024 * 1024
    path = tmp_path / "big.mp4"
    with open(path, "wb") as fh:
        for _ in range(64):
            fh.write(os.urandom(chunk))
    primary, second = LocalBackend(tmp_path / "p"), LocalBackend(tmp_path / "r")
    blob = store_file(path, primary, ("sha256", "sm3")).blob
    tracemalloc.start()
    try:
        assert replica.replicate(blob, primary=primary, replica=second) == "copied"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * chunk  # two 8 MiB read chunks at most, not the 64 MiB file


# -- an installation that adds a replica later --------------------------------------------

def test_replicate_missing_copies_what_was_stored_before_ING4(settings, tmp_path):
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'primary'}"
    settings.WITNESS_REPLICA = ""
    from witness.storage.config import get_backend

    blobs = [store_file(source(tmp_path, os.urandom(500), f"{n}.mp4"), get_backend()).blob
             for n in range(3)]
    out = io.StringIO()
    with pytest.raises(Exception) as caught:
        call_command("fixity", "--replicate-missing", "--json", stdout=out)
    assert caught.value.error.code == "no_replica"

    settings.WITNESS_REPLICA = f"file://{tmp_path / 'replica'}"
    call_command("fixity", "--replicate-missing", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"ok": True, "replicated": {"copied": 3},
                                          "failures": []}
    assert set(Replica.objects.values_list("blob_id", flat=True)) == {b.pk for b in blobs}
    out = io.StringIO()
    call_command("fixity", "--replicate-missing", "--json", stdout=out)
    assert json.loads(out.getvalue())["replicated"] == {}
    out = io.StringIO()
    call_command("fixity", "--all", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["counts"]["ok"] == 6 and data["unreplicated"] == 0
    assert Blob.objects.count() == 3
