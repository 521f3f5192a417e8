"""The local filesystem backend: private staging, write-once finalisation, range reads (ING-4)."""

import hashlib
import os
import stat
import subprocess
import time
from datetime import timedelta

import pytest

from witness.core.errors import NotFound, WitnessError
from witness.storage.backends import base
from witness.storage.backends.base import BlobBackend, content_key
from witness.storage.backends.local import LocalBackend


@pytest.fixture
def backend(tmp_path):
    return LocalBackend(tmp_path / "blobs")


def staged(backend, data: bytes, close: bool = True):
    staging = backend.open_staging()
    staging.write(data)
    if close:
        staging.close()
    return staging


def staging_files(backend):
    return sorted(os.listdir(backend.staging_dir)) if backend.staging_dir.exists() else []


def test_staging_file_is_private_and_new(backend):
    staging = backend.open_staging()
    path = staging.path
    assert path.parent == backend.staging_dir and path.name.endswith(".part")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    staging.write(b"abc")
    staging.write(memoryview(b"defg"))
    staging.close()
    assert staging.size == 7 and path.read_bytes() == b"abcdefg"
    other = backend.open_staging()
    assert other.path != path
    other.abort()
    assert not other.path.exists()


def test_finalize_is_write_once_ing4(backend):
    """ING-4: the same content finalised twice keeps the first file untouched (created False);
    the original is read-only and no staging is left behind."""
    data = os.urandom(10_000)
    sha = hashlib.sha256(data).hexdigest()
    first = backend.finalize(staged(backend, data), sha)
    assert first.created and first.key == content_key(sha) and first.size == len(data)
    path = backend.path(first.key)
    assert path == backend.root / "sha256" / sha[:2] / sha[2:4] / sha
    before = path.stat()
    assert stat.S_IMODE(before.st_mode) == 0o444
    time.sleep(0.01)

    second = backend.finalize(staged(backend, data), sha)
    assert not second.created and second.key == first.key
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_nlink) == (
        before.st_ino, before.st_mtime_ns, 1)
    assert path.read_bytes() == data
    assert staging_files(backend) == []


def test_an_existing_original_of_another_size_is_never_replaced(backend):
    data = b"the real bytes"
    sha = hashlib.sha256(data).hexdigest()
    damaged = backend.root / content_key(sha)
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"short")
    with pytest.raises(WitnessError) as err:
        backend.finalize(staged(backend, data), sha)
    assert err.value.code == "stored_original_damaged"
    assert damaged.read_bytes() == b"short"
    assert staging_files(backend) == []


def test_no_operation_overwrites_or_deletes_an_original(backend):
    """ING-4: the interface has no delete/overwrite of a final object (the retention issue's
    approved purge will add its own narrowly named call)."""
    public = {name for name in dir(backend) if not name.startswith("_")}
    assert public.isdisjoint({"delete", "remove", "unlink", "overwrite", "put", "replace",
                              "write", "purge"})
    assert {n for n in dir(BlobBackend) if not n.startswith("_")} <= public


def test_staging_must_be_closed_before_reading_or_finalizing(backend):
    staging = staged(backend, b"abc", close=False)
    with pytest.raises(ValueError):
        list(backend.read_staging(staging))
    with pytest.raises(ValueError):
        backend.finalize(staging, hashlib.sha256(b"abc").hexdigest())
    staging.close()
    assert b"".join(backend.read_staging(staging, chunk_size=2)) == b"abc"


def test_staging_of_another_backend_is_refused(backend, tmp_path):
    other = LocalBackend(tmp_path / "other")
    staging = staged(other, b"x")
    with pytest.raises(ValueError):
        backend.finalize(staging, hashlib.sha256(b"x").hexdigest())
    assert staging.path.exists()


def test_discard_removes_staging(backend):
    staging = staged(backend, b"abc", close=False)
    backend.discard(staging)
    assert staging_files(backend) == []
    backend.discard(staging)  # twice is harmless


def test_clean_staging_removes_only_old_leftovers(backend):
    old = staged(backend, b"crashed run")
    new = staged(backend, b"running now", close=False)
    stale = time.time() - 7200
    os.utime(old.path, (stale, stale))
    unrelated = backend.staging_dir / "notes.txt"
    unrelated.write_text("not a staging file")
    os.utime(unrelated, (stale, stale))
    assert backend.clean_staging(timedelta(hours=1)) == 1
    assert not old.path.exists() and new.path.exists() and unrelated.exists()
    assert backend.clean_staging(timedelta(hours=1)) == 0
    assert LocalBackend(backend.root / "nowhere").clean_staging(timedelta(0)) == 0


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_clean_staging_removes_a_dead_process_leftover_at_once(backend, monkeypatch):
    """A kill -9 during ingest: the next run removes that staging file without waiting for
    it to age, and leaves a live process's staging file alone (station mode runs several
    ingests at once)."""
    monkeypatch.setattr(base.os, "getpid", dead_pid)
    crashed = staged(backend, b"killed while copying", close=False)
    monkeypatch.undo()
    live = staged(backend, b"another ingest, still running", close=False)
    assert f"~{os.getpid()}~" in live.path.name
    assert backend.clean_staging(timedelta(hours=1)) == 1
    assert not crashed.path.exists() and live.path.exists()


def test_leftover_staging_link_of_a_final_object_is_cleaned_without_harm(backend):
    """A crash between link() and unlink() leaves the staging name as a second link."""
    data = b"linked twice"
    sha = hashlib.sha256(data).hexdigest()
    staging = staged(backend, data)
    final = backend.root / content_key(sha)
    final.parent.mkdir(parents=True)
    os.link(staging.path, final)
    os.utime(staging.path, (0, 0))
    assert backend.clean_staging(timedelta(hours=1)) == 1
    assert final.read_bytes() == data and backend.exists(content_key(sha))


@pytest.mark.parametrize(("start", "end"), [
    (0, None), (0, 0), (0, 1), (5, 17), (0, 1000), (999, None), (999, 1000), (1000, None),
    (500, 5000), (1200, None), (3, 3),
])
def test_range_reads(backend, start, end):
    data = os.urandom(1000)
    sha = hashlib.sha256(data).hexdigest()
    key = backend.finalize(staged(backend, data), sha).key
    chunks = list(backend.read(key, start, end, chunk_size=64))
    assert b"".join(chunks) == data[start:end]
    assert all(len(c) <= 64 for c in chunks)


def test_reads_check_keys_and_ranges(backend):
    data = b"0123456789"
    sha = hashlib.sha256(data).hexdigest()
    key = backend.finalize(staged(backend, data), sha).key
    assert backend.exists(key) and backend.size(key) == 10
    assert b"".join(backend.read_verified(key, chunk_size=3)) == data
    with pytest.raises(ValueError):
        list(backend.read(key, 5, 4))
    with pytest.raises(ValueError):
        list(backend.read(key, -1))
    for bad in ("../../etc/passwd", f"sha256/00/00/{sha}", sha, f"sha256/{sha[:2]}/x/{sha}"):
        with pytest.raises(ValueError):
            backend.exists(bad)
    missing = content_key("f" * 64)
    assert not backend.exists(missing)
    with pytest.raises(NotFound):
        backend.size(missing)
    with pytest.raises(NotFound):
        list(backend.read(missing))
