"""Ingest (采集): from a docked device volume to verified, write-once, attributed recordings.

Issue 3 items 2–4 and 7; ING-1..ING-4, DEV-3, DEV-4, ACT-5. For each media file of the volume:

1. ffprobe/EXIF read the facts from the source (headers only);
2. ``storage.pipeline.store_object`` copies it once — every digest of the profile, the
   staging object, fsync, the uncached read-back compared by SHA-256, the write-once final
   object under its content address;
3. one transaction registers the Blob row, the Recording (attributed to device, ledger
   entry, holder and activity, or queued for the custodian), the per-file outcome row, the
   audit entries and, for the same bytes from another device, an ACT-5 finding;
4. with ``wipe``, and only then, the file is deleted from the device (ING-3).

A crash at any point leaves either nothing of a file or all of it: the staging leftover of
a killed process is removed by the next run (``clean_staging``), the final object without a
row is found again by its content address, and the next run registers it. Ingesting the same
volume again gives "duplicate" for every file and changes no recording.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.compliance import checks as compliance_checks
from witness.core.errors import NotFound, WitnessError, bilingual
from witness.derivatives import services as derivatives
from witness.devices.models import Device, PreUseCheck
from witness.findings.services import raise_finding
from witness.org.services import default_agency
from witness.profiles import services as profiles
from witness.recordings import segments
from witness.recordings.attribution import attribute
from witness.recordings.models import (
    DriftSource,
    IngestItem,
    IngestRun,
    Outcome,
    Recording,
    RunStatus,
    TimeSource,
)
from witness.storage.backends.base import BlobBackend, host_name, process_alive
from witness.storage.config import get_backend
from witness.storage.pipeline import register, store_object

from . import naming
from . import patterns as name_patterns
from .probe import MediaFacts, probe
from .volume import Skipped, VolumeFile, read_clock, read_identity, remove_file, scan

# Staging leftovers older than this are removed whoever wrote them (another host's crash);
# a dead process of this host is recognised at once (storage.backends.base.orphaned).
STAGING_MAX_AGE = timedelta(hours=6)
SAME_BYTES_RULE = "ACT-5.same-bytes-other-device"


class Progress:
    """What a caller (the CLI's progress bar, station mode's page) hears of a run."""

    def start(self, files: int, total_bytes: int) -> None: ...
    def file(self, entry: VolumeFile) -> None: ...
    def advance(self, n: int) -> None: ...
    def done(self, item: IngestItem) -> None: ...


@dataclass(frozen=True)
class Timing:
    started_at: datetime | None
    ended_at: datetime | None
    device_start: datetime | None
    source: str
    drift_seconds: int | None
    drift_source: str


class _Clock:
    """Device clock drift (DEV-4): from the clock file on the volume, else the latest
    pre-use check at or before the moment in question."""

    def __init__(self, device: Device | None, root, now: datetime):
        clock = read_clock(root)
        self.fixed = None
        if clock is not None:
            shown = timezone.make_aware(clock.device_time)
            self.fixed = round((shown - now).total_seconds())
        self.checks = []
        if device is not None and self.fixed is None:
            self.checks = list(PreUseCheck.objects.filter(device=device)
                               .order_by("checked_at", "id")
                               .values_list("checked_at", "drift_seconds"))
        self.times = [c[0] for c in self.checks]

    def drift(self, device_time: datetime | None) -> tuple[int | None, str]:
        if self.fixed is not None:
            return self.fixed, DriftSource.CLOCK_FILE
        if not self.checks or device_time is None:
            return None, DriftSource.NONE
        i = bisect_right(self.times, device_time) - 1
        return self.checks[max(i, 0)][1], DriftSource.PRE_USE_CHECK


def _aware(naive: datetime) -> datetime:
    try:
        return timezone.make_aware(naive)
    except (ValueError, OverflowError):  # a non-existent local time: read it as standard
        return naive.replace(tzinfo=timezone.get_current_timezone())


def timing(entry: VolumeFile, facts: MediaFacts, name: naming.NameFacts | None,
           clock: _Clock, file_times: bool = True) -> Timing:
    """Start and end from the file name, else the container, else EXIF, else file times
    (unless ``file_times`` is False: an uploaded file's times are those of the upload, so
    it has no time and goes to the assignment queue); corrected by the device clock drift
    (device time minus true time)."""
    duration = timedelta(seconds=float(facts.duration)) if facts.duration else None
    if name is not None:
        start, source = _aware(name.start), TimeSource.FILE_NAME
        end = _aware(name.end) if name.end else (start + duration if duration else None)
    elif facts.creation_time is not None:
        start, source = facts.creation_time, TimeSource.CONTAINER
        end = start + duration if duration else None
    elif facts.camera_time is not None:
        start, source = _aware(facts.camera_time), TimeSource.EXIF
        end = start
    elif not file_times:
        return Timing(None, None, None, TimeSource.NONE, None, DriftSource.NONE)
    else:  # the device wrote the file until its end: mtime is the end
        end = datetime.fromtimestamp(entry.mtime_ns / 1e9, UTC)
        start, source = (end - duration if duration else end), TimeSource.FILE_TIME
    if facts.kind == "photo" or entry.kind == "photo":
        end = start
    drift, drift_source = clock.drift(start)
    shift = timedelta(seconds=drift or 0)
    return Timing(start - shift, end - shift if end else None, start, source, drift,
                  drift_source)


def _item_error(exc: WitnessError) -> dict:
    return {"reason_code": exc.code, "reason": exc.bilingual}


def _skip_reason(entry: Skipped) -> dict:
    text = bilingual(entry.reason.label) + (f" ({entry.detail})" if entry.detail else "")
    return {"reason_code": entry.reason.value, "reason": text}


def resolve_device(identity, serial: str | None, backfill: bool) -> Device | None:
    """The device from the volume's identity file (``identity``), else ``serial``
    (--device)."""
    if identity and serial and identity.serial != serial:
        raise WitnessError(_("The volume says it is device %(found)s, not %(given)s; nothing "
                             "was ingested."), code="device_mismatch", found=identity.serial,
                           given=serial)
    serial = identity.serial if identity else serial
    if not serial:
        if backfill:
            return None
        raise WitnessError(_("The volume does not name its device: give --device SERIAL, or "
                             "--backfill for historical footage."), code="device_unknown")
    try:
        return Device.objects.select_related("unit__agency").get(serial=serial)
    except Device.DoesNotExist:
        raise NotFound(_("No device with serial number %(serial)s is registered; register it "
                         "first (witness device add)."), code="device_not_found",
                       serial=serial) from None


def _interrupt_dead_runs() -> None:
    for run in IngestRun.objects.filter(status=RunStatus.RUNNING, host=host_name()):
        if run.pid and run.pid != os.getpid() and not process_alive(run.pid):
            with transaction.atomic():
                IngestRun.objects.filter(pk=run.pk).update(status=RunStatus.INTERRUPTED,
                                                           finished_at=timezone.now())
                audit.append("system:ingest", "ingest.interrupted", run,
                             outcome="failure", details={"volume": run.volume,
                                                         "pid": run.pid})


class Ingest:
    """One run over one volume. ``run()`` returns the finished :class:`IngestRun`."""

    def __init__(self, root, *, device_serial: str | None = None, wipe: bool = False,
                 backfill: bool = False, actor=None, user=None,
                 backend: BlobBackend | None = None, progress: Progress | None = None,
                 patterns: tuple[naming.NamePattern, ...] | None = None,
                 before_register: Callable[[VolumeFile], None] | None = None,
                 volume_label: str | None = None, agency=None, file_times: bool = True):
        self.root = os.fspath(root)
        self.volume = volume_label or self.root  # what the run and its audit entry name
        identity = read_identity(self.root)  # once: it names the device and its model
        self.device = resolve_device(identity, device_serial, backfill)
        self.agency = (self.device.unit.agency if self.device
                       else agency or default_agency())
        self.file_times = file_times
        self.entries: list[VolumeFile | Skipped] = []  # as scanned (station mode)
        self.wiped: set[bytes] = set()
        self.version, self.profile = profiles.in_force(self.agency, timezone.now())
        self.wipe, self.backfill = wipe, backfill
        self.actor, self.user = actor, user
        self.backend = backend or get_backend()
        self.progress = progress or Progress()
        if patterns is None:  # the device model's patterns (ingest.patterns)
            model = (self.device.model if self.device else "") or (
                identity.model if identity else "")
            patterns = name_patterns.for_model(model)
        self.patterns = patterns
        self.before_register = before_register  # tests: a crash point between copy and rows
        self.touched: set[tuple[int, int]] = set()

    def run(self) -> IngestRun:
        _interrupt_dead_runs()
        self.backend.clean_staging(STAGING_MAX_AGE)
        now = timezone.now()
        entries = self.entries = list(scan(self.root))
        files = [e for e in entries if isinstance(e, VolumeFile)]
        self.clock = _Clock(self.device, self.root, now)
        with transaction.atomic():
            self.ingest_run = IngestRun.objects.create(
                volume=self.volume, agency=self.agency, device=self.device,
                backfill=self.backfill, wipe=self.wipe,
                started_at=now, started_by=self.user, files_total=len(files),
                bytes_total=sum(f.size for f in files), clock_drift_seconds=self.clock.fixed,
                host=host_name(), pid=os.getpid())
            audit.append(self.actor, "ingest.start", self.ingest_run, details={
                "volume": self.volume, "device": self.device.serial if self.device else None,
                "files": len(files), "bytes": self.ingest_run.bytes_total,
                "wipe": self.wipe, "backfill": self.backfill,
                "digests": list(self.profile.digests)})
        self.progress.start(len(files), self.ingest_run.bytes_total)
        for entry in entries:
            item = (self._skip(entry) if isinstance(entry, Skipped) else self._file(entry))
            self.progress.done(item)
        for activity_id, device_id in sorted(self.touched):
            segments.recompute(activity_id, device_id)
        return self._finish()

    # -- one entry -------------------------------------------------------------------------

    def _skip(self, entry: Skipped) -> IngestItem:
        return IngestItem.objects.create(run=self.ingest_run, path=entry.display,
                                         outcome=Outcome.SKIPPED, **_skip_reason(entry))

    def _failed(self, entry: VolumeFile, exc: WitnessError) -> IngestItem:
        with transaction.atomic():
            item = IngestItem.objects.create(run=self.ingest_run, path=entry.display,
                                             outcome=Outcome.FAILED, size=entry.size,
                                             **_item_error(exc))
            audit.append(self.actor, "ingest.file", self.ingest_run, outcome="failure",
                         details={"path": entry.display, "code": exc.code, "error": exc.en})
        return item

    def _file(self, entry: VolumeFile) -> IngestItem:
        self.progress.file(entry)
        try:
            facts = probe(entry.path)
            stored = store_object(entry.path, self.backend, self.profile.digests,
                                  progress=self.progress.advance, expect=entry.identity)
        except WitnessError as exc:
            return self._failed(entry, exc)
        if self.before_register is not None:
            self.before_register(entry)
        name = naming.parse_name(entry.raw_name, self.patterns)
        when = timing(entry, facts, name, self.clock, self.file_times)
        try:
            recording, blob, item = self._record(entry, stored, facts, name, when)
        except IntegrityError:  # a concurrent run registered the same file first
            recording, blob, item = self._record(entry, stored, facts, name, when)
        if self.wipe:
            self._wipe(entry, recording, blob, item)
        return item

    def _wipe(self, entry, recording, blob, item) -> None:
        """Delete the very file stored from the device (ING-3). A device that refuses
        (mounted read-only, I/O error) keeps the file; the run carries on."""
        details = {"path": entry.display, "sha256": blob.sha256, "run": self.ingest_run.pk}
        try:
            removed = remove_file(self.root, entry)
        except OSError as exc:
            with transaction.atomic():
                audit.append(self.actor, "ingest.wipe", recording, outcome="failure",
                             details={**details, "error": exc.strerror or str(exc)})
            return
        if removed:
            self.wiped.add(entry.raw_relative)
            with transaction.atomic():
                item.wiped = True
                item.save(update_fields=["wiped"])
                audit.append(self.actor, "ingest.wipe", recording, details=details)

    def _record(self, entry, stored, facts, name, when):
        with transaction.atomic():
            blob = register(self.backend, stored.key, stored.digests, stored.size,
                            actor=self.actor, created=stored.created)
            existing = (Recording.objects.filter(blob=blob, device=self.device).first()
                        if self.device else
                        Recording.objects.filter(blob=blob, device__isnull=True).first())
            if existing is not None:
                recording, outcome = existing, Outcome.DUPLICATE
                audit.append(self.actor, "recording.duplicate", existing, details={
                    "path": entry.display, "sha256": blob.sha256,
                    "run": self.ingest_run.pk})
            else:
                recording, outcome = self._register(entry, blob, facts, name, when), \
                    Outcome.STORED
            item = IngestItem.objects.create(
                run=self.ingest_run, path=entry.display, outcome=outcome, size=stored.size,
                digests=stored.digests, recording=recording)
        return recording, blob, item

    def _register(self, entry, blob, facts: MediaFacts, name, when: Timing) -> Recording:
        who = attribute(self.device, when.started_at, when.ended_at, backfill=self.backfill)
        gps = facts.gps
        recording = Recording.objects.create(
            blob=blob, device=self.device, kind=facts.kind or entry.kind,
            source_path=entry.display[:1000], source_path_bytes=entry.raw_relative,
            started_at=when.started_at, ended_at=when.ended_at,
            time_source=when.source, device_start=when.device_start,
            clock_drift_seconds=when.drift_seconds, drift_source=when.drift_source,
            duration=(facts.duration.quantize(Decimal("0.001"))
                      if facts.duration is not None else None),
            name_pattern=name.pattern if name else "", sequence=name.seq if name else None,
            badge_in_name=(name.badge if name else "")[:40],
            important=bool(name and name.important),
            readable=facts.readable, unreadable_reason=str(facts.reason or "")[:300],
            container=(facts.container or "")[:100], video_codec=facts.video_codec or "",
            audio_codec=facts.audio_codec or "", width=facts.width, height=facts.height,
            frame_rate=facts.frame_rate,
            encoder=(facts.encoder or "")[:200], creation_time=facts.creation_time,
            latitude=gps.latitude if gps else None, longitude=gps.longitude if gps else None,
            browser_playable=facts.browser_playable, faststart=facts.faststart,
            issue=who.issue, holder=who.holder, activity=who.activity,
            attribution=who.attribution, queue_reason=who.queue_reason,
            backfill=self.backfill, ingested_by=self.user, ingest_run=self.ingest_run)
        audit.append(self.actor, "recording.ingest", recording, details={
            "path": entry.display, "sha256": blob.sha256, "digests": blob.digests,
            "size": blob.size, "device": self.device.serial if self.device else None,
            "started_at": when.started_at.isoformat() if when.started_at else None,
            "time_source": when.source,
            "drift_seconds": when.drift_seconds, "readable": facts.readable,
            "issue": who.issue.pk if who.issue else None,
            "activity": who.activity.pk if who.activity else None,
            "attribution": who.attribution, "queue_reason": who.queue_reason,
            "run": self.ingest_run.pk})
        others = list(Recording.objects.filter(blob=blob).exclude(pk=recording.pk)
                      .values_list("pk", "device__serial"))
        if others:  # ACT-5: the same bytes from another device (copied or inserted)
            raise_finding(SAME_BYTES_RULE, recording, {
                "sha256": blob.sha256, "device": self.device.serial if self.device else None,
                "other_recordings": [{"id": pk, "device": serial} for pk, serial in others]},
                actor="system:ingest")
        if recording.activity_id and recording.device_id:
            self.touched.add((recording.activity_id, recording.device_id))
        # Playback copy, poster, waveform: background jobs once the recording is committed.
        transaction.on_commit(partial(derivatives.enqueue_for_recording, recording.pk))
        return recording

    def _finish(self) -> IngestRun:
        run = self.ingest_run
        counts = {o.value: 0 for o in Outcome}
        for outcome in run.items.values_list("outcome", flat=True):
            counts[outcome] += 1
        run.counts = counts
        run.status = RunStatus.FAILED if counts[Outcome.FAILED] else RunStatus.DONE
        run.finished_at = timezone.now()
        with transaction.atomic():
            run.save(update_fields=["counts", "status", "finished_at"])
            audit.append(self.actor, "ingest.finish", run,
                         outcome="failure" if counts[Outcome.FAILED] else "success",
                         details={"counts": counts})
            # issue 6: the rules re-decide the activities this run's recordings went to
            compliance_checks.enqueue_on_commit(
                run.recordings.exclude(activity=None).order_by()
                .values_list("activity_id", flat=True).distinct())
        return run


def ingest_volume(root, **kwargs) -> IngestRun:
    return Ingest(root, **kwargs).run()


def summary(run: IngestRun) -> dict:
    """The JSON summary: the run and every file's outcome, path and digests."""
    items = run.items.order_by("id")
    return {
        "run": run.pk, "volume": run.volume,
        "device": run.device.serial if run.device_id else None,
        "backfill": run.backfill, "wipe": run.wipe, "status": run.status,
        "started_at": run.started_at, "finished_at": run.finished_at,
        "clock_drift_seconds": run.clock_drift_seconds, "counts": run.counts,
        "files": [{"path": i.path, "outcome": i.outcome, "reason_code": i.reason_code,
                   "reason": i.reason, "size": i.size, "digests": i.digests,
                   "recording": i.recording_id, "wiped": i.wiped} for i in items],
    }
