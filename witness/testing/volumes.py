"""Device volumes for ingest tests, made with ffmpeg (issue 3 "Done when").

``body_camera_volume`` lays out what a docked body camera shows: its identity file, video
segments named ``SERIAL_BADGE_YYYYMMDDhhmmss_SEQ.MP4`` (contiguous ones, a gap, a hole in the
sequence numbers, an H.265 one marked important, a truncated one, a zero-byte one), a photo
with EXIF, a recorder WAV with a Chinese name, and a symbolic link pointing outside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from witness.ingest.naming import format_name

from . import media


@dataclass
class Volume:
    root: Path
    serial: str
    start: datetime  # naive, device-local: the first segment's start
    names: dict[str, str] = field(default_factory=dict)  # role -> path relative to root

    def path(self, role: str) -> Path:
        return self.root / self.names[role]


def segment(folder: Path, serial: str, badge: str, start: datetime, seq: int, *,
            seconds: float = 2, important: bool = False, **kwargs) -> Path:
    """One video segment as the body camera names it, made with ffmpeg."""
    path = folder / format_name(serial, badge, start, seq, important=important)
    media.make_video(path, seconds, size="160x120", title=f"{serial} {seq}", **kwargs)
    return path


def identity_file(root: Path, serial: str, badge: str, model: str = "DSJ-A9") -> None:
    (root / "DEVICE.TXT").write_text(f"SERIAL={serial}\nMODEL={model}\nBADGE={badge}\n")


def docked_camera(root, serial: str, badge: str, start: datetime, count: int = 2) -> Volume:
    """A small volume: the identity file and ``count`` contiguous one-second segments."""
    root = Path(root)
    dcim = root / "DCIM"
    dcim.mkdir(parents=True)
    vol = Volume(root, serial, start)
    for seq in range(1, count + 1):
        path = segment(dcim, serial, badge, start + timedelta(seconds=seq - 1), seq, seconds=1)
        vol.names[f"seg{seq}"] = f"DCIM/{path.name}"
    identity_file(root, serial, badge)
    return vol


def body_camera_volume(root, serial: str, badge: str, start: datetime, *,
                       clock: datetime | None = None, identity: bool = True,
                       outside: Path | None = None) -> Volume:
    """A volume under ``root``. Segment times (device clock, naive local):
    seq 1 at +0 s (2 s), seq 2 at +2 s (2 s, contiguous), seq 3 missing, seq 4 at +120 s
    (2 s; a 116 s gap), seq 5 at +180 s (H.265, important), seq 6 at +240 s truncated,
    seq 7 at +300 s zero bytes. ``clock`` writes TIME.TXT (the device's current time)."""
    root = Path(root)
    dcim = root / "DCIM" / "100MEDIA"
    dcim.mkdir(parents=True)
    vol = Volume(root, serial, start)

    def video(role, offset, seq, **kwargs):
        path = segment(dcim, serial, badge, start + timedelta(seconds=offset), seq, **kwargs)
        vol.names[role] = f"DCIM/100MEDIA/{path.name}"
        return path

    video("seg1", 0, 1)
    video("seg2", 2, 2)
    video("seg4", 120, 4)
    video("hevc", 180, 5, codec="hevc", seconds=1, important=True)
    media.truncate(video("truncated", 240, 6), 0.4)
    empty = dcim / format_name(serial, badge, start + timedelta(seconds=300), 7)
    empty.write_bytes(b"")
    vol.names["empty"] = f"DCIM/100MEDIA/{empty.name}"

    photos = root / "PHOTO"
    photos.mkdir()
    media.make_photo(photos / "IMG_0001.JPG", exif_datetime=start + timedelta(seconds=60),
                     size="160x120")
    vol.names["photo"] = "PHOTO/IMG_0001.JPG"
    audio = root / "录音"
    audio.mkdir()
    media.make_wav(audio / "现场录音.wav", 1)
    vol.names["wav"] = "录音/现场录音.wav"

    if outside is not None:
        (root / "PHOTO" / "elsewhere.mp4").symlink_to(outside)
        vol.names["symlink"] = "PHOTO/elsewhere.mp4"
    if identity:
        identity_file(root, serial, badge)
    if clock is not None:
        (root / "TIME.TXT").write_text(f"{clock:%Y-%m-%d %H:%M:%S}\n")
    return vol
