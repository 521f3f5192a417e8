"""Reading ranges of stored originals through the blob backend (issue 5 item 2): byte-exact
against the stored bytes, seeking into a multi-GB object without reading what lies before,
memory flat whatever the size."""

import hashlib
import os
import time
import tracemalloc

import pytest
from django.utils import timezone

from witness.access.stream import STREAM_CHUNK, plan, read_exactly
from witness.storage.backends.base import content_key
from witness.storage.backends.local import LocalBackend
from witness.storage.pipeline import store_file

GIB = 1024 ** 3
BIG = 5 * GIB
# Bytes written into the sparse file at these offsets; everything else reads as zeros.
MARKS = {0: b"first", 2 * GIB + 12345: b"middle-of-the-file", BIG - 4: b"last"}


@pytest.fixture
def backend(tmp_path):
    return LocalBackend(tmp_path / "store")


@pytest.fixture
def stored(db, tmp_path, backend):
    """A 3 MiB original (several stream chunks) stored by the real pipeline."""
    source = tmp_path / "original.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return store_file(source, backend, actor="test"), source.read_bytes()


def sparse_object(backend: LocalBackend) -> str:
    """A 5 GiB final object that takes almost no disk: a sparse file with a few marks,
    placed where the backend keeps final objects (storing it through the pipeline would
    write and hash 5 GiB)."""
    key = content_key(hashlib.sha256(b"a sparse test object").hexdigest())
    path = backend.path(key)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as f:
        os.truncate(f.fileno(), BIG)
        for offset, mark in MARKS.items():
            f.seek(offset)
            f.write(mark)
    assert path.stat().st_blocks * 512 < 1024 * 1024  # really sparse
    return key


def test_ranges_read_back_byte_exact(stored, backend):
    blob, data = stored[0].blob, stored[1]
    size = len(data)
    for start, stop in [(0, 1), (0, size), (1000, 2000), (STREAM_CHUNK - 3, STREAM_CHUNK + 5),
                        (size - 1, size), (size - 10, size), (2 * STREAM_CHUNK, size)]:
        got = b"".join(read_exactly(backend, blob.key, start, stop))
        assert got == data[start:stop], (start, stop)
    assert b"".join(read_exactly(backend, blob.key, 5, 5)) == b""


def test_reads_come_in_bounded_chunks(stored, backend):
    blob = stored[0].blob
    sizes = [len(c) for c in read_exactly(backend, blob.key, 0, blob.size, chunk_size=65536)]
    assert max(sizes) <= 65536 and sum(sizes) == blob.size


def test_seeking_into_a_5_gib_object_reads_only_the_range(backend):
    key = sparse_object(backend)
    assert backend.size(key) == BIG
    for offset, mark in MARKS.items():
        started = time.monotonic()
        got = b"".join(read_exactly(backend, key, offset, offset + len(mark)))
        assert got == mark
        assert time.monotonic() - started < 1  # no reading of the gigabytes before
    # a range across a mark, far past 4 GiB (offsets beyond 32 bits)
    offset = 2 * GIB + 12345
    got = b"".join(read_exactly(backend, key, offset - 3, offset + 21))
    assert got == b"\0\0\0middle-of-the-file\0\0\0"
    # the plan of a suffix request of the last bytes, then its bytes
    p = plan(BIG, "ab" * 32, timezone.now(),
             {"Range": "bytes=-4"})
    assert (p.status, p.start, p.stop) == (206, BIG - 4, BIG)
    assert p.headers["Content-Range"] == f"bytes {BIG - 4}-{BIG - 1}/{BIG}"
    assert b"".join(read_exactly(backend, key, p.start, p.stop)) == b"last"


def test_memory_stays_flat_while_streaming_hundreds_of_megabytes(backend):
    key = sparse_object(backend)
    start = 4 * GIB
    stop = start + 256 * 1024 * 1024
    tracemalloc.start()
    try:
        total = 0
        for chunk in read_exactly(backend, key, start, stop):
            total += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == stop - start
    assert peak < 4 * STREAM_CHUNK  # a few chunks, not 256 MiB


def test_ranges_from_an_s3_store_are_byte_exact(db, tmp_path, s3_backend):
    """The same reads through the S3 backend (a ranged GET each; a real Ceph RGW)."""
    source = tmp_path / "original.bin"
    source.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    data = source.read_bytes()
    blob = store_file(source, s3_backend, actor="test").blob
    size = len(data)
    for start, stop in [(0, 1), (0, size), (12345, 12345 + 70000), (size - 5, size),
                        (STREAM_CHUNK - 1, STREAM_CHUNK + 1)]:
        got = b"".join(read_exactly(s3_backend, blob.key, start, stop, chunk_size=65536))
        assert got == data[start:stop], (start, stop)
