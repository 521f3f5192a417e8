"""Local filesystem blob backend (the default), ING-4.

Layout under ``root``::

    staging/<host>~<pid>~<uuid4>.part   private (0600), created with O_EXCL, one writer
    sha256/ab/cd/<sha256>     final originals, read-only (0444), never replaced but by a
                              fixity repair (``replace_damaged``)
    quarantine/<time>-<sha256>  the damaged bytes a repair replaced (hard links, kept)

Durability: ``Staging.close()`` fsyncs the file; ``finalize`` makes the file read-only,
fsyncs it, hard-links it to its content address (``link`` fails if that name exists, so an
existing original can never be replaced), fsyncs the directory, then removes the staging
name and fsyncs the staging directory. A crash at any point leaves either no final object
or a complete, verified one, plus at most a staging leftover for ``clean_staging``.

Verification reads (``read_staging``, ``read_verified``) come from the disk, not from the
page cache: the file is fsynced first, so all its pages are clean, and
``posix_fadvise(POSIX_FADV_DONTNEED)`` then evicts them — once for the whole file before
reading and again for each chunk as it is read. This is the filesystem's read-back
verification: what is hashed is what the disk returns.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from witness.core.errors import NotFound, WitnessError

from .base import (
    CHUNK,
    KEY,
    BlobBackend,
    FinalObject,
    Replaced,
    Staging,
    content_key,
    orphaned,
    staging_token,
)

STAGING_DIR = "staging"
QUARANTINE_DIR = "quarantine"
SUFFIX = ".part"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs_durable(path: Path) -> None:
    """Create ``path`` and any missing parents, fsyncing each parent that gained an entry."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o755)
        _fsync_dir(d.parent)


