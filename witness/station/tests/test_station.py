"""Station mode (issue 3 item 5; ING-1, ING-3): volumes docked under a watched folder are
ingested once stable, several at once, each in its own `witness` child process."""

import json
import os
import subprocess
from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from witness.devices import services as devices
from witness.recordings.models import Recording
from witness.station import services
from witness.station.models import StationVolume, VolumeState
from witness.testing import factories as f
from witness.testing.child import child_env, witness_binary
from witness.testing.media import ffmpeg_available
from witness.testing.volumes import docked_camera

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    def __init__(self):
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def tick(self, seconds):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def dock(make_agency, tmp_path):
    """A watched folder and a way to dock cameras (registered, issued) under it."""
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")
    ns = make_agency("lushan-2019")
    ns.watch = tmp_path / "media"
    ns.watch.mkdir()
    ns.env = child_env(WITNESS_STORAGE=f"file://{tmp_path / 'store'}")
    ns.launcher = partial(services.spawn, env=ns.env)
    start = (timezone.localtime() - timedelta(days=1)).replace(hour=10, minute=0, second=0,
                                                               microsecond=0)

    def camera(name, count=2, register=True):
        serial = f"DSJ-ST-{name}"
        if register:
            device = f.DeviceFactory(unit=ns.field, serial=serial)
            devices.issue_device(device, ns.people["officer"], at=start - timedelta(hours=1),
                                 no_check_reason="test", actor="test")
        return docked_camera(ns.watch / name, serial, "B7", start.replace(tzinfo=None),
                             count=count)

    ns.camera = camera
    return ns


def row_of(path):
    return StationVolume.objects.filter(path=str(path)).latest("id")


def test_several_volumes_ingested_at_once_each_in_its_own_process_ING1(dock):
    cams = [dock.camera(n) for n in ("A", "B", "C")]
    station = services.Station(dock.watch, settle=0, jobs=3, launcher=dock.launcher)
    busy = []
    station.serve(interval=0.1, once=True, tick=lambda s: busy.append(
        s.rows().filter(state=VolumeState.INGESTING).count()))
    assert max(busy) == 3  # all three at once
    for cam in cams:
        row = row_of(cam.root)
        assert row.state == VolumeState.DONE, row.error
        assert row.serial == cam.serial and row.run.device.serial == cam.serial
        assert row.files_done == row.files_total == 2
        assert row.bytes_done == row.bytes_total == sum(
            cam.path(r).stat().st_size for r in cam.names) > 0
        assert row.run.counts["stored"] == 2 and row.current_file == ""
        assert row.pid and row.pid != os.getpid()
    assert Recording.objects.count() == 6
    # still docked and unchanged: nothing runs again
    station.poll()
    assert StationVolume.objects.count() == 3


def test_waits_until_the_listing_is_stable_for_the_settle_time_ING1(dock):
    cam = dock.camera("A")
    clock = Clock()
    started = []

    def launcher(pk):
        started.append(pk)
        return subprocess.Popen(["true"])

    station = services.Station(dock.watch, settle=10, launcher=launcher, clock=clock)
    station.poll()
    assert row_of(cam.root).state == VolumeState.SETTLING
    clock.tick(6)
    (cam.root / "DCIM" / "late.txt").write_text("still copying")  # the listing changes
    station.poll()
    clock.tick(9)  # 15 s since docking, 9 s since the change
    station.poll()
    assert row_of(cam.root).state == VolumeState.SETTLING and not started
    clock.tick(1.5)
    station.poll()
    assert started == [row_of(cam.root).pk]


def test_a_child_that_dies_marks_its_volume_failed_and_keeps_what_is_stored_ING1(dock):
    cam = dock.camera("A")
    station = services.Station(dock.watch, settle=0, launcher=lambda pk: subprocess.Popen(
        ["sh", "-c", "echo 'killed while copying' >&2; kill -9 $$"],
        stderr=open(services.log_path(pk), "ab")))
    station.serve(interval=0.1, once=True)
    row = row_of(cam.root)
    assert row.state == VolumeState.FAILED
    assert "进程" in row.error and "exit status -9" in row.error
    assert "killed while copying" in row.error
    assert row.finished_at is not None


