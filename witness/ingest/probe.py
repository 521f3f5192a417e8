"""Media facts from ffprobe (Debian's ffmpeg) plus cheap reads of the file's head.

``probe(path)`` never reads a whole file into Python: ffprobe reads the container, the
MP4/MOV atom scan reads only the 8-16 byte atom headers and seeks past payloads, and the
EXIF reader looks at the first 64 KiB of a JPEG. Damaged or empty media are still
evidence, so bad media never raise: the facts say ``readable=False`` and why.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from witness.core.errors import NotFound, Text, WitnessError

FFPROBE_TIMEOUT = 60
EXIF_WINDOW = 64 * 1024
PHOTO_CODECS = {"mjpeg", "png", "webp", "bmp", "tiff", "gif"}
PHOTO_FORMATS = {"image2", "jpeg_pipe", "png_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif"}
PLAYABLE_AUDIO_FORMATS = {"wav", "mp3", "aac"}
# Demuxers that read other files named inside this one: a playlist is not evidence itself.
PLAYLIST_FORMATS = {"hls", "concat", "dash"}
PLAYABLE_PIXEL_FORMATS = {"yuv420p", "yuvj420p"}


@dataclass(frozen=True)
class Gps:
    latitude: float
    longitude: float


@dataclass
class MediaFacts:
    readable: bool
    reason: Text | None = None  # why it is not readable; rendered in the active language
    kind: str | None = None  # "video", "audio" or "photo"
    duration: Decimal | None = None  # seconds
    container: str | None = None  # ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None  # video: frames per second (the player's frame step)
    encoder: str | None = None
    creation_time: datetime | None = None  # aware UTC
    camera_time: datetime | None = None  # photos: EXIF DateTimeOriginal, naive camera clock
    gps: Gps | None = None
    faststart: bool | None = None  # MP4/MOV: the index (moov) comes before the media (mdat)
    browser_playable: bool = False

    def as_dict(self) -> dict:
        data = asdict(self)
        data["reason"] = str(self.reason) if self.reason else None
        data["duration"] = str(self.duration) if self.duration is not None else None
        for key in ("creation_time", "camera_time"):
            data[key] = self.__dict__[key].isoformat() if self.__dict__[key] else None
        return data


def probe(path) -> MediaFacts:
    path = Path(path)
    if not path.is_file():
        raise NotFound(_("No such media file: %(path)s"), code="media_not_found", path=str(path))
    if path.stat().st_size == 0:
        return MediaFacts(readable=False, reason=Text(_("The file is empty (0 bytes).")))
    data, reason = _ffprobe(path)
    if reason is not None:
        return MediaFacts(readable=False, reason=reason)
    return _facts(path, data)


def _ffprobe(path: Path) -> tuple[dict, Text | None]:
    # "file:" + an absolute path: a ":" in the name is no protocol, a leading "-" no option.
    # Only the file protocol: a playlist disguised as media cannot reach the network.
    target = "file:" + os.path.abspath(path)
    cmd = ["ffprobe", "-v", "error", "-protocol_whitelist", "file", "-print_format", "json",
           "-show_format", "-show_streams", target]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=FFPROBE_TIMEOUT, check=False)
    except FileNotFoundError:
        raise WitnessError(
            _("ffprobe is not installed: install the Debian package ffmpeg "
              "(apt-get install ffmpeg)."), code="ffprobe_missing") from None
    except subprocess.TimeoutExpired:
        return {}, Text(_("ffprobe did not finish within %(seconds)s seconds."),
                        seconds=FFPROBE_TIMEOUT)
    error = done.stderr.decode("utf-8", "replace").strip().splitlines()
    try:
        data = json.loads(done.stdout or b"{}")
    except ValueError:
        data = {}
    if done.returncode or not data.get("format"):
        detail = error[-1] if error else f"exit status {done.returncode}"
        detail = detail.removeprefix(f"{target}: ")
        return {}, Text(_("ffprobe could not read the file: %(error)s"), error=detail)
    if data["format"].get("format_name") in PLAYLIST_FORMATS:
        return {}, Text(_("The file is a playlist that refers to other files (%(format)s), "
                          "not media."), format=data["format"]["format_name"])
    if not data.get("streams"):
        return {}, Text(_("The file holds no audio, video or image streams."))
    return data, None


def _facts(path: Path, data: dict) -> MediaFacts:
    fmt = data["format"]
    streams = data["streams"]
    tags = _tags(fmt)
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    container = fmt.get("format_name")
    is_photo = (video is not None and audio is None and container in PHOTO_FORMATS
                and video.get("codec_name") in PHOTO_CODECS)
    facts = MediaFacts(
        readable=True,
        kind="photo" if is_photo else "video" if video else "audio" if audio else None,
        container=container,
        video_codec=video.get("codec_name") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
        frame_rate=stream_frame_rate(video) if video and not is_photo else None,
        duration=None if is_photo else _decimal(fmt.get("duration")),
        encoder=_encoder(tags, video, audio),
        creation_time=_creation_time(tags, streams),
        gps=parse_iso6709(tags.get("location") or tags.get("location-eng")
                     or tags.get("com.apple.quicktime.location.iso6709")),
    )
    if facts.kind is None:
        facts.readable = False
        facts.reason = Text(_("The file holds no audio, video or image streams."))
        return facts
    if is_photo and video.get("codec_name") == "mjpeg":
        exif = read_exif(path)
        facts.camera_time = exif.get("camera_time")
        facts.creation_time = facts.creation_time or exif.get("creation_time")
        facts.gps = facts.gps or exif.get("gps")
    if "mp4" in (container or "") or "mov" in (container or ""):
        facts.faststart, cut_short = mp4_layout(path)
        if cut_short:  # the index is there, the media it points to is not
            facts.readable = False
            facts.reason = Text(_("The file is cut short: its last part is missing (an "
                                  "interrupted copy or recording)."))
    facts.browser_playable = _playable(facts, video)
    return facts


def stream_frame_rate(stream: dict) -> float | None:
    """Frames per second of an ffprobe video stream: the average rate, else the base rate;
    None when neither is a plausible rate (1–240)."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        try:
            rate = float(Fraction(stream.get(key) or "0/0"))
        except (ValueError, ZeroDivisionError):
            continue
        if 1 <= rate <= 240:
            return round(rate, 3)
    return None


