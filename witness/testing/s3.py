"""A real S3 server for tests: a throwaway single-node Ceph cluster with RGW, started once
per test session (once per pytest-xdist worker) by scripts/ceph-rgw.sh. A pytest plugin:
the root conftest.py loads it, so any app's tests can ask for `s3_server` / `s3_backend`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ceph-rgw.sh"
BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "ceph-authtool",
            "monmaptool", "uuidgen", "curl")
ACCESS_KEY, SECRET_KEY = "AKWITNESSTEST", "SKWITNESSTEST"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str


def free_ports(count: int) -> list[int]:
    """Ports nobody listens on now (bound to port 0, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start(directory: str) -> str | None:
    """Start a cluster in ``directory``; its endpoint, or None (log kept in the directory)."""
    mon, rgw = free_ports(2)
    env = {**os.environ, "CEPH_RGW_ACCESS_KEY": ACCESS_KEY, "CEPH_RGW_SECRET_KEY": SECRET_KEY}
    log = Path(directory + ".log")
    with log.open("w") as out:  # a file, not a pipe: the daemons inherit it
        done = subprocess.run([str(SCRIPT), "start", directory, str(mon), str(rgw)],
                              stdout=out, stderr=out, env=env, timeout=180, check=False)
    return f"http://127.0.0.1:{rgw}" if done.returncode == 0 else None


def _stop(directory: str) -> None:
    subprocess.run([str(SCRIPT), "stop", directory], timeout=60, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def s3_server():
    """Endpoint and keys of a running Ceph RGW; fails under CI=true if Ceph is missing."""
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        reason = (f"Ceph RGW binaries missing ({', '.join(missing)}); "
                  "scripts/install-system.sh installs them")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    # A short path: Ceph's admin sockets live in it and Unix socket paths are short.
    root = tempfile.mkdtemp(prefix="ceph-")
    directory = os.path.join(root, "c")
    try:
        endpoint = None
        for _ in range(2):  # a port taken between choosing and binding: try once more
            endpoint = _start(directory)
            if endpoint:
                break
            _stop(directory)
        if not endpoint:
            pytest.fail("Ceph RGW did not start:\n" + Path(directory + ".log").read_text())
        yield S3Server(endpoint=endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    finally:
        _stop(directory)
        shutil.rmtree(root, ignore_errors=True)


def make_backend(server: S3Server, **changes):
    """An S3Backend on ``server`` (a new bucket name unless ``bucket`` is given)."""
    from witness.storage.backends.s3 import S3Backend

    args = {"bucket": f"t-{uuid.uuid4().hex[:16]}", "endpoint_url": server.endpoint,
            "access_key": server.access_key, "secret_key": server.secret_key,
            "prefix": "witness"}
    return S3Backend(**{**args, **changes})


def empty_bucket(backend) -> None:
    """Remove every version and upload and the bucket itself (frees the OSD's memory)."""
    client, bucket = backend.client, backend.bucket
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for u in page.get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_backend(s3_server):
    """An S3Backend on a fresh versioned bucket (prefix "witness/"), removed afterwards."""
    backend = make_backend(s3_server)
    backend.ensure_bucket()
    yield backend
    empty_bucket(backend)
