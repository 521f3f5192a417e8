"""Range requests and the byte stream of the streaming endpoint (issue 5 item 2; ING-3).

Pure logic, no database: what to answer to a ``GET``/``HEAD`` of a stored object given its
size, strong validator and the request's ``Range`` and ``If-Range`` fields (RFC 9110
§13.1.5, §14), and a generator that reads the chosen bytes through the blob backend
(:meth:`witness.storage.backends.base.BlobBackend.read`) in fixed chunks, so memory stays
flat whatever the size of the file and a seek into a multi-GB original costs one read at
the offset.

Choices (RFC 9110 leaves them to the server):

* **One range only.** A ``Range`` asking for several ranges is ignored and the whole
  representation is sent (200), which §14.2 allows ("a server MAY ignore the Range header
  field"); browsers and download tools ask for one range. Answering only the first of
  several would not be a valid reply to a multi-range request.
* **Invalid syntax is ignored** (200 with the whole representation), as §14.2 requires:
  another unit than ``bytes``, a malformed range, ``last-pos`` before ``first-pos``, or a
  field longer than :data:`MAX_RANGE_FIELD`.
* **Unsatisfiable** (``first-pos`` at or past the end, a zero-length suffix): 416 with
  ``Content-Range: bytes */<size>``. An empty representation is sent whole (200): no range
  of it can be sent as a 206.
* **Validators.** The ``ETag`` is the SHA-256 of the bytes sent, quoted: a strong
  validator, since stored objects are write-once and content-addressed. ``Last-Modified``
  is when the object was stored; it never changes either, so it is strong too and
  ``If-Range`` accepts it (§13.1.5: an exact match of the date). A weak entity tag in
  ``If-Range`` never matches; any mismatch means the whole representation (200).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from django.utils.http import http_date, parse_http_date_safe

# A Range field longer than this is ignored (no client needs more for one range).
MAX_RANGE_FIELD = 1024
# Bytes read from the backend per chunk: the memory one stream holds.
STREAM_CHUNK = 1024 * 1024

_OWS = " \t"
_INT_RANGE = re.compile(r"([0-9]+)-([0-9]*)", re.ASCII)
_SUFFIX_RANGE = re.compile(r"-([0-9]+)", re.ASCII)


class Unsatisfiable(ValueError):
    """The Range is valid but names no byte of the representation (416)."""


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` of a representation, both inclusive (as in HTTP)."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def _specs(value: str) -> list[tuple[int | None, int | None]] | None:
    """The range-specs of a ``bytes`` range-set as (first, last) / (None, suffix) pairs;
    None if the field is not valid ``bytes=`` syntax (RFC 9110 §14.1.1)."""
    if len(value) > MAX_RANGE_FIELD:
        return None
    unit, sep, range_set = value.strip(_OWS).partition("=")
    if not sep or unit.lower() != "bytes":
        return None
    specs: list[tuple[int | None, int | None]] = []
    for element in range_set.split(","):
        element = element.strip(_OWS)
        if not element:  # empty list elements are allowed (RFC 9110 §5.6.1.2)
            continue
        match = _INT_RANGE.fullmatch(element)
        if match:
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) else None
            if last is not None and last < first:
                return None
            specs.append((first, last))
            continue
        match = _SUFFIX_RANGE.fullmatch(element)
        if match:
            specs.append((None, int(match.group(1))))
            continue
        return None
    return specs or None


def parse_range(value: str | None, size: int) -> ByteRange | None:
    """The one byte range to send for the ``Range`` field ``value`` of a representation of
    ``size`` bytes; None to send it whole (no field, invalid syntax, several ranges, an
    empty representation); raises :class:`Unsatisfiable` for a 416."""
    if value is None:
        return None
    specs = _specs(value)
    if specs is None or len(specs) != 1 or size <= 0:
        return None
    first, last = specs[0]
    if first is None:  # suffix: the last `last` bytes
        if last == 0:
            raise Unsatisfiable(value)
        return ByteRange(max(0, size - last), size - 1)
    if first >= size:
        raise Unsatisfiable(value)
    return ByteRange(first, size - 1 if last is None else min(last, size - 1))


def etag_of(sha256: str) -> str:
    """The strong entity tag of stored bytes: their SHA-256, quoted."""
    return f'"{sha256}"'


def if_range_matches(value: str, etag: str, last_modified: datetime) -> bool:
    """Whether an ``If-Range`` validator names the current representation (RFC 9110
    §13.1.5): a strong entity tag equal to ``etag``, or exactly its Last-Modified date."""
    value = value.strip(_OWS)
    if value.startswith("W/"):
        return False  # a weak tag never matches (strong comparison)
    if value.startswith('"'):
        return value == etag
    when = parse_http_date_safe(value)
    return when is not None and when == int(last_modified.timestamp())


@dataclass(frozen=True)
class Plan:
    """What to answer: the status, the bytes ``start`` to ``stop`` (exclusive) to send, and
    the header fields that describe them."""

    status: int  # 200, 206 or 416
    start: int
    stop: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return self.stop - self.start


def plan(size: int, sha256: str, last_modified: datetime,
         request_headers: Mapping[str, str]) -> Plan:
    """The answer to a GET (or HEAD) of ``size`` bytes whose SHA-256 is ``sha256``, given
    the request's header fields (``Range``, ``If-Range``; any case-insensitive mapping such
    as Django's ``request.headers``)."""
    etag = etag_of(sha256)
    headers = {"Accept-Ranges": "bytes", "ETag": etag,
               "Last-Modified": http_date(last_modified.timestamp())}
    range_field = request_headers.get("Range")
    if_range = request_headers.get("If-Range")
    wanted = None
    if range_field is not None and (if_range is None
                                    or if_range_matches(if_range, etag, last_modified)):
        try:
            wanted = parse_range(range_field, size)
        except Unsatisfiable:
            headers.update({"Content-Range": f"bytes */{size}", "Content-Length": "0"})
            return Plan(416, 0, 0, headers)
    if wanted is None:
        headers["Content-Length"] = str(size)
        return Plan(200, 0, size, headers)
    headers.update({"Content-Range": wanted.content_range(size),
                    "Content-Length": str(wanted.length)})
    return Plan(206, wanted.start, wanted.end + 1, headers)