def test_a_restarted_station_takes_over_rows_of_a_dead_process_ING1(dock):
    cam = dock.camera("A")
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive = subprocess.Popen(["sleep", "30"])
    rows = [StationVolume.objects.create(
        agency=dock.agency, host=services.host_name(), watch_dir=str(dock.watch),
        path=str(cam.root), state=VolumeState.INGESTING, started_at=started, pid=pid,
        pid_token=token, signature=services.signature(cam.root))
        for pid, token, started in [
            (dead.pid, "boot:1", timezone.now()),  # its process is gone
            (alive.pid, "other-boot:1", timezone.now()),  # the pid belongs to another now
            (alive.pid, services.process_token(alive.pid), timezone.now()),  # still running
            (None, "", timezone.now() - timedelta(minutes=5)),  # never got its process
        ]]
    try:
        services.Station(dock.watch, launcher=dock.launcher).poll()
    finally:
        alive.kill()
        alive.wait()
    states = []
    for row in rows:
        row.refresh_from_db()
        states.append(row.state)
    assert states == [VolumeState.FAILED, VolumeState.FAILED, VolumeState.INGESTING,
                      VolumeState.FAILED]
    assert "exit status ?" in rows[0].error
    # while a child of that path still runs, no second row is made for the same volume
    assert StationVolume.objects.filter(path=str(cam.root)).count() == 4


def test_a_volume_removed_before_its_turn_fails_and_is_never_launched_ING1(dock):
    cam = dock.camera("A")
    started = []
    station = services.Station(dock.watch, settle=0, jobs=1, launcher=lambda pk: (
        started.append(pk), subprocess.Popen(["sleep", "5"]))[1])
    busy = StationVolume.objects.create(agency=dock.agency, host=station.host,
                                        watch_dir=station.watch_dir, path="/elsewhere",
                                        state=VolumeState.INGESTING, pid=os.getpid(),
                                        pid_token=services.process_token(os.getpid()))
    station.poll()
    station.poll()  # settled, but the only slot is taken
    assert row_of(cam.root).state == VolumeState.QUEUED
    cam.root.rename(dock.watch / ".gone")
    station.poll()
    row = row_of(cam.root)
    assert row.state == VolumeState.FAILED and not row.present
    assert "取出" in row.error or "removed" in row.error
    StationVolume.objects.filter(pk=busy.pk).update(state=VolumeState.DONE)
    station.poll()
    assert started == []


def test_a_launcher_that_cannot_start_fails_the_row_and_the_station_goes_on_ING1(dock):
    cam = dock.camera("A")

    def launcher(pk):
        raise OSError(11, "Resource temporarily unavailable")

    station = services.Station(dock.watch, settle=0, launcher=launcher)
    station.serve(interval=0.05, once=True)
    row = row_of(cam.root)
    assert row.state == VolumeState.FAILED and "Resource temporarily unavailable" in row.error


def test_an_unreadable_volume_fails_instead_of_settling_for_ever_ING1(dock, monkeypatch):
    """A mount that answers every read with an I/O error (simulated: the tests run as root,
    which reads any folder) fails after the grace time; lost+found is never a volume."""
    clock = Clock()
    (dock.watch / "lost+found").mkdir()
    (dock.watch / "CARD").mkdir()
    station = services.Station(dock.watch, settle=5, launcher=dock.launcher, clock=clock)
    monkeypatch.setattr(services, "scan", lambda path: (_ for _ in ()).throw(
        OSError(5, "Input/output error")))
    station.poll()
    row = row_of(dock.watch / "CARD")
    assert StationVolume.objects.count() == 1  # not lost+found
    clock.tick(59)
    station.poll()
    row.refresh_from_db()
    assert row.state == VolumeState.SETTLING
    clock.tick(2)
    station.poll()
    row.refresh_from_db()
    assert row.state == VolumeState.FAILED and "cannot be read" in row.error
    assert not station.busy()


