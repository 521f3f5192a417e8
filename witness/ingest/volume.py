"""What a mounted device volume holds (issue 3 item 2; ING-1, DEV-4).

``scan`` walks a volume (a body camera's USB storage, a recorder's card, a folder of photos)
and yields every media file and every entry it skipped, with the reason, in the byte order of
the relative paths. It never follows a symbolic link: every entry is examined with ``lstat``
and every directory is opened relative to its parent with ``O_NOFOLLOW``, so a link swapped in
during the walk is not followed either. Names are kept as the bytes on the volume
(``raw_relative``); ``path`` carries them through ``os.fsdecode`` (surrogateescape), so
``os.fsencode(path)`` gives the original bytes back, GBK names included.

``read_identity`` and ``read_clock`` read the small files some devices keep at the volume
root: ``DEVICE.TXT`` / ``DEVINFO.TXT`` / ``device.ini`` (``SERIAL=…``, ``MODEL=…``,
``BADGE=…`` or ``序列号=…``, ``型号=…``, ``警号=…``) and ``TIME.TXT`` (the device's current
time, ``YYYY-MM-DD hh:mm:ss``, from which the ingest computes the clock drift, DEV-4).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db import models
from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError

VIDEO = frozenset({"mp4", "mov", "avi", "mkv", "ts", "m4v", "3gp"})
AUDIO = frozenset({"wav", "mp3", "m4a", "aac", "amr", "flac", "ogg"})
PHOTO = frozenset({"jpg", "jpeg", "png", "heic"})
MEDIA_KINDS = {ext: kind for kind, exts in (("video", VIDEO), ("audio", AUDIO),
                                            ("photo", PHOTO)) for ext in exts}

IDENTITY_FILES = ("device.txt", "devinfo.txt", "device.ini")  # in order of preference
CLOCK_FILES = ("time.txt",)
MAX_INFO_BYTES = 64 * 1024
MAX_VALUE_CHARS = 100  # Device.serial / Device.model max_length

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO never blocks


class SkipReason(models.TextChoices):
    NOT_MEDIA = "not_media", _("not media")
    SYMLINK = "symlink", _("symbolic link (not followed)")
    SPECIAL_FILE = "special_file", _("special file")
    UNREADABLE_DIRECTORY = "unreadable_directory", _("unreadable directory")
    UNREADABLE = "unreadable", _("unreadable entry")


@dataclass(frozen=True)
class _Entry:
    path: Path
    raw_relative: bytes  # relative to the volume root, b"/" between parts

    @property
    def raw_name(self) -> bytes:
        return self.raw_relative.rpartition(b"/")[2]

    @property
    def display(self) -> str:
        """The relative path for people and JSON: undecodable bytes shown as \\xNN."""
        return self.raw_relative.decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class VolumeFile(_Entry):
    kind: str  # video, audio or photo
    size: int
    mtime_ns: int
    # (st_dev, st_ino) as scanned: storage.pipeline.store_file(expect=identity) refuses a
    # different file at this path (a directory swapped for a symlink after the scan).
    identity: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Skipped(_Entry):
    reason: SkipReason
    detail: str = ""
    size: int = 0  # of a regular file that is not media (station mode sees it grow)
    mtime_ns: int = 0


def media_kind(name: bytes | str) -> str | None:
    """video, audio or photo from the extension (any case), else None."""
    ext = os.path.splitext(os.fsencode(name))[1][1:]
    return MEDIA_KINDS.get(ext.decode("ascii", "replace").lower())


def scan(root: str | os.PathLike) -> Iterator[VolumeFile | Skipped]:
    """Every media file and skipped entry under ``root``, sorted by relative path bytes.

    ``root`` itself is the volume the user named and is opened even through a link; nothing
    below it is. An unreadable root raises WitnessError at once, before iteration.
    """
    root = Path(root)
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _listing(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise WitnessError(_("Cannot read the volume %(path)s: %(problem)s"),
                           code="volume_unreadable", path=str(root),
                           problem=exc.strerror or str(exc)) from exc
    return _walk(root)


def _listing(fd: int) -> list[tuple[bytes, bytes, os.stat_result | OSError]]:
    """(sort key, name, lstat or its error) for each entry, sorted so that a depth-first walk
    yields relative paths in byte order (a directory sorts as ``name/``)."""
    with os.scandir(fd) as it:
        names = [os.fsencode(entry.name) for entry in it]
    listing = []
    for name in names:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as exc:
            st = exc
        is_dir = isinstance(st, os.stat_result) and stat.S_ISDIR(st.st_mode)
        listing.append((name + b"/" if is_dir else name, name, st))
    listing.sort()
    return listing


def _walk(root: Path) -> Iterator[VolumeFile | Skipped]:
    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    stack = [(top, b"", iter(_listing(top)))]
    try:
        while stack:
            fd, prefix, entries = stack[-1]
            item = next(entries, None)
            if item is None:
                stack.pop()
                os.close(fd)
                continue
            _key, name, st = item
            rel = prefix + name
            path = root / os.fsdecode(rel)
            if isinstance(st, OSError):
                yield Skipped(path, rel, SkipReason.UNREADABLE, st.strerror or str(st))
            elif stat.S_ISLNK(st.st_mode):
                yield Skipped(path, rel, SkipReason.SYMLINK)
            elif stat.S_ISDIR(st.st_mode):
                child = _open_dir(name, fd)
                if isinstance(child, OSError):
                    yield Skipped(path, rel, SkipReason.UNREADABLE_DIRECTORY,
                                  child.strerror or str(child))
                else:
                    stack.append((child[0], rel + b"/", iter(child[1])))
            elif stat.S_ISREG(st.st_mode):
                kind = media_kind(name)
                if kind:
                    yield VolumeFile(path, rel, kind, st.st_size, st.st_mtime_ns,
                                     (st.st_dev, st.st_ino))
                else:
                    yield Skipped(path, rel, SkipReason.NOT_MEDIA, size=st.st_size,
                                  mtime_ns=st.st_mtime_ns)
            else:
                yield Skipped(path, rel, SkipReason.SPECIAL_FILE)
    finally:
        for fd, _prefix, _entries in stack:
            os.close(fd)


def _open_dir(name: bytes, parent: int):
    """(fd, listing) of a subdirectory, never through a link; or the OSError."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        return exc
    try:
        return fd, _listing(fd)
    except OSError as exc:
        os.close(fd)
        return exc