def _load_sync_file_range():
    """Linux ``sync_file_range(2)`` (not in the os module), or None elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_sync_file_range = _load_sync_file_range()


def _checked_sync(fd: int, offset: int, length: int, flags: int) -> None:
    """sync_file_range, raising on failure: a WAIT call clears the file's pending write
    error, so an EIO ignored here would let the later fsync report success."""
    if _sync_file_range(fd, offset, length, flags) == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
_SFR_START, _SFR_WAIT = 2, 1 | 2 | 4  # WRITE; WAIT_BEFORE | WRITE | WAIT_AFTER
WRITEBACK_WINDOW = 16 * 1024 * 1024


def _drop(fd: int, offset: int = 0, length: int = 0) -> None:
    os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _read_from_disk(fd: int, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
    """Bytes ``start``..``end`` of a clean (fsynced) file, evicted from the page cache
    before reading and chunk by chunk as they are read."""
    _drop(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    pos = start
    while pos < end:
        data = os.pread(fd, min(chunk_size, end - pos), pos)
        if not data:
            break
        _drop(fd, pos, len(data))
        pos += len(data)
        yield data


class LocalStaging(Staging):
    def __init__(self, path: Path):
        self.path = path
        self.name = str(path)
        self.size = 0
        self.closed = False
        self._started = 0  # bytes handed to writeback so far
        self._waiting = 0  # bytes known to be on disk (and evicted from the cache)
        self._fd: int | None = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)

    def write(self, data: bytes | memoryview) -> None:
        if self._fd is None:
            raise ValueError("staging file already closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self.size += written
        if _sync_file_range is not None and self.size - self._started >= WRITEBACK_WINDOW:
            self._writeback()

    def _writeback(self) -> None:
        """Start writing the new window to disk, then wait for the previous one and evict
        it: the disk works while the source is still being read, close() has little left
        to flush, and the page cache does not fill up with the copy."""
        waiting, previous = self._waiting, self._started
        _checked_sync(self._fd, previous, self.size - previous, _SFR_START)
        self._waiting, self._started = previous, self.size
        if previous > waiting:
            _checked_sync(self._fd, waiting, previous - waiting, _SFR_WAIT)
            _drop(self._fd, waiting, previous - waiting)

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self.closed = True

    def abort(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class LocalBackend(BlobBackend):
    name = "file"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.staging_dir = self.root / STAGING_DIR

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    @property
    def location(self) -> str:
        return self.root.absolute().as_uri()

    # -- staging -------------------------------------------------------------------------

    def open_staging(self) -> LocalStaging:
        _makedirs_durable(self.staging_dir)
        return LocalStaging(self.staging_dir / f"{staging_token()}{SUFFIX}")

    def _closed(self, staging: Staging) -> LocalStaging:
        if not isinstance(staging, LocalStaging) or Path(staging.name).parent != self.staging_dir:
            raise ValueError(f"not a staging file of {self!r}: {staging.name}")
        if not staging.closed:
            raise ValueError("close() the staging file (fsync) before reading or finalizing it")
        return staging

    def read_staging(self, staging: Staging, chunk_size: int = CHUNK) -> Iterator[bytes]:
        path = self._closed(staging).path
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            yield from _read_from_disk(fd, 0, os.fstat(fd).st_size, chunk_size)
        finally:
            os.close(fd)

    def _seal(self, staging: Staging, sha256: str) -> tuple[LocalStaging, str, Path]:
        """Read-only and durable before the final name exists: a crash never leaves a
        writable original behind."""
        staging = self._closed(staging)
        key = content_key(sha256)
        final = self.root / key
        _makedirs_durable(final.parent)
        fd = os.open(staging.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, 0o444)
            os.fsync(fd)
        finally:
            os.close(fd)
        return staging, key, final

    def finalize(self, staging: Staging, sha256: str) -> FinalObject:
        staging, key, final = self._seal(staging, sha256)
        try:
            os.link(staging.path, final)
        except FileExistsError:
            existing = final.lstat().st_size
            self.discard(staging)
            if existing != staging.size:
                raise WitnessError(
                    _("The stored original %(key)s has %(existing)s bytes, not %(size)s: "
                      "it is damaged and must be examined; nothing was replaced."),
                    code="stored_original_damaged", key=key, existing=existing,
                    size=staging.size) from None
            return FinalObject(key=key, size=existing, created=False)
        _fsync_dir(final.parent)
        staging.path.unlink()
        _fsync_dir(self.staging_dir)
        return FinalObject(key=key, size=staging.size, created=True)

    def replace_damaged(self, staging: Staging, sha256: str) -> Replaced:
        """Hard-link the damaged file under ``quarantine/`` (its bytes stay, read-only),
        then rename the verified staging file over the final name: at every moment the
        final name holds either the damaged or the repaired bytes, never nothing."""
        staging, key, final = self._seal(staging, sha256)
        aside = None
        if os.path.lexists(final):
            quarantine = self.root / QUARANTINE_DIR
            _makedirs_durable(quarantine)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            aside = quarantine / f"{stamp}-{sha256}-{uuid.uuid4().hex[:8]}"
            os.link(final, aside, follow_symlinks=False)
            _fsync_dir(quarantine)
        os.rename(staging.path, final)
        _fsync_dir(final.parent)
        _fsync_dir(self.staging_dir)
        return Replaced(key=key, size=staging.size,
                        aside=str(aside.relative_to(self.root)) if aside else None)

    def discard(self, staging: Staging) -> None:
        staging.abort()
        if self.staging_dir.is_dir():
            _fsync_dir(self.staging_dir)

    def clean_staging(self, older_than: timedelta) -> int:
        if not self.staging_dir.is_dir():
            return 0
        limit = time.time() - older_than.total_seconds()
        removed = 0
        for entry in os.scandir(self.staging_dir):
            if not entry.name.endswith(SUFFIX) or not entry.is_file(follow_symlinks=False):
                continue
            if (orphaned(entry.name[:-len(SUFFIX)])
                    or entry.stat(follow_symlinks=False).st_mtime < limit):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
        if removed:
            _fsync_dir(self.staging_dir)
        return removed

    # -- final objects -------------------------------------------------------------------

    def path(self, key: str) -> Path:
        """The file of a final object (for tools that need a path, e.g. ffprobe)."""
        if not KEY.match(key):
            raise ValueError(f"not a content key: {key!r}")
        return self.root / key

    def list_keys(self) -> Iterator[str]:
        """Every file under the root but staging and quarantine, as a key (``a/b/c``);
        a symbolic link is listed, never followed."""
        if not self.root.is_dir():
            return
        for folder, dirs, files in os.walk(self.root):
            here = os.path.relpath(folder, self.root)
            if here == ".":
                dirs[:] = [d for d in dirs if d not in (STAGING_DIR, QUARANTINE_DIR)]
            links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
            dirs[:] = sorted(d for d in dirs if d not in links)
            for name in sorted(files + links):
                key = name if here == "." else f"{here}/{name}"
                # a name that is not UTF-8 is shown with escapes (it is untracked anyway)
                yield key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound(_("No stored original under %(key)s."), key=key) from None

    def _open(self, key: str) -> int:
        try:
            return os.open(self.path(key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(_("No stored original under %(key)s."), key=key) from None

    def read(self, key: str, start: int = 0, end: int | None = None,
             chunk_size: int = CHUNK) -> Iterator[bytes]:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad byte range {start}-{end}")
        fd = self._open(key)
        try:
            size = os.fstat(fd).st_size
            stop = size if end is None else min(end, size)
            pos = start
            while pos < stop:
                data = os.pread(fd, min(chunk_size, stop - pos), pos)
                if not data:
                    break
                pos += len(data)
                yield data
        finally:
            os.close(fd)

    def read_verified(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The whole final object as the disk returns it (fixity checks)."""
        fd = self._open(key)
        try:
            yield from _read_from_disk(fd, 0, os.fstat(fd).st_size, chunk_size)
        finally:
            os.close(fd)
