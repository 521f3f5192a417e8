"""Crash safety of ingest (issue 3, ING-4): `witness ingest` killed with SIGKILL at random
points — half of them while a 64 MiB file is being copied — and run again, always ends with
every file stored exactly once and verified, no half-registered recording, and no staging
leftovers."""

import hashlib
import os
import random
import signal
import subprocess
import time

import pytest

from witness.recordings.models import IngestItem, IngestRun, Recording, RunStatus
from witness.storage.backends.local import LocalBackend
from witness.storage.models import Blob
from witness.testing.child import child_env, witness_binary

pytestmark = pytest.mark.django_db(transaction=True)

BIG = 64 * 1024 * 1024
INSIDE, ELSEWHERE = 12, 10  # kills inside the copy of the big file, and anywhere else
MAX_ROUNDS = 60


def write_random(path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, 4 * 1024 * 1024)
            out.write(rng.randbytes(n))
            left -= n


def big_staging(store, pid: int) -> bool:
    """Whether process ``pid`` is writing a staging file of the big file now (> 1 MiB). The
    pid in the staging name tells it from a killed run's leftover, which the new run only
    removes once it has started."""
    staging = store / "staging"
    try:
        return any(f"~{pid}~" in e.name and e.stat().st_size > 1024 * 1024
                   for e in os.scandir(staging))
    except OSError:
        return False


def check_invariants(store) -> None:
    """After any kill: each recording is whole (Blob row, final object, outcome row), and
    each Blob row's object is in the store with its size."""
    backend = LocalBackend(store)
    for blob in Blob.objects.all():
        assert backend.exists(blob.key) and backend.size(blob.key) == blob.size
    for rec in Recording.objects.select_related("blob"):
        assert IngestItem.objects.filter(recording=rec).exists()


def test_kill_9_at_random_points_then_rerun_stores_each_file_once_ING4(scene, tmp_path):
    store = tmp_path / "store"
    env = child_env(WITNESS_STORAGE=f"file://{store}")
    if env is None:
        pytest.fail("the test database must be reachable from a child process")
    vol = scene.volume
    big = vol.root / "DCIM" / "100MEDIA" / "BIG_0000.MP4"
    write_random(big, BIG, seed=7)
    expected = {p.relative_to(vol.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in vol.root.rglob("*") if p.is_file() and not p.is_symlink()
                and p.suffix.lower() in (".mp4", ".jpg", ".wav")}
    seed = int(os.environ.get("WITNESS_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    command = [str(witness_binary()), "ingest", str(vol.root), "--json"]
    inside = elsewhere = 0
    longest = 4.0  # a kill "anywhere" falls inside the time a run takes
    for _round in range(MAX_ROUNDS):
        if inside >= INSIDE and elsewhere >= ELSEWHERE:
            break
        aim_inside = inside < INSIDE and (inside <= elsewhere or elsewhere >= ELSEWHERE)
        started = time.monotonic()
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            if aim_inside:
                deadline = time.monotonic() + 60
                while not big_staging(store, child.pid) and child.poll() is None:
                    assert time.monotonic() < deadline, f"no big staging file (seed {seed})"
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 0.15))
            else:  # start-up, scanning, small files, registering, finishing
                time.sleep(rng.uniform(0.2, longest))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                inside += aim_inside
                elsewhere += not aim_inside
            else:  # it finished first: aim earlier next time
                longest = max(0.5, 0.9 * (time.monotonic() - started))
        finally:
            child.wait(timeout=60)
        check_invariants(store)
    assert inside >= INSIDE and elsewhere >= ELSEWHERE, (
        f"only {inside} + {elsewhere} kills (seed {seed})")

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, f"seed {seed}: {done.stderr}"
    check_invariants(store)
    recordings = {r.source_path: r for r in Recording.objects.select_related("blob")}
    assert set(recordings) == set(expected), f"seed {seed}"
    assert len(Recording.objects.all()) == len(expected)  # exactly once
    for path, sha in expected.items():
        blob = recordings[path].blob
        stored = store / blob.key
        assert blob.sha256 == sha == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert Blob.objects.count() == len(set(expected.values()))
    assert list((store / "staging").iterdir()) == [], f"staging leftovers (seed {seed})"
    assert not IngestRun.objects.filter(status=RunStatus.RUNNING).exists()
    assert IngestRun.objects.filter(status=RunStatus.INTERRUPTED).count() >= inside
