"""Station mode (issue 3 item 5; ING-1, ING-3): ingest every device volume that is docked.

``Station.poll`` is one pass over the watched folder (each sub-folder is one mounted device
volume, e.g. ``/media/station/CAM-07``):

* a new volume gets a :class:`StationVolume` row and *settles*: its listing (every path,
  size and modification time, media or not, from the same ``scan`` the ingest uses) must
  stay unchanged for ``settle`` seconds, so a volume still being mounted or copied onto is
  not read half; one that stays unreadable fails after ``UNREADABLE_AFTER``;
* a settled volume waits for one of ``jobs`` slots, then a child process ingests it: forked
  from the station (``fork``; Django is loaded already) or started as ``witness station
  --volume-id N`` (``spawn``). The child writes its progress into the row, which the
  custodian's web page shows;
* a child that dies without finishing — or whose process is gone after a reboot (the row
  keeps the boot id and start time of its process, so a reused pid is not mistaken for
  it) — marks the row failed (the ingest itself is crash-safe: a retry completes the work);
* a volume that disappears keeps its row as history (one still waiting fails: "removed
  before ingest"); when it comes back, or when its listing changes after the ingest (new
  files), a new row begins. A volume whose listing is what the ingest left (the files it
  scanned, less those it wiped) is not ingested again; files that arrived during the ingest
  make the listing differ, so they are ingested next.

Each volume runs in its own process, so eight devices at once use every core (hashing,
copying and verifying release the GIL, the per-file work in Python does not), and one
crashing device cannot stop the others. State lives in the database, not in the station
process: a restarted station carries on with the rows it finds. Station hosts need unique
host names (the rows are the host's own).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import WitnessError
from witness.ingest.services import Ingest, Progress
from witness.ingest.volume import Skipped, VolumeFile, read_identity, scan
from witness.org.services import default_agency
from witness.recordings.models import Outcome, RunStatus
from witness.storage.backends.base import host_name

from .models import ACTIVE_STATES, StationVolume, VolumeState

ACTOR = "system:station"
FLUSH_SECONDS = 0.5  # a child writes its progress at most this often
LOG_LINES = 12
LAUNCH_GRACE = timedelta(minutes=1)  # an ingesting row without a process after this: dead
IGNORED = frozenset({"lost+found"})

REMOVED = _("The volume was removed before it was ingested; nothing was read from it.")
UNREADABLE = _("The volume cannot be read (is it mounted?); nothing was read from it.")
DIED = _("The ingest process ended without finishing (exit status %(status)s). Files "
         "stored so far are kept; retry, or dock the device again, to complete the work.")
NOT_STARTED = _("The ingest process could not be started: %(reason)s")


def signature(path: str | os.PathLike) -> str | None:
    """A digest of the volume's listing (relative paths, sizes, modification times of every
    entry, media or not); None while the volume cannot be read (still being mounted, gone)."""
    try:
        return signature_of(scan(path))
    except (OSError, WitnessError):
        return None


def signature_of(entries: Iterable[VolumeFile | Skipped], *, without=frozenset()) -> str:
    h = hashlib.sha256()
    for entry in entries:
        if entry.raw_relative in without:
            continue
        h.update(entry.raw_relative)
        if isinstance(entry, Skipped):
            h.update(b"\0skip\0" + entry.reason.value.encode())
        h.update(b"\0%d\0%d\n" % (entry.size, entry.mtime_ns))
    return h.hexdigest()


def _serial(path: str) -> str:
    try:
        identity = read_identity(path)
    except (OSError, WitnessError):
        return ""
    return identity.serial if identity else ""


def process_token(pid: int) -> str | None:
    """This boot's id and the process's start time: what tells a process from a later one
    with the same pid. None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            started = fh.read().rsplit(b")", 1)[1].split()[19].decode()
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return f"{fh.read().strip()}:{started}"
    except (OSError, IndexError):
        return None


def log_path(pk: int) -> Path:
    folder = Path(settings.WITNESS_HOME) / "station"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"volume-{pk}.log"


def _tail(path: Path) -> str:
    """The last lines of a child's log (the end of a traceback names the error)."""
    try:
        with open(path, "rb") as fh:
            start = fh.seek(max(0, fh.seek(0, os.SEEK_END) - 16384))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    if start:
        lines = lines[1:]  # begun mid-line
    return "\n".join(line for line in lines[-LOG_LINES:] if line.strip())


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
        # plain files on the log (not the station's live display)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
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


