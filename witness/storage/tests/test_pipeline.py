"""store_file: one pass, every digest, verified read-back, write-once, Blob row (ING-4)."""

import hashlib
import os
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.storage.backends.base import content_key
from witness.storage.backends.local import LocalBackend
from witness.storage.fixity import verify_blob
from witness.storage.models import Blob
from witness.storage.pipeline import store_file

CHUNK = 4096
pytestmark = pytest.mark.django_db


@pytest.fixture
def backend(tmp_path):
    return LocalBackend(tmp_path / "blobs")


def source(tmp_path, data: bytes, name: str = "source.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def finals(backend) -> list[Path]:
    root = backend.root / "sha256"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def leftovers(backend) -> list[str]:
    return os.listdir(backend.staging_dir) if backend.staging_dir.exists() else []


def assert_nothing_stored(backend):
    assert finals(backend) == [] and leftovers(backend) == []
    assert not Blob.objects.exists()


@hsettings(max_examples=25, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.one_of(st.sampled_from([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 4 * CHUNK]),
                      st.integers(0, 5 * CHUNK)))
def test_digests_match_hashlib_for_sha256_and_sm3(tmp_path_factory, size):
    """ING-4: every digest the profile names, with its algorithm name, computed in one pass."""
    tmp = tmp_path_factory.mktemp("d")
    backend = LocalBackend(tmp / "blobs")
    data = os.urandom(size)
    stored = store_file(source(tmp, data), backend, ("sha256", "sm3"), chunk_size=CHUNK)
    expected = {a: hashlib.new(a, data).hexdigest() for a in ("sha256", "sm3")}
    assert stored.digests == expected and stored.sha256 == expected["sha256"]
    assert stored.size == size and stored.key == content_key(expected["sha256"])
    assert b"".join(backend.read(stored.key)) == data
    assert stored.blob.digests == expected and stored.blob.size == size
    assert leftovers(backend) == []


def test_store_file_registers_the_blob_once(tmp_path, backend):
    data = os.urandom(3 * CHUNK + 7)
    first = store_file(source(tmp_path, data), backend, chunk_size=CHUNK)
    assert first.created and first.digests == {"sha256": hashlib.sha256(data).hexdigest()}
    blob = Blob.objects.get()
    assert (blob.sha256, blob.size, blob.backend, blob.key) == (
        first.sha256, len(data), "file", first.key)
    assert blob.verified_at is not None and blob.stored_at is not None

    again = store_file(source(tmp_path, data, "copy.mp4"), backend, ("sha256", "sm3"),
                       chunk_size=CHUNK)
    assert not again.created and again.blob.pk == blob.pk
    assert Blob.objects.count() == 1
    blob.refresh_from_db()
    assert blob.digests == {"sha256": first.sha256, "sm3": hashlib.new("sm3", data).hexdigest()}
    # a duplicate reads nothing back from the stored original: it proves nothing new
    assert blob.verified_at == first.blob.verified_at
    entries = AuditEntry.objects.filter(action="blob.store", object_id=str(blob.pk))
    assert [e.details["new_object"] for e in entries.order_by("id")] == [True, False]
    assert len(finals(backend)) == 1 and leftovers(backend) == []


def test_a_file_growing_while_read_stores_nothing(tmp_path, backend):
    """ING-4: a file that changes while being read fails and stores nothing."""
    path = source(tmp_path, os.urandom(4 * CHUNK))

    def append_after_first_chunk(n, calls=[]):  # noqa: B006 - a counter for this test
        calls.append(n)
        if len(calls) == 1:
            with open(path, "ab") as fh:
                fh.write(b"more footage")

    with pytest.raises(WitnessError) as err:
        store_file(path, backend, chunk_size=CHUNK, progress=append_after_first_chunk)
    assert err.value.code == "file_changed"
    assert_nothing_stored(backend)


def test_a_file_rewritten_in_place_while_read_stores_nothing(tmp_path, backend):
    path = source(tmp_path, os.urandom(4 * CHUNK))
    os.utime(path, (1_600_000_000, 1_600_000_000))  # older than the clock's granularity

    def overwrite_start(n):
        with open(path, "r+b") as fh:
            fh.write(b"X")

    with pytest.raises(WitnessError) as err:
        store_file(path, backend, chunk_size=CHUNK, progress=overwrite_start)
    assert err.value.code == "file_changed"
    assert_nothing_stored(backend)


def test_a_file_replaced_while_read_stores_nothing(tmp_path, backend):
    path = source(tmp_path, os.urandom(2 * CHUNK))

    def replace(n):
        other = tmp_path / "other"
        other.write_bytes(b"x" * 2 * CHUNK)
        os.replace(other, path)

    with pytest.raises(WitnessError) as err:
        store_file(path, backend, chunk_size=CHUNK, progress=replace)
    assert err.value.code == "file_changed"
    assert_nothing_stored(backend)


class CorruptingBackend(LocalBackend):
    """The medium returns other bytes than were written: one byte flips after the fsync."""

    def read_staging(self, staging, chunk_size=CHUNK):
        with open(staging.path, "r+b") as fh:
            fh.seek(staging.size // 2)
            byte = fh.read(1)
            fh.seek(staging.size // 2)
            fh.write(bytes([byte[0] ^ 0xFF]))
            os.fsync(fh.fileno())
        return super().read_staging(staging, chunk_size)


def test_read_back_verification_catches_corruption(tmp_path):
    """ING-4: the stored bytes are re-read and compared before the object becomes final."""
    backend = CorruptingBackend(tmp_path / "blobs")
    with pytest.raises(WitnessError) as err:
        store_file(source(tmp_path, os.urandom(3 * CHUNK)), backend, chunk_size=CHUNK)
    assert err.value.code == "verification_failed"
    assert_nothing_stored(backend)


def test_symlinks_are_never_followed(tmp_path, backend):
    target = source(tmp_path, b"outside the volume")
    link = tmp_path / "link.mp4"
    link.symlink_to(target)
    with pytest.raises(WitnessError) as err:
        store_file(link, backend)
    assert err.value.code == "symlink_not_followed"
    with pytest.raises(WitnessError) as err:
        store_file(tmp_path, backend)
    assert err.value.code == "not_a_file"
    with pytest.raises(WitnessError) as err:
        store_file(tmp_path / "missing.mp4", backend)
    assert err.value.code == "source_unreadable"
    assert_nothing_stored(backend)


def test_unknown_digest_algorithm_is_refused(tmp_path, backend):
    with pytest.raises(WitnessError) as err:
        store_file(source(tmp_path, b"x"), backend, ("sha256", "crc-77"))
    assert err.value.code == "unknown_digest"
    assert_nothing_stored(backend)


def test_chinese_and_non_utf8_names_are_read(tmp_path, backend):
    data = b"recording"
    for name in ("执法记录仪_20261120.mp4", os.fsdecode(b"\xff\xfeclip.mp4")):
        path = tmp_path / name
        path.write_bytes(data)
        assert store_file(path, backend).sha256 == hashlib.sha256(data).hexdigest()
    assert Blob.objects.count() == 1


def test_memory_stays_flat_and_no_thread_is_left(tmp_path, backend):
    """Memory is the buffer pool, not the file: a 48 MiB file with 1 MiB chunks peaks far
    below its size, and every worker thread has ended when store_file returns."""
    chunk = 1024 * 1024
    path = tmp_path / "big.mp4"
    with open(path, "wb") as fh:
        for _ in range(48):
            fh.write(os.urandom(chunk))
    threads = threading.active_count()
    tracemalloc.start()
    try:
        stored = store_file(path, backend, ("sha256", "sm3"), chunk_size=chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stored.size == 48 * chunk
    assert peak < 14 * chunk
    assert threading.active_count() == threads


def test_verify_blob_rereads_the_original(tmp_path, backend):
    data = os.urandom(2 * CHUNK)
    stored = store_file(source(tmp_path, data), backend)
    blob = stored.blob
    before = blob.verified_at
    assert verify_blob(blob, backend).ok
    blob.refresh_from_db()
    assert blob.verified_at > before
    verified = blob.verified_at

    path = backend.path(blob.key)
    path.chmod(0o644)
    with open(path, "r+b") as fh:
        fh.write(b"\x00" if data[0] else b"\x01")
    result = verify_blob(blob, backend)
    assert not result.ok and result.size == len(data) and result.sha256 != blob.sha256
    blob.refresh_from_db()
    assert blob.verified_at == verified  # a failed check does not count as verified
    outcomes = list(AuditEntry.objects.filter(action="blob.verify").order_by("id")
                    .values_list("outcome", flat=True))
    assert outcomes == ["success", "failure"]

    path.unlink()
    missing = verify_blob(blob, backend)
    assert not missing.ok and missing.sha256 is None and missing.size is None


def test_a_failing_staging_write_is_reported_and_leaves_nothing(tmp_path, backend):
    """The store refusing bytes (here: a file size limit, like a full disk) is a storage
    failure, not a source error, and nothing is left behind."""
    import resource
    import signal

    chunk = 1024 * 1024
    path = source(tmp_path, os.urandom(6 * chunk))
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 * chunk, limits[1]))
    try:
        with pytest.raises(WitnessError) as err:
            store_file(path, backend, chunk_size=chunk)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert err.value.code == "storage_failed"
    assert_nothing_stored(backend)


def test_a_file_swapped_after_the_scan_is_refused(tmp_path, backend):
    """ING-4: the file opened must be the file the volume scan saw (st_dev, st_ino), so a
    directory swapped for a symlink out of the volume after the scan stores nothing."""
    path = source(tmp_path, b"evidence")
    seen = os.lstat(path)
    os.replace(source(tmp_path, b"SECRET OUTSIDE", "other.mp4"), path)
    with pytest.raises(WitnessError) as caught:
        store_file(path, backend, expect=(seen.st_dev, seen.st_ino))
    assert caught.value.code == "file_changed"
    assert finals(backend) == [] and leftovers(backend) == []


def test_a_storage_failure_is_a_clear_error_not_a_raw_oserror(tmp_path, backend,
                                                               monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(backend, "finalize", broken)
    with pytest.raises(WitnessError) as caught:
        store_file(source(tmp_path, b"x" * 10), backend)
    assert caught.value.code == "storage_failed"
    assert finals(backend) == [] and leftovers(backend) == []
