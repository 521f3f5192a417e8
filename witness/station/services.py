"""Station mode (issue 3 item 5; ING-1, ING-3): ingest every device volume that is docked.

``Station.poll`` is one pass over the watched folder (each sub-folder is one mounted device
volume, e.g. ``/media/station/CAM-07``):

* a new volume gets a :class:`StationVolume` row and *settles*: its listing (every path,
  size and modification time, from the same ``scan`` the ingest uses) must stay unchanged
  for ``settle`` seconds, so a volume still being mounted or copied onto is not read half;
* a settled volume waits for one of ``jobs`` slots, then a child process
  (``witness station --volume-id ID``) runs the ingest pipeline on it and writes its
  progress into the row, which the custodian's web page shows;
* a child that dies without finishing marks the row failed (the ingest itself is
  crash-safe: the next docking completes the work);
* a volume that disappears keeps its row as history; when it comes back, or when its listing
  changes after the ingest (new files), a new row begins. A volume whose listing is what the
  ingest left is not ingested again.

Each volume runs in its own process, so eight devices at once use every core (hashing,
copying and verifying release the GIL, the per-file work in Python does not), and one
crashing device cannot stop the others. State lives in the database, not in the station
process: a restarted station carries on with the rows it finds.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import WitnessError
from witness.ingest.services import Ingest, Progress
from witness.ingest.volume import Skipped, read_identity, scan
from witness.recordings.models import Outcome, RunStatus
from witness.storage.backends.base import host_name, process_alive

from .models import ACTIVE_STATES, StationVolume, VolumeState

ACTOR = "system:station"
FLUSH_SECONDS = 0.5  # a child writes its progress at most this often
LOG_TAIL = 2000


def signature(path: str | os.PathLike) -> str | None:
    """A digest of the volume's listing (relative paths, sizes, modification times, skipped
    entries); None while the volume cannot be read (still being mounted, gone)."""
    h = hashlib.sha256()
    try:
        for entry in scan(path):
            h.update(entry.raw_relative)
            if isinstance(entry, Skipped):
                h.update(b"\0skip\0" + entry.reason.value.encode())
            else:
                h.update(b"\0%d\0%d" % (entry.size, entry.mtime_ns))
            h.update(b"\n")
    except (OSError, WitnessError):
        return None
    return h.hexdigest()


def _serial(path: str) -> str:
    try:
        identity = read_identity(path)
    except (OSError, WitnessError):
        return ""
    return identity.serial if identity else ""


def log_path(pk: int) -> Path:
    folder = Path(settings.WITNESS_HOME) / "station"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"volume-{pk}.log"


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - LOG_TAIL))
            return fh.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


class Forked:
    """A child made by ``fork``, with the part of Popen's interface the station uses."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def fork(pk: int) -> Forked:
    """The child that ingests one volume, forked from the station: it starts at once,
    with Django already loaded (eight ``python -m witness`` start-ups would cost seconds
    of CPU on a small station PC). It runs in its own session, so Ctrl-C on the station
    lets it finish its volume; its output goes to ``WITNESS_HOME/station/volume-PK.log``.
    The station is single-threaded, so forking it is safe."""
    log = log_path(pk)
    connections.close_all()  # the child opens its own database connection
    pid = os.fork()
    if pid:
        return Forked(pid)
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 0 if ingest_volume(pk).state == VolumeState.DONE else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def spawn(pk: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The child as a new process, ``witness station --volume-id PK`` (for a caller that
    must not fork: a test process with threads), output in the same log as ``fork``."""
    with open(log_path(pk), "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "witness", "station",
                                 "--volume-id", str(pk)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                start_new_session=True)


class Station:
    def __init__(self, watch_dir: str | os.PathLike, *, settle: float = 10.0, jobs: int = 4,
                 wipe: bool = False, launcher: Callable[[int], Forked | subprocess.Popen] = fork,
                 clock: Callable = timezone.now):
        self.watch_dir = os.path.abspath(os.fspath(watch_dir))
        if not os.path.isdir(self.watch_dir):
            raise WitnessError(_("The folder %(path)s to watch does not exist or is not a "
                                 "folder."), code="watch_dir_missing", path=self.watch_dir)
        self.settle, self.jobs, self.wipe = settle, max(1, jobs), wipe
        self.launcher, self.clock = launcher, clock
        self.host = host_name()
        self.children: dict[int, Forked | subprocess.Popen] = {}

    # -- the rows of this station ----------------------------------------------------------

    def rows(self):
        return StationVolume.objects.filter(host=self.host, watch_dir=self.watch_dir)

    def volumes(self) -> list[str]:
        """The mounted volumes: the sub-folders of the watched folder (not hidden ones, not
        symbolic links)."""
        found = []
        try:
            with os.scandir(self.watch_dir) as it:
                for entry in it:
                    if entry.name.startswith(".") or entry.is_symlink():
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        found.append(entry.path)
        except OSError:
            return []
        return sorted(found)

    # -- one pass ---------------------------------------------------------------------------

    def poll(self) -> None:
        now = self.clock()
        self._reap(now)
        present = set(self.volumes())
        latest = {}
        for row in self.rows().filter(present=True).order_by("id"):
            latest[row.path] = row  # the newest row of each docked path wins
        for path in latest:
            if path not in present:
                self.rows().filter(path=path, present=True).update(present=False, gone_at=now)
        for path in sorted(present):
            row = latest.get(path)
            if row is None:
                self._docked(path, now)
            elif row.state == VolumeState.SETTLING:
                self._settling(row, now)
            elif row.state in (VolumeState.DONE, VolumeState.FAILED):
                sig = signature(path)
                if sig is not None and sig != row.signature_after:
                    StationVolume.objects.filter(pk=row.pk).update(present=False)
                    self._docked(path, now, sig)
        self._launch()

    def _docked(self, path: str, now, sig: str | None = None) -> None:
        StationVolume.objects.create(
            host=self.host, watch_dir=self.watch_dir, path=path, serial=_serial(path),
            wipe=self.wipe, signature=sig or signature(path) or "", changed_at=now,
            first_seen=now)

    def _settling(self, row: StationVolume, now) -> None:
        sig = signature(row.path)
        if sig is None or sig != row.signature:
            StationVolume.objects.filter(pk=row.pk).update(signature=sig or "",
                                                           changed_at=now,
                                                           serial=_serial(row.path))
        elif (now - row.changed_at).total_seconds() >= self.settle:
            StationVolume.objects.filter(pk=row.pk, state=VolumeState.SETTLING).update(
                state=VolumeState.QUEUED)

    def _launch(self) -> None:
        busy = self.rows().filter(state=VolumeState.INGESTING).count()
        for row in self.rows().filter(state=VolumeState.QUEUED).order_by("changed_at", "id"):
            if busy >= self.jobs:
                return
            if not StationVolume.objects.filter(pk=row.pk, state=VolumeState.QUEUED).update(
                    state=VolumeState.INGESTING, started_at=self.clock()):
                continue
            child = self.launcher(row.pk)
            StationVolume.objects.filter(pk=row.pk).update(pid=child.pid)
            self.children[row.pk] = child
            busy += 1

    def _reap(self, now) -> None:
        for pk, child in list(self.children.items()):
            if child.poll() is not None:
                del self.children[pk]
                self._ended(pk, child.returncode, now)
        # children of an earlier station process on this host (it was stopped or killed)
        for row in self.rows().filter(state=VolumeState.INGESTING).exclude(
                pk__in=list(self.children)):
            if row.pid and not process_alive(row.pid):
                self._ended(row.pk, None, now)

    def _ended(self, pk: int, code: int | None, now) -> None:
        """A child exited: if it did not finish its row, the row failed."""
        with transaction.atomic():
            row = StationVolume.objects.select_for_update().get(pk=pk)
            if row.state != VolumeState.INGESTING:
                return
            error = WitnessError(_("The ingest process ended without finishing (exit "
                                   "status %(status)s). Files stored so far are kept; "
                                   "retry, or dock the device again, to complete the work."),
                                 code="station_child_died",
                                 status="?" if code is None else code).bilingual
            tail = _tail(log_path(pk))
            row.state, row.finished_at = VolumeState.FAILED, now
            row.error = error + (f"\n{tail}" if tail else "")
            row.signature_after = signature(row.path) or ""
            row.save(update_fields=["state", "finished_at", "error", "signature_after",
                                    "updated_at"])
            audit.append(ACTOR, "station.ingest_failed", row, outcome="failure",
                         details={"volume": row.path, "exit_status": code})

    # -- the loop ---------------------------------------------------------------------------

    def busy(self) -> bool:
        return bool(self.children) or self.rows().filter(
            present=True, state__in=ACTIVE_STATES).exists()

    def serve(self, *, interval: float = 2.0, once: bool = False,
              stop: Callable[[], bool] = lambda: False,
              tick: Callable[[Station], None] | None = None) -> None:
        """Poll until ``stop()``; with ``once``, until every docked volume is ingested."""
        while not stop():
            self.poll()
            if tick is not None:
                tick(self)
            if once and not self.busy():
                return
            time.sleep(interval)


class StationProgress(Progress):
    """Writes a child's progress into its row, at most every ``FLUSH_SECONDS``."""

    def __init__(self, pk: int, ingest: Ingest):
        self.pk, self.ingest = pk, ingest
        self.files = self.bytes = 0
        self.current = ""
        self.flushed = 0.0

    def _flush(self, force: bool = False, **extra) -> None:
        now = time.monotonic()
        if not force and now - self.flushed < FLUSH_SECONDS:
            return
        self.flushed = now
        StationVolume.objects.filter(pk=self.pk).update(
            files_done=self.files, bytes_done=self.bytes, current_file=self.current[:1000],
            updated_at=timezone.now(), **extra)

    def start(self, files, total_bytes):
        self._flush(True, files_total=files, bytes_total=total_bytes,
                    run=self.ingest.ingest_run)

    def file(self, entry):
        self.current = entry.display
        self._flush()

    def advance(self, n):
        self.bytes += n
        self._flush()

    def done(self, item):
        if item.outcome != Outcome.SKIPPED:
            self.files += 1
        self._flush()


def ingest_volume(pk: int) -> StationVolume:
    """The child's work: ingest the row's volume, write the outcome into the row."""
    row = StationVolume.objects.get(pk=pk)
    StationVolume.objects.filter(pk=pk).update(state=VolumeState.INGESTING, pid=os.getpid(),
                                               started_at=timezone.now(), error="")
    done = {"current_file": "", "finished_at": None}
    try:
        ingest = Ingest(row.path, wipe=row.wipe, actor=ACTOR)
        progress = ingest.progress = StationProgress(pk, ingest)
        run = ingest.run()
    except WitnessError as exc:
        done.update(state=VolumeState.FAILED, error=exc.bilingual)
    else:
        progress._flush(True)
        failed = run.counts.get(Outcome.FAILED, 0)
        done.update(run=run, state=VolumeState.DONE if run.status == RunStatus.DONE
                    else VolumeState.FAILED,
                    error=WitnessError(_("%(count)s file(s) failed; see the ingest run."),
                                       code="files_failed", count=failed).bilingual
                    if failed else "")
    done.update(finished_at=timezone.now(), signature_after=signature(row.path) or "")
    StationVolume.objects.filter(pk=pk).update(**done)
    return StationVolume.objects.get(pk=pk)


def summary(rows) -> list[dict]:
    return [{"id": r.pk, "volume": r.path, "serial": r.serial, "state": r.state,
             "present": r.present, "run": r.run_id, "files": r.files_total,
             "files_done": r.files_done, "bytes": r.bytes_total, "bytes_done": r.bytes_done,
             "counts": r.run.counts if r.run_id else {}, "error": r.error,
             "started_at": r.started_at, "finished_at": r.finished_at}
            for r in rows.select_related("run")]