def fail(row: StationVolume, error: str, now, *, present: bool | None = None,
         signature_after: str | None = None, details: dict | None = None) -> None:
    """Mark a row failed with its bilingual reason, audited in the same transaction."""
    fields = {"state": VolumeState.FAILED, "finished_at": now, "error": error,
              "current_file": ""}
    if present is not None:
        fields["present"] = present
        if not present:
            fields["gone_at"] = now
    if signature_after is not None:
        fields["signature_after"] = signature_after
    with transaction.atomic():
        StationVolume.objects.filter(pk=row.pk).update(**fields)
        audit.append(ACTOR, "station.ingest_failed", row, outcome="failure",
                     details={"volume": row.path, "serial": row.serial,
                              "error": error.splitlines()[-1] if error else "",
                              **(details or {})})


class Station:
    def __init__(self, watch_dir: str | os.PathLike, *, settle: float = 10.0, jobs: int = 4,
                 wipe: bool = False, agency=None,
                 launcher: Callable[[int], Forked | subprocess.Popen] = fork,
                 clock: Callable = timezone.now):
        self.watch_dir = os.path.abspath(os.fspath(watch_dir))
        if not os.path.isdir(self.watch_dir):
            raise WitnessError(_("The folder %(path)s to watch does not exist or is not a "
                                 "folder."), code="watch_dir_missing", path=self.watch_dir)
        self.settle, self.jobs, self.wipe = settle, jobs, wipe
        self.agency = agency or default_agency()
        self.unreadable_after = timedelta(seconds=max(60.0, 6 * settle))
        self.launcher, self.clock = launcher, clock
        self.host = host_name()
        self.children: dict[int, Forked | subprocess.Popen] = {}

    # -- the rows of this station ----------------------------------------------------------

    def rows(self):
        return StationVolume.objects.filter(host=self.host, watch_dir=self.watch_dir)

    def volumes(self) -> list[str] | None:
        """The mounted volumes: the sub-folders of the watched folder (not hidden ones, not
        symbolic links, not lost+found); None if the folder cannot be listed right now."""
        found = []
        try:
            with os.scandir(self.watch_dir) as it:
                for entry in it:
                    if (entry.name.startswith(".") or entry.name in IGNORED
                            or entry.is_symlink()):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        found.append(entry.path)
        except OSError:
            return None
        return sorted(found)

    # -- one pass ---------------------------------------------------------------------------

    def poll(self) -> None:
        now = self.clock()
        self._reap(now)
        listed = self.volumes()
        if listed is None:  # the watched folder itself is unreadable: judge nothing now
            return
        present = set(listed)
        latest = {}
        for row in self.rows().filter(present=True).order_by("id"):
            latest[row.path] = row  # the newest row of each docked path wins
        ingesting = set(self.rows().filter(state=VolumeState.INGESTING)
                        .values_list("path", flat=True))
        for path, row in latest.items():
            if path not in present:
                self._undocked(row, now)
        for path in sorted(present):
            row = latest.get(path)
            if row is None:
                if path not in ingesting:  # an undocked volume's child still runs
                    self._docked(path, now)
            elif row.state == VolumeState.SETTLING:
                self._settling(row, now)
            elif row.state in (VolumeState.DONE, VolumeState.FAILED):
                sig = signature(path)
                if sig is not None and sig != row.signature_after:
                    StationVolume.objects.filter(pk=row.pk).update(present=False)
                    self._docked(path, now, sig)
        self._launch()

    def _undocked(self, row: StationVolume, now) -> None:
        if row.state in (VolumeState.SETTLING, VolumeState.QUEUED):
            fail(row, WitnessError(REMOVED, code="volume_removed").bilingual, now,
                 present=False)
        else:
            StationVolume.objects.filter(pk=row.pk).update(present=False, gone_at=now)

    def _docked(self, path: str, now, sig: str | None = None) -> None:
        StationVolume.objects.create(
            host=self.host, watch_dir=self.watch_dir, path=path, serial=_serial(path),
            agency=self.agency, wipe=self.wipe, signature=sig or signature(path) or "",
            changed_at=now, first_seen=now)

    def _settling(self, row: StationVolume, now) -> None:
        sig = signature(row.path)
        if sig is None and now - row.first_seen >= self.unreadable_after:
            fail(row, WitnessError(UNREADABLE, code="volume_unreadable").bilingual, now)
        elif sig is None or sig != row.signature:
            StationVolume.objects.filter(pk=row.pk).update(signature=sig or "",
                                                           changed_at=now,
                                                           serial=_serial(row.path))
        elif (now - row.changed_at).total_seconds() >= self.settle:
            StationVolume.objects.filter(pk=row.pk, state=VolumeState.SETTLING).update(
                state=VolumeState.QUEUED)

    def _launch(self) -> None:
        busy = self.rows().filter(state=VolumeState.INGESTING).count()
        for row in self.rows().filter(state=VolumeState.QUEUED, present=True).order_by(
                "changed_at", "id"):
            if busy >= self.jobs:
                return
            if not StationVolume.objects.filter(pk=row.pk, state=VolumeState.QUEUED).update(
                    state=VolumeState.INGESTING, started_at=self.clock(), pid=None):
                continue
            try:
                child = self.launcher(row.pk)
            except OSError as exc:  # no memory, no processes left, log folder unwritable
                fail(row, WitnessError(NOT_STARTED, code="station_launch_failed",
                                       reason=exc.strerror or str(exc)).bilingual,
                     self.clock())
                continue
            StationVolume.objects.filter(pk=row.pk).update(
                pid=child.pid, pid_token=process_token(child.pid) or "")
            self.children[row.pk] = child
            busy += 1

    def _reap(self, now) -> None:
        for pk, child in list(self.children.items()):
            if child.poll() is not None:
                del self.children[pk]
                self._ended(pk, child.returncode, now)
        # children of an earlier station process on this host (stopped, killed, rebooted)
        for row in self.rows().filter(state=VolumeState.INGESTING).exclude(
                pk__in=list(self.children)):
            if row.pid is None:
                if row.started_at is None or now - row.started_at >= LAUNCH_GRACE:
                    self._ended(row.pk, None, now)
            elif process_token(row.pid) != row.pid_token:
                self._ended(row.pk, None, now)

    def _ended(self, pk: int, code: int | None, now) -> None:
        """A child exited: if it did not finish its row, the row failed."""
        row = StationVolume.objects.get(pk=pk)
        if row.state != VolumeState.INGESTING:
            return
        error = WitnessError(DIED, code="station_child_died",
                             status="?" if code is None else code).bilingual
        tail = _tail(log_path(pk))
        fail(row, error + (f"\n{tail}" if tail else ""), now,
             signature_after=signature(row.path) or "", details={"exit_status": code})

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
        self._flush(True, run=self.ingest.ingest_run)  # the run holds the totals

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
    row = StationVolume.objects.select_related("agency").get(pk=pk)
    StationVolume.objects.filter(pk=pk).update(state=VolumeState.INGESTING, pid=os.getpid(),
                                               pid_token=process_token(os.getpid()) or "",
                                               started_at=row.started_at or timezone.now(),
                                               error="")
    try:
        ingest = Ingest(row.path, wipe=row.wipe, actor=ACTOR, agency=row.agency)
        progress = ingest.progress = StationProgress(pk, ingest)
        run = ingest.run()
    except WitnessError as exc:
        fail(row, exc.bilingual, timezone.now(), signature_after=signature(row.path) or "",
             details={"code": exc.code})
        return StationVolume.objects.get(pk=pk)
    progress._flush(True)
    failed = run.counts.get(Outcome.FAILED, 0)
    StationVolume.objects.filter(pk=pk).update(
        run=run, current_file="", finished_at=timezone.now(),
        state=VolumeState.DONE if run.status == RunStatus.DONE else VolumeState.FAILED,
        error=WitnessError(_("%(count)s file(s) failed; see the ingest run."),
                           code="files_failed", count=failed).bilingual if failed else "",
        # what the ingest left: the listing it scanned, less the files it wiped
        signature_after=signature_of(ingest.entries, without=ingest.wiped))
    return StationVolume.objects.get(pk=pk)


def summary(rows) -> list[dict]:
    return [{"id": r.pk, "volume": r.path, "serial": r.serial, "state": r.state,
             "present": r.present, "run": r.run_id, "files": r.files_total,
             "files_done": r.files_done, "bytes": r.bytes_total, "bytes_done": r.bytes_done,
             "counts": r.run.counts if r.run_id else {}, "error": r.error,
             "started_at": r.started_at, "finished_at": r.finished_at}
            for r in rows.select_related("run")]
