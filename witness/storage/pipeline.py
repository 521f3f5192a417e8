"""Storing one original: one pass over the source, verified read-back, write-once (ING-4).

``store_file`` reads the source once, in large chunks, into a fixed pool of buffers. Each
chunk goes to one thread per digest algorithm and to one staging writer; hashlib and file
I/O release the GIL on large buffers, so reading, hashing and writing overlap on separate
cores. Memory is the buffer pool (``POOL`` × ``chunk_size``) whatever the file size.

Then the staging object is made durable (``close``: fsync / completed upload) and read back
from the medium (``read_staging``: page cache dropped / full GET) — the kernel's read-ahead
overlaps reading and hashing — and its SHA-256 must equal the one computed from the source.
Only then does the object become final under its content address and get a :class:`Blob`
row.

``copy_verified`` writes a stream (another store's copy of a registered blob: replication,
fixity repair) through the same staging, read-back and finalisation steps, checking every
registered digest of the stream on the way.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import logging
import os
import queue
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import WitnessError

from .backends.base import CHUNK, BlobBackend, FinalObject, Staging
from .models import Blob

POOL = 4  # buffers in flight: the slowest consumer lags the reader by at most POOL chunks

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    digests: dict[str, str]
    key: str
    created: bool  # False: the same bytes were already stored (deduplicated blob)
    blob: Blob


def check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    """The digest algorithms to compute: SHA-256 always first (it is the content key)."""
    names = ["sha256"]
    for name in algorithms:
        name = name.lower()
        if name not in hashlib.algorithms_available:
            raise WitnessError(_("Unknown digest algorithm %(name)s."),
                               code="unknown_digest", name=name)
        if name not in names:
            names.append(name)
    return tuple(names)


def _open_source(path: str | os.PathLike) -> int:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WitnessError(_("%(path)s is a symbolic link; it is not followed."),
                               code="symlink_not_followed", path=os.fsdecode(path)) from None
        raise WitnessError(_("Cannot open %(path)s: %(reason)s."), code="source_unreadable",
                           path=os.fsdecode(path), reason=exc.strerror) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise WitnessError(_("%(path)s is not a regular file."), code="not_a_file",
                           path=os.fsdecode(path))
    return fd


def _changed(path: str | os.PathLike) -> WitnessError:
    return WitnessError(_("%(path)s changed while being read; nothing was stored."),
                        code="file_changed", path=os.fsdecode(path))


def _store_failed(path: str | os.PathLike, exc: OSError) -> WitnessError:
    return WitnessError(_("Cannot store %(path)s: %(reason)s."), code="storage_failed",
                        path=os.fsdecode(path), reason=exc.strerror or str(exc))


def _fingerprint(st: os.stat_result) -> tuple:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class _Fanout:
    """Hands each buffer to every consumer thread; a buffer returns to the pool when the
    last consumer is done with it."""

    def __init__(self, consumers: list[Callable], chunk_size: int):
        self.free: queue.Queue[bytearray] = queue.Queue()
        for _i in range(POOL):
            self.free.put(bytearray(chunk_size))
        self.queues = [queue.SimpleQueue() for _c in consumers]
        self.pending: dict[int, int] = {}
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._consume, args=(q, fn), daemon=True)
                        for q, fn in zip(self.queues, consumers, strict=True)]
        for t in self.threads:
            t.start()

    def _consume(self, q: queue.SimpleQueue, fn: Callable) -> None:
        while (item := q.get()) is not None:
            buf, view = item
            if not self.errors:
                try:
                    fn(view)
                except BaseException as exc:
                    self.errors.append(exc)
            self._release(buf)

    def _release(self, buf: bytearray) -> None:
        with self.lock:
            self.pending[id(buf)] -= 1
            done = self.pending[id(buf)] == 0
        if done:
            self.free.put(buf)

    def publish(self, buf: bytearray, n: int) -> None:
        view = memoryview(buf)[:n]
        with self.lock:
            self.pending[id(buf)] = len(self.queues)
        for q in self.queues:
            q.put((buf, view))

    def finish(self) -> None:
        for q in self.queues:
            q.put(None)
        for t in self.threads:
            t.join()


def fan_copy(read: Callable[[bytearray], int], staging, algorithms: tuple[str, ...],
             chunk_size: int, progress: Callable[[int], None] | None = None,
             ) -> tuple[dict[str, str], int]:
    """Copy what ``read(buffer) -> bytes read`` yields into ``staging`` while every digest of
    ``algorithms`` is computed, in one pass: each chunk read once into a fixed pool of
    buffers and handed to one thread per digest and one writing (memory flat in file size).
    Returns (digests, size); the first error of a consumer is raised as it is."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    fanout = _Fanout([*(h.update for h in hashers.values()), staging.write], chunk_size)
    size = 0
    try:
        while not fanout.errors:
            buf = fanout.free.get()
            n = read(buf)
            if n == 0:
                fanout.free.put(buf)
                break
            size += n
            fanout.publish(buf, n)
            if progress is not None:
                progress(n)
    finally:
        fanout.finish()
    if fanout.errors:
        raise fanout.errors[0]
    return {name: h.hexdigest() for name, h in hashers.items()}, size


