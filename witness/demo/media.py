"""Demo footage made with Debian's ffmpeg: long but cheap body-camera segments.

A segment lasts as long as the time its name claims (minutes), so that coverage, gaps and
durations in the demo are real; it stays small and quick because the picture is ffmpeg's
test pattern at 160x120 and one frame per second (about 0.4 MB per 15 minutes), and the
sound is silence (a few kB) except where an officer speaks.

``base`` encodes one silent segment of the longest length per codec; every other segment is
a stream copy of it cut to length (``cut``), with its own title so that no two files share
their bytes (the same bytes from two devices would rightly raise an ACT-5 finding). The
first segment of an activity keeps the base's picture and gets new sound: the notification
phrase spoken by espeak-ng a few seconds in, then silence (``with_speech``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from witness.core.ffmpeg import ffmpeg

FRAME_RATE = 1  # frames per second: stream-copy cuts stay exact to the second
SIZE = "160x120"
AUDIO_RATE = 16000
VIDEO = {
    "h264": ["-c:v", "libx264", "-preset", "veryfast", "-crf", "40", "-bf", "0",
             "-pix_fmt", "yuv420p"],
    "hevc": ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "40", "-pix_fmt", "yuv420p",
             "-x265-params", "log-level=error:bframes=0", "-tag:v", "hvc1"],
}
AUDIO = ["-c:a", "aac", "-b:a", "24k", "-ac", "1", "-ar", str(AUDIO_RATE)]


def _metadata(title: str, creation_time: datetime | None) -> list[str]:
    args = ["-metadata", f"title={title}"]
    if creation_time is not None:
        stamp = creation_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        args += ["-metadata", f"creation_time={stamp}"]
    return args


def base(path, seconds: int, codec: str = "h264") -> Path:
    """A silent test-pattern segment of ``seconds`` in ``codec``: the stock to cut from."""
    path = Path(path)
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={SIZE}:rate={FRAME_RATE}",
           "-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=mono",
           "-t", str(seconds), *VIDEO[codec], *AUDIO, "-fflags", "+bitexact",
           "-movflags", "+faststart", "-f", "mp4", str(path))
    return path


def cut(stock, path, seconds: int, *, title: str,
        creation_time: datetime | None = None) -> Path:
    """The first ``seconds`` of ``stock``, copied without re-encoding, with a title."""
    path = Path(path)
    ffmpeg("-i", str(stock), "-map", "0", "-c", "copy", "-t", str(seconds),
           *_metadata(title, creation_time), "-fflags", "+bitexact",
           "-movflags", "+faststart", "-f", "mp4", str(path))
    return path


def with_speech(stock, speech, path, seconds: int, *, title: str, delay: float = 3,
                creation_time: datetime | None = None) -> Path:
    """The picture of ``stock`` for ``seconds`` with ``speech`` (a WAV) ``delay`` seconds in,
    silence before and after: an officer announcing the recording."""
    path = Path(path)
    ms = int(delay * 1000)
    ffmpeg("-i", str(stock), "-i", str(speech), "-map", "0:v", "-map", "1:a",
           "-c:v", "copy", "-af", f"adelay={ms}:all=1,apad", *AUDIO, "-t", str(seconds),
           *_metadata(title, creation_time), "-fflags", "+bitexact",
           "-movflags", "+faststart", "-f", "mp4", str(path))
    return path
