"""A real S3 server for tests: a throwaway single-node Ceph cluster with RGW, started by
scripts/ceph-rgw.sh the first time a test asks for it. A pytest plugin: the root conftest.py
loads it, so any app's tests can ask for `s3_server` / `s3_backend`.

One cluster per test run, shared by every pytest-xdist worker: two clusters side by side on
one machine talk to each other's daemons now and then (seen here: an OSD refused by the other
cluster's monitor with "wrong fsid"), so the first worker that needs one starts it under a
file lock and the others read its endpoint. The controlling process stops it at the end."""

from __future__ import annotations

import fcntl
import json
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
ATTEMPTS = 3
STATE = "ceph-rgw.json"  # in the run's shared temporary folder: endpoint and directory


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


def _logs(directory: str) -> str:
    """The start-up output and the tail of every daemon's log, for a failure message."""
    parts = []
    for path in [Path(directory + ".log"), *sorted(Path(directory, "log").glob("*"))]:
        try:
            lines = path.read_text(errors="replace").splitlines()[-25:]
        except OSError:
            continue
        parts.append(f"--- {path.name}\n" + "\n".join(lines))
    return "\n".join(parts)


def _start(directory: str) -> str | None:
    """Start a cluster in ``directory``; its endpoint, or None (logs kept beside it)."""
    mon, rgw = free_ports(2)
    env = {**os.environ, "CEPH_RGW_ACCESS_KEY": ACCESS_KEY, "CEPH_RGW_SECRET_KEY": SECRET_KEY}
    log = Path(directory + ".log")
    with log.open("w") as out:  # a file, not a pipe: the daemons inherit it
        done = subprocess.run([str(SCRIPT), "start", directory, str(mon), str(rgw)],
                              stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=env,
                              timeout=240, check=False)
    return f"http://127.0.0.1:{rgw}" if done.returncode == 0 else None


def _stop(directory: str) -> None:
    subprocess.run([str(SCRIPT), "stop", directory], timeout=60, check=False,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def start_cluster(root: str) -> tuple[str, str]:
    """(endpoint, directory) of a new cluster under ``root``; pytest.fail with the daemons'
    logs when it does not come up in ATTEMPTS tries (a port taken between choosing and
    binding, a slow monitor)."""
    failures = []
    for attempt in range(ATTEMPTS):
        directory = os.path.join(root, f"c{attempt}")
        endpoint = _start(directory)
        if endpoint:
            return endpoint, directory
        failures.append(f"attempt {attempt + 1}:\n{_logs(directory)}")
        _stop(directory)
    pytest.fail("Ceph RGW did not start:\n" + "\n".join(failures))


def _check_binaries() -> None:
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        reason = (f"Ceph RGW binaries missing ({', '.join(missing)}); "
                  "scripts/install-system.sh installs them")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def _shared_folder(config) -> Path:
    """A folder every process of this run sees: the controller's base temporary folder
    (xdist workers get sub-folders of it)."""
    base = config._tmp_path_factory.getbasetemp()
    return base.parent if hasattr(config, "workerinput") else base


@pytest.fixture(scope="session")
def s3_server(pytestconfig):
    """Endpoint and keys of the run's Ceph RGW; fails under CI=true if Ceph is missing."""
    _check_binaries()
    shared = _shared_folder(pytestconfig)
    with open(shared / "ceph-rgw.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = shared / STATE
        if state.exists():
            saved = json.loads(state.read_text())
            if "failure" in saved:  # another worker tried already: do not wait again
                pytest.fail(saved["failure"])
            endpoint = saved["endpoint"]
        else:
            # A short path: Ceph's admin sockets live in it and Unix socket paths are short.
            root = tempfile.mkdtemp(prefix="ceph-")
            try:
                endpoint, directory = start_cluster(root)
            except BaseException as exc:
                state.write_text(json.dumps({"failure": str(exc), "root": root}))
                raise
            state.write_text(json.dumps({"endpoint": endpoint, "directory": directory,
                                         "root": root}))
    yield S3Server(endpoint=endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY)


def pytest_sessionfinish(session):
    """The controlling process (not an xdist worker) stops the run's cluster, if any."""
    if hasattr(session.config, "workerinput"):
        return
    state = _shared_folder(session.config) / STATE
    if not state.exists():
        return
    saved = json.loads(state.read_text())
    if saved.get("directory"):
        _stop(saved["directory"])
    shutil.rmtree(saved["root"], ignore_errors=True)
    state.unlink()


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
