"""The S3 blob backend against a real S3 server (Ceph RGW started by the tests), ING-4."""

from __future__ import annotations

import hashlib
import random
import time
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from witness.core.errors import NotFound, WitnessError
from witness.storage.backends.base import content_key
from witness.storage.backends.s3 import PART, S3Backend, part_size
from witness.testing.s3 import free_ports, make_backend

MiB = 1024 * 1024


def random_chunks(size: int, seed: int, chunk: int = 3 * MiB + 17):
    """``size`` random bytes in odd-sized chunks, generated on the fly."""
    rng = random.Random(seed)
    while size > 0:
        n = min(chunk, size)
        yield rng.randbytes(n)
        size -= n


def stage(backend, chunks):
    staging = backend.open_staging()
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        staging.write(memoryview(chunk))
    staging.close()
    return staging, digest.hexdigest()


def sha256_of(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def keys_under(backend, prefix: str) -> list[str]:
    """Every object version and unfinished upload under ``<backend prefix><prefix>``."""
    full = backend.prefix + prefix
    listed = backend.client.list_object_versions(Bucket=backend.bucket, Prefix=full)
    uploads = backend.client.list_multipart_uploads(Bucket=backend.bucket, Prefix=full)
    return ([v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]
            + [u["Key"] for u in uploads.get("Uploads", [])])


def versions_of(backend, key: str) -> list[dict]:
    listed = backend.client.list_object_versions(Bucket=backend.bucket,
                                                 Prefix=backend.prefix + key)
    return listed.get("Versions", [])


def test_part_sizes_grow_so_10000_parts_hold_any_body_camera_file():
    assert part_size(1) == part_size(1000) == PART == 8 * MiB
    assert part_size(1001) == 16 * MiB
    assert sum(part_size(n) for n in range(1, 10001)) > 400 * 1024**3


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART + 1])
def test_staging_round_trip_and_finalize_ING4(s3_backend, size):
    staging, sha = stage(s3_backend, random_chunks(size, seed=size))
    assert staging.size == size
    assert staging.name.startswith("witness/staging/")
    head = s3_backend.client.head_object(Bucket=s3_backend.bucket, Key=staging.name)
    assert head["ContentLength"] == size
    if size > PART:  # sent as a multipart upload of two parts
        assert head["ETag"].endswith('-2"')

    assert sha256_of(s3_backend.read_staging(staging, chunk_size=MiB)) == sha

    final = s3_backend.finalize(staging, sha)
    assert (final.key, final.size, final.created) == (content_key(sha), size, True)
    assert s3_backend.exists(final.key) and s3_backend.size(final.key) == size
    assert versions_of(s3_backend, f"sha256/{sha[:2]}/{sha[2:4]}/{sha}")
    assert sha256_of(s3_backend.read(final.key)) == sha
    assert keys_under(s3_backend, "staging/") == []


def test_large_object_is_streamed_and_verified_ING4(s3_backend):
    size = 50 * MiB + 12345
    staging, sha = stage(s3_backend, random_chunks(size, seed=50))
    assert sha256_of(s3_backend.read_staging(staging)) == sha
    final = s3_backend.finalize(staging, sha)
    assert final.created and s3_backend.size(final.key) == size
    assert sha256_of(s3_backend.read(final.key)) == sha


def test_finalize_twice_keeps_the_first_object_ING4(s3_backend):
    first, sha = stage(s3_backend, [b"same bytes"])
    created = s3_backend.finalize(first, sha)
    before = versions_of(s3_backend, created.key)

    second, sha2 = stage(s3_backend, [b"same bytes"])
    assert sha2 == sha
    again = s3_backend.finalize(second, sha)
    assert (again.key, again.created) == (created.key, False)
    after = versions_of(s3_backend, created.key)
    assert [v["VersionId"] for v in after] == [v["VersionId"] for v in before]
    assert [v["ETag"] for v in after] == [v["ETag"] for v in before]
    assert b"".join(s3_backend.read(created.key)) == b"same bytes"
    assert keys_under(s3_backend, "staging/") == []


def test_finalize_refuses_a_stored_object_of_another_size(s3_backend):
    staging, sha = stage(s3_backend, [b"the real content"])
    s3_backend.client.put_object(Bucket=s3_backend.bucket, Key=s3_backend.prefix
                                 + content_key(sha), Body=b"other")
    with pytest.raises(WitnessError) as caught:
        s3_backend.finalize(staging, sha)
    assert caught.value.code == "s3_size_mismatch"
    assert keys_under(s3_backend, "staging/") == [staging.name]  # kept for inspection


def test_large_objects_use_multipart_copy(s3_backend):
    s3_backend.copy_threshold, s3_backend.copy_part = 6 * MiB, 5 * MiB
    size = 12 * MiB + 7
    staging, sha = stage(s3_backend, random_chunks(size, seed=12))
    final = s3_backend.finalize(staging, sha)
    assert final.created
    head = s3_backend.client.head_object(Bucket=s3_backend.bucket,
                                         Key=s3_backend.prefix + final.key)
    assert head["ETag"].endswith('-3"')  # three copied parts: 5 + 5 + 2 MiB
    assert sha256_of(s3_backend.read(final.key)) == sha


def test_abort_leaves_nothing(s3_backend):
    unfinished = s3_backend.open_staging()
    for chunk in random_chunks(PART + 5, seed=1):
        unfinished.write(chunk)  # one part uploaded, the upload still open
    assert keys_under(s3_backend, "staging/") == [unfinished.name]
    unfinished.abort()

    closed, _ = stage(s3_backend, [b"abc"])
    s3_backend.discard(closed)

    never_written = s3_backend.open_staging()
    never_written.abort()
    assert keys_under(s3_backend, "staging/") == []