def read_exactly(backend, key: str, start: int, stop: int,
                 chunk_size: int = STREAM_CHUNK) -> Iterator[bytes]:
    """Bytes ``start`` to ``stop`` (exclusive) of the stored object ``key``, read through
    the backend in chunks of at most ``chunk_size``: never the whole file in memory. Stops
    at ``stop`` even if the backend gives more; if it gives fewer (the object is shorter
    than registered), the stream ends early and the client sees a short body, never
    other bytes."""
    remaining = stop - start
    if remaining <= 0:
        return
    for chunk in backend.read(key, start, stop, chunk_size=chunk_size):
        if len(chunk) > remaining:
            chunk = chunk[:remaining]
        remaining -= len(chunk)
        yield chunk
        if remaining <= 0:
            return


_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9._()+-]")


def attachment(file_name: str) -> str:
    """``Content-Disposition`` of a download under ``file_name`` (RFC 6266): ``filename*``
    in UTF-8 (RFC 8187, formerly 5987) for any name, and a plain ASCII ``filename``
    fallback for old clients, every other character (quotes, backslashes, control
    characters, Chinese) replaced by ``_``."""
    name = file_name.strip() or "download"
    fallback = _FALLBACK_UNSAFE.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=utf-8''{quote(name, safe='')}"


# What a browser is told the bytes are, by the original's file name; the container name
# from ffprobe decides where the name has no known suffix.
_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "video/mp4", "avi": "video/x-msvideo",
               "matroska,webm": "video/webm", "wav": "audio/wav", "mp3": "audio/mpeg",
               "ogg": "audio/ogg", "amr": "audio/amr", "image2": "image/jpeg"}


def content_type(file_name: str, container: str = "", kind: str = "") -> str:
    """The media type of an original named ``file_name`` (or of a playback copy, named by
    the caller ``copy.mp4`` / ``copy.m4a``)."""
    guessed, _encoding = mimetypes.guess_type(file_name.lower(), strict=False)
    if guessed:
        if kind == "audio" and guessed == "video/mp4":
            return "audio/mp4"
        return guessed
    return _CONTAINERS.get(container, "application/octet-stream")
