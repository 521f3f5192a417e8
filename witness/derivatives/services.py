"""Making playback copies, poster frames and waveforms from stored originals (issue 3 item 6).

For one recording, ``make_for_recording`` claims each derivative that is pending or failed
(or left "running" by a worker that died), decides whether it is needed, runs Debian's
ffmpeg on the original and stores the result with the write-once pipeline
(``store_object`` then ``register``), in one transaction with the row and an audit entry.

The original is only ever read: from its final object in place on the local filesystem
(read-only, 0444), or streamed from S3 chunk by chunk into a private working folder under
``WITNESS_HOME/tmp`` and checked against its SHA-256. The working folder is removed
afterwards; one left by a killed process of this host is removed by the next run.

Failures never escape as exceptions: the row says ``failed`` with a message in Chinese and
English, and the next run tries again. A derivative that is done or not needed is final.
"""

from __future__ import annotations

import functools
import logging
import os
import shlex
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import NotFound, Text, WitnessError, bilingual
from witness.core.ffmpeg import run as _run
from witness.recordings.models import MediaKind, Recording
from witness.storage.backends.base import BlobBackend, orphaned, staging_token
from witness.storage.backends.local import LocalBackend
from witness.storage.config import get_backend
from witness.storage.pipeline import register, sha256_of, store_object

from .models import FINAL, Derivative, Kind, Status

logger = logging.getLogger(__name__)

FFMPEG = "ffmpeg"  # the binary; tests point it elsewhere
ACTOR = "system:derivatives"  # the audit actor of background jobs
KINDS = (Kind.PLAYBACK, Kind.POSTER, Kind.WAVEFORM)

# Each ffmpeg run: BASE_TIMEOUT + PER_MEDIA_SECOND × duration seconds.
BASE_TIMEOUT = 60
PER_MEDIA_SECOND = 4
UNKNOWN_DURATION_TIMEOUT = 3600
POSTER_AT = Decimal(1)  # seconds into the video; the middle of clips shorter than twice that
WAVEFORM_SIZE = "1200x200"
WAVEFORM_COLOUR = "0x1f6feb"
WORK_PREFIX = "derivative~"

# What each kind is stored as: (file suffix, ffmpeg output format).
VIDEO_COPY = (".mp4", "mp4")
AUDIO_COPY = (".m4a", "mp4")


def timeout_for(recording: Recording) -> int:
    """Seconds one ffmpeg run on this recording may take."""
    if recording.duration is None:
        return UNKNOWN_DURATION_TIMEOUT
    return int(BASE_TIMEOUT + PER_MEDIA_SECOND * float(recording.duration))


def not_needed(recording: Recording, kind: str):
    """Why ``kind`` is not made for ``recording`` (a translatable Text), or None if it is."""
    if not recording.readable:
        return Text(_("The original is not readable media (%(reason)s); nothing is derived "
                      "from it."), reason=recording.unreadable_reason or "?")
    if kind == Kind.PLAYBACK:
        if recording.kind == MediaKind.PHOTO:
            return Text(_("A photo is shown as it is."))
        if recording.browser_playable:
            return Text(_("The original plays in a browser as it is."))
        return None
    if kind == Kind.POSTER:
        if recording.kind == MediaKind.PHOTO:
            return Text(_("A photo is its own poster."))
        if recording.kind != MediaKind.VIDEO or not recording.video_codec:
            return Text(_("An audio recording has no picture."))
        return None
    if kind == Kind.WAVEFORM:
        has_audio = recording.kind == MediaKind.AUDIO or (
            recording.kind == MediaKind.VIDEO and bool(recording.audio_codec))
        return None if has_audio else Text(_("The recording has no sound."))
    raise ValueError(f"unknown derivative kind {kind!r}")


# --- ffmpeg ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _version(binary: str) -> str:
    """``ffmpeg version 5.1.x-…``: the first line of ``ffmpeg -version``."""
    done = _run([binary, "-version"], 60)
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return lines[0].split(" Copyright")[0].strip() if lines else binary


def _input(source: Path, seek: Decimal | None = None) -> list[str]:
    # "file:" + an absolute path: no protocol or option is read from the name; only the
    # file protocol, so nothing named inside the media can reach the network.
    args = ["-protocol_whitelist", "file"]
    if seek:
        args += ["-ss", f"{seek:.3f}"]
    return [*args, "-i", "file:" + os.path.abspath(source)]


def _arguments(kind: str, recording: Recording, source: Path, output: Path,
               seek: Decimal | None) -> list[str]:
    out = ["file:" + os.path.abspath(output)]
    if kind == Kind.PLAYBACK and recording.kind == MediaKind.VIDEO:
        return [*_input(source), "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn",
                # yuv420p needs even dimensions
                "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
                "-f", VIDEO_COPY[1], *out]
    if kind == Kind.PLAYBACK:
        return [*_input(source), "-map", "0:a:0", "-vn", "-sn", "-dn",
                "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
                "-f", AUDIO_COPY[1], *out]
    if kind == Kind.POSTER:
        return [*_input(source, seek), "-map", "0:v:0", "-frames:v", "1", "-q:v", "3",
                "-f", "image2", "-c:v", "mjpeg", *out]
    return [*_input(source), "-filter_complex",
            f"[0:a:0]aformat=channel_layouts=mono,"
            f"showwavespic=s={WAVEFORM_SIZE}:colors={WAVEFORM_COLOUR}",
            "-frames:v", "1", "-f", "image2", "-c:v", "png", *out]


