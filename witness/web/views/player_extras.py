"""What the player shows around the picture (issue 8 item 3): the frame rate for frame
steps, the gaps before and after this segment in its activity, the neighbouring segments
of the same device, and the markers.

The frame rate is the one ingest probed and stored on the recording (a playback copy keeps
its original's rate). For recordings ingested before that was stored it is read with ffprobe
from the stored object where the blob store has files (the local backend), once per stored
object: objects are write-once and content-addressed, so the answer is cached under its
SHA-256. Where it cannot be known the player steps by 1/25 s and says so.
"""

from __future__ import annotations

import json
import subprocess

from django.core.cache import cache

from witness.findings.models import Finding
from witness.ingest.probe import stream_frame_rate
from witness.recordings.models import MediaKind, Recording
from witness.storage.config import get_backend

FFPROBE_TIMEOUT = 10
DEFAULT_FPS = 25.0


def _ffprobe_rate(path) -> float | None:
    cmd = ["ffprobe", "-v", "error", "-protocol_whitelist", "file", "-select_streams", "v:0",
           "-show_entries", "stream=avg_frame_rate,r_frame_rate", "-print_format", "json",
           "file:" + str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=FFPROBE_TIMEOUT, check=False)
        streams = json.loads(done.stdout or b"{}").get("streams") or []
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    for stream in streams:
        rate = stream_frame_rate(stream)
        if rate:
            return rate
    return None


def frame_rate(blob, kind: str, stored: float | None = None) -> float | None:
    """Frames per second of the video in ``blob``, or None (audio, photo, unknown):
    ``stored`` (the rate ingest probed) when there is one."""
    if kind != MediaKind.VIDEO:
        return None
    if stored:
        return stored
    key = f"witness:fps:{blob.sha256}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    backend = get_backend()
    rate = None
    if hasattr(backend, "path"):
        try:
            rate = _ffprobe_rate(backend.path(blob.key))
        except ValueError:
            rate = None
    cache.set(key, rate or 0, None)
    return rate


def neighbours(recording: Recording) -> tuple[Recording | None, Recording | None]:
    """The same device's previous and next segment in the same activity."""
    if recording.activity_id is None or recording.device_id is None or \
            recording.started_at is None:
        return None, None
    same = Recording.objects.filter(activity_id=recording.activity_id,
                                     device_id=recording.device_id,
                                     started_at__isnull=False).exclude(kind=MediaKind.PHOTO)
    before = (same.filter(started_at__lte=recording.started_at).exclude(pk=recording.pk)
              .order_by("-started_at", "-id").first())
    after = (same.filter(started_at__gte=recording.started_at).exclude(pk=recording.pk)
             .order_by("started_at", "id").first())
    return before, after


def gaps(recording: Recording, subject, before, after) -> list[dict]:
    """The gap before this segment (where it starts, position 0) and after it (where it
    ends), with the status of their ``ACT-5.gap`` finding where the viewer may see one."""
    from witness.access import authz

    out = []
    ids = [r.pk for r in (recording, after) if r is not None]
    found = {f.object_id: f for f in authz.visible_findings(subject, Finding.objects.filter(
        rule_id="ACT-5.gap", object_id__in=ids, content_type__model="recording"))}
    if before is not None and recording.gap_before_seconds:
        out.append({"where": "before", "position": 0, "seconds": recording.gap_before_seconds,
                    "finding": found.get(recording.pk)})
    if after is not None and after.gap_before_seconds and recording.duration is not None:
        out.append({"where": "after", "position": recording.duration,
                    "seconds": after.gap_before_seconds, "finding": found.get(after.pk)})
    return out
