"""Canonical bytes of audit entries and checkpoints: what the Merkle tree hashes and keys sign.

Issue 4 (ING-4; GB/T 22239-2019 level 3 security audit) requires that anyone holding an export
and the public key can re-check the log without Witness's code, so these encodings are a
published format: ``docs/audit_verify.py`` carries its own copy of them on purpose, and a test
checks the two agree. Pure Python, standard library only.

Entry (the data of one Merkle leaf, hashed as RFC 6962 §2.1 ``SHA-256(0x00 || data)``)::

    json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")

where ``obj`` has exactly the keys ``v`` (format version, 1), ``id`` (the entry's integer id),
``created_at`` (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``), the strings ``actor_type``,
``actor_id``, ``actor_label``, ``action``, ``object_type``, ``object_id``, ``outcome``,
``request_id``, ``client_addr``, and ``details`` (a JSON object). Keys are sorted by code
point at every depth, there is no whitespace, non-ASCII text is written as UTF-8, and NaN or
infinite numbers are not allowed.

Checkpoint (the bytes that the Ed25519 or SM2 signature covers), UTF-8::

    witness-checkpoint/v1\\n<tree size, decimal>\\n<root, 64 lowercase hex>\\n<time>\\n

with ``time`` in the same UTC format as ``created_at``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

FORMAT_VERSION = 1
"""Value of ``v`` in every canonical entry."""

STRING_FIELDS = (
    "actor_type", "actor_id", "actor_label", "action", "object_type", "object_id", "outcome",
    "request_id", "client_addr",
)
ENTRY_FIELDS = ("id", "created_at", *STRING_FIELDS, "details")
"""The entry fields a caller supplies to :func:`encode_entry` (``v`` is optional)."""

CHECKPOINT_PREFIX = b"witness-checkpoint/v1\n"
"""First line of every signed checkpoint body."""

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_ROOT_RE = re.compile(r"[0-9a-f]{64}")


def format_time(moment: datetime) -> str:
    """A timezone-aware datetime as canonical UTC text, e.g. ``2026-12-01T06:15:29.123456Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("canonical times must be timezone-aware")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def _check_time(value: Any, name: str) -> None:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise ValueError(f"{name} must be UTC text like 2026-12-01T06:15:29.123456Z")


def canonical_object(fields: dict[str, Any]) -> dict[str, Any]:
    """The canonical entry object (with ``v``), checked for the exact keys and types.

    ``fields`` holds the keys of :data:`ENTRY_FIELDS`, and may hold ``v`` (which must be 1).
    This is the ``entry`` object of an export line. ``details`` is the caller's dict, not a copy.
    Raises ``ValueError`` for anything else.
    """
    if not isinstance(fields, dict):
        raise ValueError("an audit entry is a dict")
    version = fields.get("v", FORMAT_VERSION)
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(f"unsupported entry format version {version!r}")
    keys = set(fields) - {"v"}
    if keys != set(ENTRY_FIELDS):
        missing = sorted(set(ENTRY_FIELDS) - keys)
        extra = sorted(keys - set(ENTRY_FIELDS))
        raise ValueError(f"audit entry fields: missing {missing}, unexpected {extra}")
    entry_id = fields["id"]
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        raise ValueError("id must be an integer")
    _check_time(fields["created_at"], "created_at")
    for name in STRING_FIELDS:
        if not isinstance(fields[name], str):
            raise ValueError(f"{name} must be a string")
    if not isinstance(fields["details"], dict):
        raise ValueError("details must be a JSON object")
    return {"v": FORMAT_VERSION, **{name: fields[name] for name in ENTRY_FIELDS}}


def encode_entry(fields: dict[str, Any]) -> bytes:
    """The canonical bytes of one audit entry: the data of its Merkle leaf (issue 4).

    See the module docstring for the format; ``fields`` as for :func:`canonical_object`.
    Raises ``ValueError`` for missing or extra fields, wrong types, a non-canonical time, or
    details that JSON cannot represent exactly (NaN, non-string keys, lone surrogates).
    """
    obj = canonical_object(fields)
    try:
        text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise ValueError(f"audit entry is not canonical JSON: {exc}") from exc


def checkpoint_body(size: int, root_hex: str, time_str: str) -> bytes:
    """The bytes a checkpoint signature covers (see the module docstring)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("tree size must be a non-negative integer")
    if not isinstance(root_hex, str) or not _ROOT_RE.fullmatch(root_hex):
        raise ValueError("root must be 64 lowercase hex digits")
    _check_time(time_str, "checkpoint time")
    return CHECKPOINT_PREFIX + f"{size}\n{root_hex}\n{time_str}\n".encode()


def key_id(public_key_der: bytes) -> str:
    """The ``key_id`` of a signing key: SHA-256 (hex) of its DER SubjectPublicKeyInfo."""
    return hashlib.sha256(public_key_der).hexdigest()
