"""The one interface every blob backend implements (local filesystem, S3-compatible).

Life of an original (ING-4):

1. ``staging = backend.open_staging()`` — a new, private staging object;
   ``staging.write(chunk)`` as the bytes stream in (the caller computes the digests);
   ``staging.close()`` makes the bytes durable (fsync / completed upload).
2. ``backend.read_staging(staging)`` yields the stored bytes **as read back from the
   storage medium** (filesystem: after dropping them from the page cache; S3: a full GET),
   so that the caller can verify the SHA-256 of what was actually stored.
3. ``backend.finalize(staging, sha256)`` moves the staged bytes to their content address
   ``sha256/ab/cd/<sha256>``. Write-once: an existing final object is never replaced; if it
   exists already (same content), the staging object is discarded and ``created`` is False.
4. ``backend.discard(staging)`` removes a staging object that failed verification;
   ``backend.clean_staging(older_than)`` removes leftovers of crashed runs.

There is deliberately **no delete of a final object** here: originals leave storage only
through the retention issue's approved purge, which will add its own narrowly named call.

Fixity (witness/storage/fixity.py) adds two calls: ``list_keys()`` (every final object, to
find untracked ones) and ``replace_damaged(staging, sha256)``, the one way a final object is
ever replaced: by a verified copy of the register's bytes, the damaged bytes kept aside
(filesystem: a hard link under ``quarantine/``; S3: the bucket's older version).
"""

from __future__ import annotations

import abc
import os
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 8 * 1024 * 1024


KEY = re.compile(r"^sha256/([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})$")


def key_sha256(key: str) -> str | None:
    """The SHA-256 a content key names, or None if ``key`` is not a content key."""
    match = KEY.match(key)
    return match.group(3) if match else None


def content_key(sha256: str) -> str:
    """The storage key of an original: ``sha256/ab/cd/<hex>``."""
    if not SHA256_HEX.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def host_name() -> str:
    """This host's name as it goes into staging names and ingest runs (no "~" or "/")."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:60] or "host"


def staging_token() -> str:
    """A new staging name: ``<host>~<pid>~<uuid4>``. The owner in the name lets a later run
    on the same host remove the leftovers of a process that died (kill -9, power loss) at
    once, while a concurrent ingest's staging objects are left alone."""
    return f"{host_name()}~{os.getpid()}~{uuid.uuid4()}"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def orphaned(name: str) -> bool:
    """True if the staging object ``name`` (a base name) was written by a process of this
    host that no longer runs. Names of another host, or of an older format, are never
    judged orphaned: only their age removes them."""
    parts = name.split("~")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    return (parts[0] == host_name() and int(parts[1]) != os.getpid()
            and not process_alive(int(parts[1])))


@dataclass(frozen=True)
class FinalObject:
    key: str
    size: int
    created: bool  # False: the same content was already stored (deduplicated)


@dataclass(frozen=True)
class Replaced:
    """A damaged or missing final object replaced by verified bytes (``replace_damaged``)."""

    key: str
    size: int
    aside: str | None  # where the damaged bytes were kept (None: there were none)


class Staging(abc.ABC):
    """A staging object being written. Not thread-safe; one writer."""

    name: str  # backend-specific identifier (a path, an object key)
    size: int

    @abc.abstractmethod
    def write(self, data: bytes | memoryview) -> None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Make the written bytes durable (fsync, or complete the multipart upload)."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Give up: remove whatever was written."""


class BlobBackend(abc.ABC):
    name: str  # "file" or "s3"

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the objects are, as a stable label (``file:///…``, ``s3://bucket/prefix``)."""

    @abc.abstractmethod
    def open_staging(self) -> Staging: ...

    @abc.abstractmethod
    def read_staging(self, staging: Staging, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The staged bytes as read back from the medium (never from a cache)."""

    @abc.abstractmethod
    def finalize(self, staging: Staging, sha256: str) -> FinalObject: ...

    @abc.abstractmethod
    def discard(self, staging: Staging) -> None: ...

    @abc.abstractmethod
    def clean_staging(self, older_than: timedelta) -> int:
        """Remove staging leftovers older than ``older_than``, and at once those of a
        process of this host that is gone (``orphaned``); return how many."""

    @abc.abstractmethod
    def replace_damaged(self, staging: Staging, sha256: str) -> Replaced:
        """Make the verified staged bytes the final object ``content_key(sha256)`` even if a
        (damaged) object is stored there already, keeping the old bytes aside: never called
        but by the fixity repair, after the staged bytes matched every registered digest."""

    @abc.abstractmethod
    def list_keys(self) -> Iterator[str]:
        """The key of every final object (also ones not named by a content key; never a
        staging or quarantined object), in no particular order."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    @abc.abstractmethod
    def size(self, key: str) -> int: ...

    @abc.abstractmethod
    def read(self, key: str, start: int = 0, end: int | None = None,
             chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive; None = to the end) of a final object."""

    def read_verified(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The whole final object as read from the storage medium, never from a cache: what
        a fixity check must read. An S3 GET always reaches the server; a backend whose reads
        can be served from a local cache (the filesystem's page cache) overrides this."""
        return self.read(key, chunk_size=chunk_size)