def _suffix(kind: str, recording: Recording) -> str:
    if kind == Kind.PLAYBACK:
        return (VIDEO_COPY if recording.kind == MediaKind.VIDEO else AUDIO_COPY)[0]
    return ".jpg" if kind == Kind.POSTER else ".png"


def _poster_at(recording: Recording) -> Decimal:
    duration = recording.duration
    if duration is None or duration >= 2 * POSTER_AT:
        return POSTER_AT
    return duration / 2


def render(kind: str, recording: Recording, source: Path, workdir: Path) -> tuple[Path, str]:
    """Run ffmpeg for one derivative; return the file made and the tool text (version and
    exact arguments, the working paths written file:INPUT and file:OUTPUT)."""
    output = workdir / f"{kind}{_suffix(kind, recording)}"
    seeks = [_poster_at(recording), None] if kind == Kind.POSTER else [None]
    for seek in seeks:  # a poster past the last frame writes nothing: then the first frame
        args = _arguments(kind, recording, source, output, seek)
        cmd = [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-y", *args]
        version = _version(FFMPEG)
        _run(cmd, timeout_for(recording))
        if output.is_file() and output.stat().st_size > 0:
            shown = ["file:INPUT" if a == "file:" + os.path.abspath(source) else
                     "file:OUTPUT" if a == "file:" + os.path.abspath(output) else a
                     for a in cmd]
            return output, f"{version}\n{shlex.join(shown)}"
    raise WitnessError(_("ffmpeg wrote nothing for the %(kind)s."), code="ffmpeg_no_output",
                       kind=Kind(kind).label)


# --- the original, read only ---------------------------------------------------------------


@contextmanager
def workdir() -> Iterator[Path]:
    """A private working folder under ``WITNESS_HOME/tmp``, removed afterwards."""
    base = Path(settings.WITNESS_HOME) / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    clean_leftovers(base)
    path = base / f"{WORK_PREFIX}{staging_token()}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def clean_leftovers(base: Path) -> int:
    """Remove working folders of processes of this host that are gone (kill -9)."""
    removed = 0
    for entry in os.scandir(base):
        if (entry.name.startswith(WORK_PREFIX) and entry.is_dir(follow_symlinks=False)
                and orphaned(entry.name.removeprefix(WORK_PREFIX))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def original_file(backend: BlobBackend, blob, folder: Path) -> Path:
    """A file with the original's bytes that ffmpeg may read: the final object itself on
    the local filesystem, else a copy streamed chunk by chunk and checked by SHA-256."""
    if isinstance(backend, LocalBackend):
        path = backend.path(blob.key)
        if not path.is_file():
            raise NotFound(_("No stored original under %(key)s."), key=blob.key)
        return path
    target = folder / "original"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as f:
        read, size = sha256_of(_written(backend.read(blob.key), f))
    if (read, size) != (blob.sha256, blob.size):
        raise WitnessError(_("The stored original %(key)s did not read back identical "
                             "(SHA-256 %(read)s instead of %(expected)s)."),
                           code="original_mismatch", key=blob.key, read=read,
                           expected=blob.sha256)
    return target


def _written(chunks: Iterator[bytes], f) -> Iterator[bytes]:
    """The chunks, each written to ``f`` as it passes."""
    for chunk in chunks:
        f.write(chunk)
        yield chunk


# --- rows -----------------------------------------------------------------------------------


def ensure_rows(recording: Recording) -> list[Derivative]:
    """One row per kind for the recording (pending when new), in kind order."""
    return [Derivative.objects.get_or_create(recording=recording, kind=kind)[0]
            for kind in KINDS]


def _stale_after(recording: Recording) -> timedelta:
    """A row "running" for longer than this was left by a worker that died."""
    return timedelta(seconds=3 * timeout_for(recording) + 300)


def _claim(row: Derivative, recording: Recording) -> bool:
    now = timezone.now()
    open_ = (Q(status__in=[Status.PENDING, Status.FAILED])
             | Q(status=Status.RUNNING, started_at__isnull=True)
             | Q(status=Status.RUNNING, started_at__lt=now - _stale_after(recording)))
    claimed = Derivative.objects.filter(open_, pk=row.pk).update(
        status=Status.RUNNING, started_at=now, attempts=F("attempts") + 1)
    if claimed:
        row.refresh_from_db()
    return bool(claimed)


def _finish(row: Derivative, status: str, actor, *, blob=None, error: str = "",
            reason: str = "", tool: str = "", details: dict | None = None,
            stored=None, backend: BlobBackend | None = None) -> bool:
    """Record the outcome, unless another worker took the row over meanwhile."""
    with transaction.atomic():
        current = Derivative.objects.select_for_update().get(pk=row.pk)
        if current.status != Status.RUNNING or current.started_at != row.started_at:
            return False  # reclaimed as stale: that worker records its own outcome
        if stored is not None:
            blob = register(backend, stored.key, stored.digests, stored.size, actor=actor,
                            created=stored.created)
        row.status, row.blob, row.error, row.reason = status, blob, error, reason
        row.tool, row.finished_at = tool, timezone.now()
        row.save(update_fields=["status", "blob", "error", "reason", "tool", "finished_at"])
        action = "derivative.skip" if status == Status.NOT_NEEDED else "derivative.make"
        audit.append(actor, action, row,
                     outcome="failure" if status == Status.FAILED else "success",
                     details={"recording": row.recording_id, "kind": row.kind,
                              "status": status, "source_sha256": row.recording.blob.sha256,
                              "sha256": blob.sha256 if blob else None,
                              "size": blob.size if blob else None, "tool": tool,
                              "error": error, "reason": reason, "attempt": row.attempts,
                              **(details or {})})
    return True


def _release(row: Derivative) -> None:
    """Interrupted (worker shutdown): back to pending for the next run; best effort."""
    try:
        Derivative.objects.filter(pk=row.pk, status=Status.RUNNING,
                                  started_at=row.started_at).update(status=Status.PENDING)
    except Exception:
        logger.exception("could not release derivative %s", row.pk)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, WitnessError):
        return exc.bilingual
    logger.exception("derivative failed")
    return bilingual(_("Unexpected error: %(error)s"), error=f"{type(exc).__name__}: {exc}")


# --- the job --------------------------------------------------------------------------------


def make_for_recording(recording_id: int, *, actor=ACTOR) -> list[Derivative]:
    """Make whatever derivatives of the recording are pending or failed; return its rows
    (one per kind). Idempotent: done and not-needed ones are left as they are. Raises only
    NotFound (no such recording); every other failure is recorded in the row."""
    try:
        recording = Recording.objects.select_related("blob").get(pk=recording_id)
    except Recording.DoesNotExist:
        raise NotFound(_("No recording with id %(id)s."), code="recording_not_found",
                       id=recording_id) from None
    rows = ensure_rows(recording)
    todo = []
    for row in rows:
        if row.status in FINAL or not _claim(row, recording):
            continue
        row.recording = recording
        reason = not_needed(recording, row.kind)
        if reason is not None:
            _finish(row, Status.NOT_NEEDED, actor, reason=bilingual(reason))
        else:
            todo.append(row)
    if todo:
        _make(recording, todo, actor)
    return [Derivative.objects.select_related("blob").get(pk=row.pk) for row in rows]


def _make(recording: Recording, rows: list[Derivative], actor) -> None:
    pending = list(rows)
    try:
        backend = get_backend()
        with workdir() as folder:
            source = original_file(backend, recording.blob, folder)
            while pending:
                row = pending[0]
                try:
                    output, tool = render(row.kind, recording, source, folder)
                    stored = store_object(output, backend, ("sha256",))
                    _finish(row, Status.DONE, actor, tool=tool, stored=stored,
                            backend=backend, details={"key": stored.key,
                                                      "new_object": stored.created})
                    output.unlink(missing_ok=True)  # room for the next one
                except Exception as exc:
                    _finish(row, Status.FAILED, actor, error=_error_text(exc))
                pending.pop(0)
    except BaseException as exc:
        if not isinstance(exc, Exception):  # shutdown: leave them for the next run
            for row in pending:
                _release(row)
            raise
        error = _error_text(exc)  # the original could not be read: none can be made
        for row in pending:
            _finish(row, Status.FAILED, actor, error=error)


# --- queueing and listing -------------------------------------------------------------------


def enqueue_for_recording(recording_id: int) -> None:
    """Queue the derivatives of a newly stored recording as a background job.

    Meant for ``transaction.on_commit`` after ingest. Creates the pending rows at once (so
    ``witness derivatives --pending`` finds them even if the queue is lost) and enqueues
    ``tasks.make_derivatives``. Never raises: a failure is logged and the pending rows stay.
    """
    try:
        recording = Recording.objects.get(pk=recording_id)
        with transaction.atomic():
            ensure_rows(recording)
        from .tasks import make_derivatives

        make_derivatives.enqueue(recording_id)
    except Exception:
        logger.exception("could not queue the derivatives of recording %s", recording_id)


def outstanding():
    """Recordings with derivatives still to make: pending, failed, left running by a dead
    worker (``make_for_recording`` decides), or missing rows (older recordings)."""
    open_rows = Derivative.objects.exclude(status__in=FINAL).values("recording_id")
    return (Recording.objects.annotate(n_derivatives=Count("derivatives"))
            .filter(Q(n_derivatives__lt=len(KINDS)) | Q(pk__in=open_rows))
            .order_by("pk"))


def counts() -> dict[str, dict[str, int]]:
    """Rows by kind and status: ``{"playback": {"done": 3, …}, …}``."""
    result: dict[str, dict[str, int]] = {kind.value: {} for kind in KINDS}
    for item in Derivative.objects.values("kind", "status").annotate(n=Count("pk")):
        result.setdefault(item["kind"], {})[item["status"]] = item["n"]
    return result