def test_clean_staging_removes_a_dead_process_leftover_at_once(s3_backend, monkeypatch):
    """Leftovers of a killed ingest go at the next run (an unfinished multipart upload and
    a completed staging object), a live process's upload stays."""
    from witness.storage.backends import base
    from witness.storage.tests.test_local import dead_pid

    monkeypatch.setattr(base.os, "getpid", dead_pid)
    stage(s3_backend, [b"completed, never finalized"])
    crashed = s3_backend.open_staging()
    for chunk in random_chunks(PART, seed=3):
        crashed.write(chunk)
    monkeypatch.undo()
    live = s3_backend.open_staging()
    for chunk in random_chunks(PART, seed=4):
        live.write(chunk)
    assert s3_backend.clean_staging(timedelta(hours=1)) == 2
    assert [u["Key"] for u in s3_backend.client.list_multipart_uploads(
        Bucket=s3_backend.bucket).get("Uploads", [])] == [live.name]
    live.abort()


def test_clean_staging_removes_old_leftovers_only(s3_backend):
    kept, sha = stage(s3_backend, [b"kept"])
    final = s3_backend.finalize(kept, sha)
    stage(s3_backend, [b"left behind by a crash"])
    crashed = s3_backend.open_staging()
    for chunk in random_chunks(PART, seed=2):
        crashed.write(chunk)
    assert len(keys_under(s3_backend, "staging/")) == 2

    assert s3_backend.clean_staging(timedelta(hours=1)) == 0
    assert len(keys_under(s3_backend, "staging/")) == 2
    time.sleep(1.1)
    assert s3_backend.clean_staging(timedelta(seconds=1)) == 2
    assert keys_under(s3_backend, "staging/") == []
    assert s3_backend.exists(final.key)


def test_range_reads(s3_backend):
    data = bytes(range(256)) * 100
    staging, sha = stage(s3_backend, [data])
    key = s3_backend.finalize(staging, sha).key

    def read(*args, **kwargs):
        return b"".join(s3_backend.read(key, *args, **kwargs))

    assert read() == data
    assert read(0, 10) == data[:10]
    assert read(5000) == data[5000:]
    assert read(100, 25000, chunk_size=999) == data[100:25000]
    assert read(len(data) - 3, len(data) + 100) == data[-3:]
    assert read(len(data)) == b"" and read(7, 7) == b""
    with pytest.raises(NotFound):
        read_missing = s3_backend.read(content_key("0" * 64))
        next(read_missing)
    with pytest.raises(NotFound):
        s3_backend.size(content_key("0" * 64))
    assert not s3_backend.exists(content_key("0" * 64))


def test_zero_byte_final_object_reads_empty(s3_backend):
    staging, sha = stage(s3_backend, [])
    key = s3_backend.finalize(staging, sha).key
    assert b"".join(s3_backend.read(key)) == b"" and s3_backend.size(key) == 0


def test_object_lock_prevents_deleting_an_original_ING4(s3_server):
    backend = make_backend(s3_server)
    assert backend.ensure_bucket(object_lock=True, retention_days=1) is True
    assert backend.ensure_bucket(object_lock=True, retention_days=1) is False
    staging, sha = stage(backend, [b"evidence"])
    final = backend.finalize(staging, sha)
    assert keys_under(backend, "staging/") == []  # locked staging versions are still removed

    full = backend.prefix + final.key
    (version,) = versions_of(backend, final.key)
    head = backend.client.head_object(Bucket=backend.bucket, Key=full)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    for extra in ({"VersionId": version["VersionId"]},
                  {"VersionId": version["VersionId"], "BypassGovernanceRetention": True},
                  {}):
        with pytest.raises(ClientError) as caught:
            backend.client.delete_object(Bucket=backend.bucket, Key=full, **extra)
        assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert b"".join(backend.read(final.key)) == b"evidence"
    assert [v["VersionId"] for v in versions_of(backend, final.key)] == [version["VersionId"]]


def test_object_lock_cannot_be_added_to_an_existing_bucket(s3_server, s3_backend):
    again = make_backend(s3_server, bucket=s3_backend.bucket)
    with pytest.raises(WitnessError) as caught:
        again.ensure_bucket(object_lock=True, retention_days=1)
    assert caught.value.code == "s3_no_object_lock"
    with pytest.raises(ValueError):
        again.ensure_bucket(object_lock=True)


def test_unreachable_endpoint_is_a_clear_error():
    (port,) = free_ports(1)
    backend = S3Backend(bucket="witness", endpoint_url=f"http://127.0.0.1:{port}",
                        access_key="x", secret_key="y")
    with pytest.raises(WitnessError) as caught:
        backend.exists("sha256/ab/cd/x")
    error = caught.value
    assert error.code == "s3_unreachable"
    assert f"http://127.0.0.1:{port}" in error.en and "cannot be reached" in error.en
    assert "looking up a stored object" in error.en
    assert set(error.as_dict()) == {"code", "zh", "en"}


def test_wrong_secret_and_missing_bucket_are_clear_errors(s3_server, s3_backend):
    wrong = make_backend(s3_server, bucket=s3_backend.bucket, secret_key="not-the-secret")
    with pytest.raises(WitnessError) as caught:
        list(wrong.read(content_key("1" * 64)))
    assert caught.value.code == "s3_access_denied"
    assert s3_backend.bucket in caught.value.en

    missing = make_backend(s3_server, bucket="no-such-bucket-here")
    staging = missing.open_staging()
    staging.write(b"x")
    with pytest.raises(WitnessError) as caught:
        staging.close()
    assert caught.value.code == "s3_no_bucket"
    assert "no-such-bucket-here" in caught.value.en