def _playable(facts: MediaFacts, video: dict | None) -> bool:
    if facts.kind == "photo":
        return facts.video_codec in ("mjpeg", "png")
    if facts.kind == "audio":
        names = (facts.container or "").split(",")
        return any(name in PLAYABLE_AUDIO_FORMATS for name in names) or (
            facts.faststart is True and facts.audio_codec == "aac")
    pix_fmt = video.get("pix_fmt")
    return (facts.faststart is True and facts.video_codec == "h264"
            and facts.audio_codec in (None, "aac")
            and (pix_fmt is None or pix_fmt in PLAYABLE_PIXEL_FORMATS))


def _tags(item: dict) -> dict:
    return {str(k).lower(): str(v) for k, v in (item.get("tags") or {}).items()}


def _decimal(value) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number >= 0 else None


def _encoder(tags: dict, video: dict | None, audio: dict | None) -> str | None:
    if tags.get("encoder"):
        return tags["encoder"]
    for stream in (video, audio):
        stream_tags = _tags(stream) if stream else {}
        if stream_tags.get("encoder"):
            return stream_tags["encoder"]
    for stream in (video, audio):
        stream_tags = _tags(stream) if stream else {}
        if stream_tags.get("handler_name"):
            return stream_tags["handler_name"]
    return None


def _creation_time(tags: dict, streams: list[dict]) -> datetime | None:
    values = [tags.get("creation_time")] + [_tags(s).get("creation_time") for s in streams]
    for value in values:
        when = _parse_time(value)
        if when is not None:
            return when
    return None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 UTC
        return None
    # 0 in the MP4 (1904) or Unix (1970) epoch means "the clock was never set".
    return None if when.year < 1980 else when


ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?(?:CRS.*)?/?$")


def parse_iso6709(value: str | None) -> Gps | None:
    """ISO 6709 in degrees, degrees+minutes or degrees+minutes+seconds."""
    match = ISO6709.match((value or "").strip())
    if not match:
        return None
    lat = _angle(match.group(1), degree_digits=2)
    lon = _angle(match.group(2), degree_digits=3)
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    return Gps(latitude=lat, longitude=lon)


def _angle(text: str, degree_digits: int) -> float | None:
    sign = -1 if text[0] == "-" else 1
    whole, _dot, fraction = text[1:].partition(".")
    extra = len(whole) - degree_digits
    if extra not in (0, 2, 4):
        return None
    parts = [whole[:degree_digits], whole[degree_digits:degree_digits + 2],
             whole[degree_digits + 2:]]
    numbers = [float(p) if p else 0.0 for p in parts]
    if fraction:
        numbers[extra // 2] += float("0." + fraction)
    return sign * (numbers[0] + numbers[1] / 60 + numbers[2] / 3600)


def _top_level_boxes(f, end: int):
    """(kind, start, declared size) of each top-level MP4/MOV box, as far as they go."""
    at = 0
    for _step in range(100_000):
        if at + 8 > end:
            return
        f.seek(at)
        size, kind = struct.unpack(">I4s", f.read(8))
        if size == 1:  # a 64-bit size follows the header
            if at + 16 > end:
                yield kind, at, at + 16
                return
            size = struct.unpack(">Q", f.read(8))[0]
        elif size == 0:
            size = end - at
        yield kind, at, size
        if size < 8:
            return
        at += size


def mp4_layout(path) -> tuple[bool, bool]:
    """(fast-start, cut short) of an MP4/MOV file from one walk over its top-level boxes:
    whether the index (``moov``) comes whole before the media (``mdat``), and whether a box
    declares more bytes than the file holds (a copy or a recording cut off, which ffprobe
    still reads when the index is at the front)."""
    faststart = None
    with open(path, "rb") as f:
        end = f.seek(0, 2)
        for kind, start, size in _top_level_boxes(f, end):
            if faststart is None and kind == b"moov":
                faststart = start + 8 <= end
            elif faststart is None and (kind == b"mdat" or size < 8):
                faststart = False
            if start + size > end:
                return bool(faststart), True
    return bool(faststart), False


def moov_before_mdat(path) -> bool:
    """Whether the MP4/MOV index (``moov``) precedes the media data (``mdat``). A file
    whose ``moov`` is missing (e.g. cut short) is not fast-start."""
    return mp4_layout(path)[0]


# --- a bounded EXIF reader (JPEG APP1 in the first 64 KiB) ---------------------------------

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}