def test_wiped_volume_is_not_ingested_again_new_files_start_a_new_row_ING3(dock):
    cam = dock.camera("A")
    station = services.Station(dock.watch, settle=0, wipe=True, launcher=dock.launcher)
    station.serve(interval=0.1, once=True)
    first = row_of(cam.root)
    assert first.state == VolumeState.DONE and first.wipe
    assert not cam.path("seg1").exists() and (cam.root / "DEVICE.TXT").exists()
    station.poll()
    assert StationVolume.objects.count() == 1  # the wiped listing is what the ingest left
    cam.path("seg1").parent.joinpath("extra.wav").write_bytes(b"RIFF")  # a new file
    station.poll()
    second = row_of(cam.root)
    assert second.pk != first.pk and second.state == VolumeState.SETTLING
    first.refresh_from_db()
    assert not first.present


def test_undocked_volume_keeps_its_row_and_redocking_starts_a_new_one_ING1(dock):
    cam = dock.camera("A")
    station = services.Station(dock.watch, settle=0, launcher=dock.launcher)
    station.serve(interval=0.1, once=True)
    first = row_of(cam.root)
    hidden = dock.watch / ".A-unmounted"
    cam.root.rename(hidden)
    station.poll()
    first.refresh_from_db()
    assert not first.present and first.gone_at is not None
    hidden.rename(cam.root)
    station.serve(interval=0.1, once=True)
    second = row_of(cam.root)
    assert second.pk != first.pk and second.state == VolumeState.DONE
    assert second.run.counts == {"stored": 0, "duplicate": 2, "skipped": 1, "failed": 0}
    assert Recording.objects.count() == 2


def test_volume_of_unregistered_device_fails_with_bilingual_reason_ING1(dock):
    cam = dock.camera("X", register=False)
    station = services.Station(dock.watch, settle=0, launcher=dock.launcher)
    station.serve(interval=0.1, once=True)
    row = row_of(cam.root)
    assert row.state == VolumeState.FAILED and row.run is None
    assert "未登记序列号为 DSJ-ST-X 的设备" in row.error
    assert "No device with serial number DSJ-ST-X is registered" in row.error
    assert cam.path("seg1").exists()


def test_child_in_process_writes_progress_into_its_row_ING1(dock):
    cam = dock.camera("A", count=3)
    row = StationVolume.objects.create(host="h", watch_dir=str(dock.watch),
                                       agency=dock.agency, path=str(cam.root),
                                       state=VolumeState.INGESTING)
    done = services.ingest_volume(row.pk)
    assert done.state == VolumeState.DONE and done.files_done == 3
    assert done.signature_after == services.signature(cam.root)
    assert done.rate and done.rate > 0 and done.percent == 100


def witness(*args, env):
    return subprocess.run([str(witness_binary()), "station", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_witness_station_once_json_and_exit_status_ING1(dock):
    dock.camera("A")
    dock.camera("X", register=False)
    done = witness("--watch", dock.watch, "--once", "--settle", "0", "--interval", "0.1",
                   "--json", env=dock.env)
    assert done.returncode == 1, done.stderr  # X failed
    data = json.loads(done.stdout)
    states = {v["serial"]: v["state"] for v in data["volumes"]}
    assert states == {"DSJ-ST-A": "done", "DSJ-ST-X": "failed"}
    ok = next(v for v in data["volumes"] if v["serial"] == "DSJ-ST-A")
    assert ok["counts"]["stored"] == 2


def test_witness_station_refuses_a_missing_folder_in_both_languages_ING1(dock):
    done = witness("--watch", dock.watch / "nope", "--once", env=dock.env)
    assert done.returncode == 1
    assert "要监视的文件夹" in done.stderr and "does not exist" in done.stderr
    helped = witness("--help", env=dock.env)
    assert helped.returncode == 0 and "--watch" in helped.stdout
    assert "--volume-id" not in helped.stdout