# --- device information files at the volume root --------------------------------------------

@dataclass(frozen=True)
class VolumeIdentity:
    serial: str
    model: str
    badge: str
    source_file: Path


@dataclass(frozen=True)
class DeviceClock:
    device_time: datetime  # naive, as the device clock showed it
    source_file: Path


_KEYS = {
    "serial": "serial", "sn": "serial", "serialno": "serial", "serialnumber": "serial",
    "序列号": "serial", "设备序列号": "serial", "产品序列号": "serial", "设备编号": "serial",
    "model": "model", "型号": "model", "设备型号": "model", "产品型号": "model",
    "badge": "badge", "badgeno": "badge", "policeid": "badge",
    "警号": "badge", "执法证号": "badge", "执法证编号": "badge", "警员编号": "badge",
}
_LINE = re.compile(r"([^=:＝：]+?)\s*[=:＝：]\s*(.*)")
_CLOCK = re.compile(r"([0-9]{4})[-/]([0-9]{2})[-/]([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})",
                    re.ASCII)


def read_identity(root: str | os.PathLike) -> VolumeIdentity | None:
    """The device identity from the first identity file at the root that names a serial."""
    for path in _root_files(Path(root), IDENTITY_FILES):
        fields = _fields(_read_small(path) or "")
        if fields.get("serial"):
            return VolumeIdentity(fields["serial"], fields.get("model", ""),
                                  fields.get("badge", ""), path)
    return None


def read_clock(root: str | os.PathLike) -> DeviceClock | None:
    """The device's own time from ``TIME.TXT`` (its first non-empty line), else None."""
    for path in _root_files(Path(root), CLOCK_FILES):
        lines = [line.strip() for line in (_read_small(path) or "").splitlines()]
        first = next((line for line in lines if line), "")
        match = _CLOCK.fullmatch(first)
        if match:
            try:
                return DeviceClock(datetime(*map(int, match.groups())), path)
            except ValueError:
                return None
    return None


def _root_files(root: Path, wanted: tuple[str, ...]) -> list[Path]:
    """Entries at the root whose name is one of ``wanted`` in any case, in that order."""
    try:
        with os.scandir(root) as it:
            names = sorted(entry.name for entry in it if entry.name.lower() in wanted)
    except OSError:
        return []
    return [root / name for name in sorted(names, key=lambda n: wanted.index(n.lower()))]


def _read_small(path: Path) -> str | None:
    """The text of a small regular file (UTF-8, UTF-16 with BOM or GB18030), never through a
    link; None when it is anything else or cannot be read."""
    try:
        fd = os.open(path, _FILE_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_INFO_BYTES:
            return None
        data = os.read(fd, MAX_INFO_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    encodings = ("utf-16",) if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",
                                                                           "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return None if "\x00" in text else text
    return None


def _fields(text: str) -> dict[str, str]:
    """serial, model and badge from ``KEY=VALUE`` lines (also ``:`` and full-width forms);
    the first usable value of each wins. Comments, sections and odd values are ignored."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        match = _LINE.fullmatch(line)
        if not match:
            continue
        key = re.sub(r"[\s_\-]", "", match[1]).lower()
        value = match[2].strip().strip("\"'").strip()
        field = _KEYS.get(key)
        if (field and field not in fields and value and len(value) <= MAX_VALUE_CHARS
                and value.isprintable()):
            fields[field] = value
    return fields


# --- wiping a device after a verified ingest (ING-3) ------------------------------------------

def remove_file(root: str | os.PathLike, entry: VolumeFile) -> bool:
    """Delete ``entry`` from the volume, only if it is still the very file that was scanned
    and stored (same device and inode, size and modification time). Directories are opened
    from the root with ``O_NOFOLLOW``, so a link swapped in never leads outside the volume.
    Returns False (and deletes nothing) when the file is gone or is another file now."""
    parts = entry.raw_relative.split(b"/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        try:
            st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if not (stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == tuple(entry.identity)
                and st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns):
            return False
        os.unlink(parts[-1], dir_fd=fd)
        os.fsync(fd)
        return True
    finally:
        os.close(fd)
