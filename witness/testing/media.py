"""Small test media made with Debian's ffmpeg (and espeak-ng for speech).

Everything runs as a subprocess without a shell; files are tiny (low resolution, a few
seconds, ``-preset ultrafast``) so a test can make several in well under a second each.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from witness.core.ffmpeg import ffmpeg

CODECS = {
    "h264": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "hevc": ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-x265-params", "log-level=error", "-tag:v", "hvc1"],
}
AUDIO = {"mp4": ["-c:a", "aac"], "mov": ["-c:a", "aac"], "avi": ["-c:a", "pcm_s16le"]}


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def iso6709(latitude: float, longitude: float) -> str:
    """The QuickTime ``location`` tag: ``+34.1234+112.5678/``."""
    return f"{latitude:+08.4f}{longitude:+09.4f}/"


def make_video(path, seconds: float = 1, *, codec: str = "h264", container: str = "mp4",
               creation_time: datetime | None = None, encoder: str | None = None,
               faststart: bool = True, size: str = "320x240", with_audio: bool = True,
               gps: tuple[float, float] | None = None, title: str | None = None) -> Path:
    """A test pattern (plus a sine tone) in the given codec and container; ``title`` makes
    files of the same length differ in their bytes.

    ``-fflags +bitexact`` keeps ffmpeg from stamping its own ``encoder`` tag, so a given
    ``encoder`` is written to the video stream (where cameras put it too) and read back.
    """
    path = Path(path)
    args = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=15"]
    if with_audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"]
    args += ["-t", str(seconds), *CODECS[codec]]
    args += AUDIO[container] if with_audio else ["-an"]
    args += ["-fflags", "+bitexact", "-f", container]
    if creation_time is not None:
        stamp = creation_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        args += ["-metadata", f"creation_time={stamp}"]
    if encoder is not None:
        args += ["-metadata", f"encoder={encoder}", "-metadata:s:v:0", f"encoder={encoder}"]
    if gps is not None:
        args += ["-metadata", f"location={iso6709(*gps)}"]
    if title is not None:
        args += ["-metadata", f"title={title}"]
    if faststart and container in ("mp4", "mov"):
        args += ["-movflags", "+faststart"]
    ffmpeg(*args, str(path))
    return path


def make_wav(path, seconds: float = 1) -> Path:
    """A sine tone as 16-bit PCM WAV."""
    path = Path(path)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050", "-t", str(seconds),
            "-c:a", "pcm_s16le", "-fflags", "+bitexact", str(path))
    return path


def make_photo(path, *, exif_datetime: datetime | None = None,
               gps: tuple[float, float] | None = None, size: str = "320x240") -> Path:
    """A JPEG test pattern, with an EXIF APP1 segment when a time or GPS is given.

    ``exif_datetime`` is written as DateTimeOriginal (naive: the camera clock); ``gps`` as
    (latitude, longitude) in decimal degrees.
    """
    path = Path(path)
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}", "-frames:v", "1",
            "-fflags", "+bitexact", "-f", "image2", "-c:v", "mjpeg", str(path))
    if exif_datetime is not None or gps is not None:
        data = path.read_bytes()
        assert data[:2] == b"\xff\xd8", "ffmpeg did not write a JPEG"
        app1 = b"Exif\x00\x00" + _tiff(exif_datetime, gps)
        segment = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
        path.write_bytes(data[:2] + segment + data[2:])
    return path


def truncate(path, keep_fraction: float) -> Path:
    """Cut the file to a fraction of its size, as an interrupted copy would."""
    path = Path(path)
    os.truncate(path, int(path.stat().st_size * keep_fraction))
    return path


def espeak_wav(path, text: str, voice: str = "cmn-latn-pinyin") -> Path:
    """Synthetic speech (Mandarin by default) as WAV, made by espeak-ng."""
    path = Path(path)
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text],
                   capture_output=True, timeout=120, check=True)
    return path


# --- a minimal big-endian TIFF/EXIF writer -------------------------------------------------

ASCII, BYTE, LONG, RATIONAL = 2, 1, 4, 5


def _ifd(entries: list[tuple[int, int, int, bytes]], start: int) -> bytes:
    """One IFD at offset ``start``: 12-byte entries, then values longer than 4 bytes."""
    table = struct.pack(">H", len(entries))
    extra = b""
    extra_at = start + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            table += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")
        else:
            table += struct.pack(">HHII", tag, kind, count, extra_at + len(extra))
            extra += value + b"\x00" * (len(value) % 2)
    return table + b"\x00\x00\x00\x00" + extra


def _rationals(degrees: float) -> bytes:
    seconds = round(abs(degrees) * 3600 * 1000)
    d, rest = divmod(seconds, 3600 * 1000)
    m, s = divmod(rest, 60 * 1000)
    return struct.pack(">IIIIII", d, 1, m, 1, s, 1000)


def _tiff(when: datetime | None, gps: tuple[float, float] | None) -> bytes:
    pointers = []
    if when is not None:
        pointers.append((0x8769, LONG, 1, b""))
    if gps is not None:
        pointers.append((0x8825, LONG, 1, b""))
    at = 8 + 2 + 12 * len(pointers) + 4
    blocks, offsets = [], {}
    if when is not None:
        stamp = when.strftime("%Y:%m:%d %H:%M:%S").encode() + b"\x00"
        offsets[0x8769] = at
        blocks.append(_ifd([(0x9003, ASCII, len(stamp), stamp)], at))
        at += len(blocks[-1])
    if gps is not None:
        lat, lon = gps
        offsets[0x8825] = at
        blocks.append(_ifd([
            (0x0000, BYTE, 4, bytes([2, 3, 0, 0])),
            (0x0001, ASCII, 2, b"N\x00" if lat >= 0 else b"S\x00"),
            (0x0002, RATIONAL, 3, _rationals(lat)),
            (0x0003, ASCII, 2, b"E\x00" if lon >= 0 else b"W\x00"),
            (0x0004, RATIONAL, 3, _rationals(lon)),
        ], at))
    ifd0 = _ifd([(tag, kind, 1, struct.pack(">I", offsets[tag]))
                 for tag, kind, _, _ in pointers], 8)
    return b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + b"".join(blocks)