# Whatever a damaged or hostile TIFF structure makes the reader trip over.
EXIF_ERRORS = (struct.error, LookupError, TypeError, ValueError, ArithmeticError,
               AttributeError)


def read_exif(path) -> dict:
    """DateTimeOriginal (naive ``camera_time``; aware UTC ``creation_time`` when the camera
    recorded its offset) and GPS, from the JPEG's EXIF segment. Damaged EXIF gives no facts
    (at worst {}), never an exception."""
    with open(path, "rb") as f:
        head = f.read(EXIF_WINDOW)
    try:
        tiff = _exif_segment(head)
        return _parse_tiff(tiff) if tiff is not None else {}
    except EXIF_ERRORS:
        return {}


def _exif_segment(head: bytes) -> bytes | None:
    if head[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= len(head) and head[at] == 0xFF:
        marker = head[at + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            return None
        length = struct.unpack(">H", head[at + 2:at + 4])[0]
        body = head[at + 4:at + 2 + length]
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            return body[6:]
        at += 2 + length
    return None


def _parse_tiff(tiff: bytes) -> dict:
    order = {b"MM": ">", b"II": "<"}.get(tiff[:2])
    if order is None:
        return {}
    ifd0 = _read_ifd(tiff, order, struct.unpack(order + "I", tiff[4:8])[0])
    exif = _sub_ifd(tiff, order, ifd0.get(0x8769))
    result = {}
    camera = _camera_time(_text(exif.get(0x9003)) or _text(ifd0.get(0x0132)))
    if camera is not None:
        result["camera_time"] = camera
        zone = _zone(_text(exif.get(0x9011)))
        if zone is not None:
            try:
                result["creation_time"] = camera.replace(tzinfo=zone).astimezone(UTC)
            except OverflowError:  # e.g. 0001:01:01 00:00:00 at +01:00
                pass
    gps = _sub_ifd(tiff, order, ifd0.get(0x8825))
    lat = _coordinate(gps.get(2), _text(gps.get(1)), negative="S")
    lon = _coordinate(gps.get(4), _text(gps.get(3)), negative="W")
    if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180:
        result["gps"] = Gps(latitude=lat, longitude=lon)
    return result


def _sub_ifd(tiff: bytes, order: str, pointer) -> dict:
    """The IFD a LONG/SHORT pointer tag leads to; {} when the pointer or the IFD is bad."""
    if not (isinstance(pointer, list) and len(pointer) == 1 and isinstance(pointer[0], int)):
        return {}
    try:
        return _read_ifd(tiff, order, pointer[0])
    except EXIF_ERRORS:
        return {}


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _camera_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _zone(offset: str | None) -> timezone | None:
    if not offset or not re.fullmatch(r"[+-]\d\d:\d\d", offset):
        return None
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = map(int, offset[1:].split(":"))
    try:
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    except ValueError:  # beyond ±24 hours
        return None


def _coordinate(values, ref: str | None, negative: str) -> float | None:
    """Degrees from EXIF (degrees, minutes, seconds) rationals and an N/S or E/W reference."""
    if ref is None or not (isinstance(values, list) and len(values) == 3):
        return None
    if not all(isinstance(v, int | float) for v in values):
        return None
    d, m, s = values
    return (d + m / 60 + s / 3600) * (-1 if ref.upper() == negative else 1)


def _read_ifd(tiff: bytes, order: str, offset: int) -> dict:
    count = struct.unpack(order + "H", tiff[offset:offset + 2])[0]
    entries = {}
    for i in range(count):
        at = offset + 2 + 12 * i
        tag, kind, n = struct.unpack(order + "HHI", tiff[at:at + 8])
        size = TYPE_SIZES.get(kind, 1) * n
        raw = tiff[at + 8:at + 12]
        if size > 4:
            start = struct.unpack(order + "I", raw)[0]
            raw = tiff[start:start + size]
            if len(raw) < size:
                raise ValueError("EXIF value beyond the segment")
        raw = raw[:size]
        if kind == 2:
            entries[tag] = raw.split(b"\x00", 1)[0].decode("ascii", "replace")
        elif kind == 5:
            nums = struct.unpack(order + "I" * (2 * n), raw)
            entries[tag] = [nums[j] / nums[j + 1] for j in range(0, len(nums), 2)]
        elif kind in (3, 4):
            fmt = "H" if kind == 3 else "I"
            entries[tag] = list(struct.unpack(order + fmt * n, raw))
        else:
            entries[tag] = raw
    return entries
