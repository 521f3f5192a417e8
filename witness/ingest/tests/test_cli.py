"""`witness ingest` from the shell: JSON summary, exit status, bilingual errors (issue 3)."""

import json
import subprocess

import pytest

from witness.recordings.models import Recording
from witness.testing.child import child_env, witness_binary

pytestmark = pytest.mark.django_db(transaction=True)


def run(args, env):
    return subprocess.run([str(witness_binary()), "ingest", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_json_summary_and_exit_status_ING1(scene, tmp_path):
    env = child_env(WITNESS_STORAGE=f"file://{tmp_path / 'store'}")
    done = run([scene.volume.root, "--json"], env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    files = {f["path"]: f for f in data["files"]}
    seg1 = files[scene.volume.names["seg1"]]
    assert seg1["outcome"] == "stored" and len(seg1["digests"]["sha256"]) == 64
    assert files[scene.volume.names["symlink"]]["outcome"] == "skipped"
    assert files[scene.volume.names["symlink"]]["reason_code"] == "symlink"
    assert data["counts"] == {"stored": 8, "duplicate": 0, "skipped": 2, "failed": 0}
    assert data["device"] == scene.device.serial
    assert Recording.objects.count() == 8
    again = run([scene.volume.root], env)  # human output: a table, exit 0
    assert again.returncode == 0 and "重复" in again.stdout


def test_files_that_cannot_be_stored_fail_exit_1_and_are_not_wiped_ING3(scene, tmp_path):
    """A store that cannot be written (its folder is a file): every media file fails with
    its reason, nothing is registered, nothing is wiped, exit status 1."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    env = child_env(WITNESS_STORAGE=f"file://{blocker / 'store'}")
    done = run([scene.volume.root, "--json", "--wipe"], env)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["counts"]["failed"] == 8 and data["counts"]["stored"] == 0
    failed = [f for f in data["files"] if f["outcome"] == "failed"]
    assert all(f["reason_code"] == "storage_failed" and "\n" in f["reason"] for f in failed)
    assert not Recording.objects.exists()
    assert scene.volume.path("seg1").exists()


def test_unknown_device_is_a_bilingual_error_with_exit_1(scene, tmp_path):
    env = child_env(WITNESS_STORAGE=f"file://{tmp_path / 'store'}")
    bare = tmp_path / "card"
    bare.mkdir()
    (bare / "a.wav").write_bytes(scene.volume.path("wav").read_bytes())
    done = run([bare, "--device", "NOPE-404"], env)
    assert done.returncode == 1
    assert "未登记序列号为 NOPE-404 的设备" in done.stderr
    assert "No device with serial number NOPE-404 is registered" in done.stderr
    as_json = run([bare, "--device", "NOPE-404", "--json"], env)
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["error"]["code"] == "device_not_found"
    assert not Recording.objects.exists()


def test_help_is_available():
    done = subprocess.run([str(witness_binary()), "ingest", "--help"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0 and "--wipe" in done.stdout and "--backfill" in done.stdout