def _copy(path, fd: int, staging: Staging, algorithms: tuple[str, ...], chunk_size: int,
          progress: Callable[[int], None] | None) -> tuple[dict[str, str], int]:
    def read(buf: bytearray) -> int:
        try:
            return os.readv(fd, [buf])
        except OSError as exc:
            raise WitnessError(_("Cannot read %(path)s: %(reason)s."),
                               code="source_unreadable", path=os.fsdecode(path),
                               reason=exc.strerror) from exc

    try:
        return fan_copy(read, staging, algorithms, chunk_size, progress)
    except OSError as exc:  # the staging copy could not be written (disk full …)
        raise _store_failed(path, exc) from exc


def sha256_of(chunks: Iterator[bytes]) -> tuple[str, int]:
    """SHA-256 and size of a stream. The backend's reads run ahead of the hashing on their
    own (filesystem: the kernel's sequential read-ahead; S3: the socket buffers), and chunks
    are made and freed by this one thread, so the memory allocator reuses them instead of
    piling them up in per-thread arenas (measured: RSS grew with every file otherwise)."""
    digests, size = digests_of(chunks, ("sha256",))
    return digests["sha256"], size


def digests_of(chunks: Iterator[bytes], algorithms: Iterable[str],
               progress: Callable[[int], None] | None = None) -> tuple[dict[str, str], int]:
    """Every named digest and the size of a stream, in one pass (a fixity check, a copy)."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    size = 0
    for chunk in chunks:
        for h in hashers.values():
            h.update(chunk)
        size += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return {name: h.hexdigest() for name, h in hashers.items()}, size


@dataclass(frozen=True)
class StoredObject:
    """A verified final object not yet registered (``register`` makes its Blob row)."""

    sha256: str
    size: int
    digests: dict[str, str]
    key: str
    created: bool
    aside: str | None = None  # a replaced damaged object's bytes, kept there (repairs only)


@contextlib.contextmanager
def _staged(backend: BlobBackend, what):
    """A new staging object of ``backend``, discarded if the block fails. A failing discard
    (say, S3 unreachable) must not hide the original error; the leftover is removed by
    clean_staging later."""
    try:
        staging = backend.open_staging()
    except OSError as exc:
        raise _store_failed(what, exc) from exc
    try:
        yield staging
    except BaseException:
        try:
            backend.discard(staging)
        except Exception:
            logger.exception("could not discard staging object %s", staging.name)
        raise


def _seal(backend: BlobBackend, staging: Staging, sha256: str, size: int, what,
          chunk_size: int) -> None:
    """Make the staged bytes durable and read them back from the medium: their SHA-256 and
    size must be ``sha256`` and ``size``."""
    try:
        staging.close()
    except OSError as exc:  # fsync failed: the bytes may not be on the disk
        raise _store_failed(what, exc) from exc
    try:
        stored_sha256, stored_size = sha256_of(backend.read_staging(staging, chunk_size))
    except OSError as exc:  # the read-back itself failed (e.g. EIO)
        raise _store_failed(what, exc) from exc
    if (stored_sha256, stored_size) != (sha256, size):
        raise WitnessError(
            _("The stored copy of %(path)s did not read back identical (SHA-256 "
              "%(stored)s instead of %(expected)s); nothing was stored."),
            code="verification_failed", path=os.fsdecode(what),
            stored=stored_sha256, expected=sha256)


def _refuse_removed(sha256: str, what) -> None:
    """Content removed from this system on approval (a state secret handed off, EVD-4) is
    not stored again: the staged bytes are discarded and the source is left as it is."""
    removed = Blob.objects.filter(sha256=sha256, removed_at__isnull=False).values_list(
        "removed_because", flat=True).first()
    if removed is not None:
        raise WitnessError(
            _("%(path)s has the content of an original removed from this system on approval "
              "(%(because)s); it is not stored again. Hand it to the custodian of the "
              "offline copy."), code="content_removed", path=os.fsdecode(what),
            because=removed or "?")


def _finalize(backend: BlobBackend, staging: Staging, sha256: str, what) -> FinalObject:
    try:
        return backend.finalize(staging, sha256)
    except OSError as exc:
        raise _store_failed(what, exc) from exc


def store_file(path: str | os.PathLike, backend: BlobBackend,
               algorithms: Iterable[str] = ("sha256",), *, actor=None,
               chunk_size: int = CHUNK,
               progress: Callable[[int], None] | None = None,
               expect: tuple[int, int] | None = None) -> StoredBlob:
    """Store the file at ``path`` as a write-once original and register its :class:`Blob`
    (``store_object`` then ``register``)."""
    stored = store_object(path, backend, algorithms, chunk_size=chunk_size,
                          progress=progress, expect=expect)
    blob = register(backend, stored.key, stored.digests, stored.size, actor=actor,
                    created=stored.created)
    return StoredBlob(sha256=stored.sha256, size=stored.size, digests=dict(blob.digests),
                      key=stored.key, created=stored.created, blob=blob)


def store_object(path: str | os.PathLike, backend: BlobBackend,
                 algorithms: Iterable[str] = ("sha256",), *, chunk_size: int = CHUNK,
                 progress: Callable[[int], None] | None = None,
                 expect: tuple[int, int] | None = None) -> StoredObject:
    """Store the file at ``path`` as a write-once, verified final object; no database row.
    The caller registers it (``register``) in the transaction that records what it is.

    ``progress(n)`` is called after each chunk of ``n`` bytes read from the source.
    ``expect`` = (st_dev, st_ino) seen when the volume was scanned: the file opened must be
    that very file, so a directory swapped for a symlink after the scan is refused. Raises
    WitnessError if the source is a symbolic link, not a regular file, unreadable, changes
    while being read, or if the stored bytes do not read back identical; nothing is stored
    then.
    """
    algorithms = check_algorithms(algorithms)
    fd = _open_source(path)
    try:
        before = os.fstat(fd)
        if expect is not None and (before.st_dev, before.st_ino) != tuple(expect):
            raise _changed(path)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        with _staged(backend, path) as staging:
            digests, size = _copy(path, fd, staging, algorithms, chunk_size, progress)
            after = os.fstat(fd)
            try:
                now = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                raise _changed(path) from None
            if not (_fingerprint(before) == _fingerprint(after) == _fingerprint(now)
                    and size == before.st_size):
                raise _changed(path)
            _refuse_removed(digests["sha256"], path)
            _seal(backend, staging, digests["sha256"], size, path, chunk_size)
            final = _finalize(backend, staging, digests["sha256"], path)
    finally:
        os.close(fd)
    return StoredObject(sha256=digests["sha256"], size=size, digests=digests, key=final.key,
                        created=final.created)


def copy_verified(chunks: Iterator[bytes], backend: BlobBackend, digests: dict[str, str],
                  size: int, what: str, *, replace: bool = False, chunk_size: int = CHUNK,
                  progress: Callable[[int], None] | None = None) -> StoredObject:
    """Write the stream ``chunks`` (another store's copy of a registered blob) into
    ``backend`` as a verified final object: every digest in ``digests`` (the register's)
    and ``size`` must match the stream, and the stored bytes must read back identical,
    before the object becomes final. ``replace``: a damaged object under the key is
    replaced (``replace_damaged``, its bytes kept aside) instead of kept. Streams: memory
    does not grow with the size. Raises WitnessError (``copy_mismatch``, …); nothing is
    stored then."""
    algorithms = check_algorithms(digests)
    hashers = {name: hashlib.new(name) for name in algorithms}
    got = 0
    with _staged(backend, what) as staging:
        while True:
            try:
                chunk = next(chunks, None)
            except OSError as exc:
                raise WitnessError(_("Cannot read %(path)s: %(reason)s."),
                                   code="source_unreadable", path=what,
                                   reason=exc.strerror or str(exc)) from exc
            if chunk is None:
                break
            for h in hashers.values():
                h.update(chunk)
            try:
                staging.write(chunk)
            except OSError as exc:
                raise _store_failed(what, exc) from exc
            got += len(chunk)
            if progress is not None:
                progress(len(chunk))
        read = {name: h.hexdigest() for name, h in hashers.items()}
        differ = sorted(a for a in digests if read.get(a) != digests[a])
        if differ or got != size:
            raise WitnessError(
                _("The copy read for %(path)s does not match the register (%(what)s "
                  "differ); nothing was written."),
                code="copy_mismatch", path=what,
                what=", ".join(differ + (["size"] if got != size else [])))
        _seal(backend, staging, read["sha256"], got, what, chunk_size)
        if replace:
            try:
                done = backend.replace_damaged(staging, read["sha256"])
            except OSError as exc:
                raise _store_failed(what, exc) from exc
            final = FinalObject(key=done.key, size=done.size, created=True)
        else:
            done = None
            final = _finalize(backend, staging, read["sha256"], what)
    return StoredObject(sha256=read["sha256"], size=got, digests=read, key=final.key,
                        created=final.created, aside=done.aside if done else None)


def register(backend: BlobBackend, key: str, digests: dict[str, str], size: int, *,
             actor=None, created: bool) -> Blob:
    """Create (or refresh) the Blob row of a verified final object, with its audit entry."""
    now = timezone.now()
    with transaction.atomic():
        blob, new_row = Blob.objects.select_for_update().get_or_create(
            sha256=digests["sha256"],
            defaults={"size": size, "backend": backend.name, "key": key,
                      "digests": digests, "stored_at": now, "verified_at": now})
        if not new_row:
            clash = {a for a, v in digests.items() if blob.digests.get(a, v) != v}
            if clash or blob.size != size:
                raise WitnessError(
                    _("Blob %(sha256)s is registered with a different size or digest; "
                      "the register must be examined."),
                    code="blob_register_mismatch", sha256=blob.sha256)
            fields = []
            if not digests.keys() <= blob.digests.keys():  # a profile with more digests
                blob.digests = {**blob.digests, **digests}
                fields.append("digests")
            if created:  # bytes just stored and read back; a duplicate proves nothing new
                blob.verified_at = now
                fields.append("verified_at")
            if fields:
                blob.save(update_fields=fields)
        else:  # a new original: its second copy, if there is a replica store, once committed
            from .replica import enqueue_replication

            transaction.on_commit(functools.partial(enqueue_replication, blob.pk))
        audit.append(actor, "blob.store", blob, details={
            "sha256": blob.sha256, "size": size, "backend": backend.name, "key": key,
            "digests": digests, "new_object": created, "new_row": new_row})
    return blob
