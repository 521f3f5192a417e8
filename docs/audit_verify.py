#!/usr/bin/env python3
"""Check an export of the Witness audit log without Witness: the outside verifier (issue 4).

Usage::

    python audit_verify.py EXPORT.jsonl --public-key KEY.pem

Needs Python 3.11+ and the ``cryptography`` package (plus ``gmssl`` for SM2 checkpoints). It
deliberately repeats, rather than imports, Witness's encodings and the RFC 9162 algorithms, so
that it documents the format on its own (ING-4; GB/T 22239-2019 level 3 security audit:
records protected from change and deletion, checkable by a third party).

The export is UTF-8 JSON lines, one object per line:

``{"type": "entry", "index": N, "entry": {...}, "leaf_hash": HEX, "proof": [HEX...],
"tree_size": S}``
    Leaf N of the log and its inclusion proof (RFC 6962 §2.1.1) in the checkpointed tree of
    size S. ``entry`` is the canonical entry object: exactly the keys ``v`` (1), ``id`` (int),
    ``created_at`` (``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UTC), the strings ``actor_type``,
    ``actor_id``, ``actor_label``, ``action``, ``object_type``, ``object_id``, ``outcome``,
    ``request_id``, ``client_addr``, and ``details`` (an object). The leaf data is
    ``json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))`` in UTF-8
    and the leaf hash is SHA-256(0x00 || data) (RFC 6962 §2.1).
``{"type": "checkpoint", "tree_size": S, "root": HEX, "time": T, "algorithm": "ed25519" |
"sm2", "key_id": HEX, "signature": BASE64}``
    A signed tree head. The signature covers the UTF-8 bytes
    ``witness-checkpoint/v1\\n<S>\\n<root>\\n<T>\\n``; ``key_id`` is the SHA-256 (hex) of the
    public key's DER SubjectPublicKeyInfo. SM2 signatures are DER SEQUENCE{r, s} over SM3 with
    the default user id "1234567812345678" (GB/T 32918, GM/T 0009).
``{"type": "consistency", "size1": A, "size2": B, "proof": [HEX...]}``
    Consistency proof (RFC 6962 §2.1.2) between consecutive checkpoints A < B of the export.

Hashes are 64 lowercase hex digits. Checks: every entry re-encodes to its leaf hash and is
included in its checkpoint; entries come in increasing, gap-free index order (so a removed or
reordered line shows); checkpoints come in order of tree size (one size signed twice must have
the same root), are signed by the given key, and each pair of consecutive sizes has a valid
consistency proof. An export cannot prove where the range
asked for starts and ends: compare the index range printed with the one you asked for.

Exit status: 0 everything checks; 1 a check failed (the first bad line and index are named);
2 unreadable input or key, or a signature this machine cannot check (SM2 without gmssl).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from itertools import pairwise
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

STRING_FIELDS = ("actor_type", "actor_id", "actor_label", "action", "object_type", "object_id",
                 "outcome", "request_id", "client_addr")
ENTRY_KEYS = {"v", "id", "created_at", "details", *STRING_FIELDS}
TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
HASH_RE = re.compile(r"[0-9a-f]{64}")
SM2_CURVE_OID = bytes.fromhex("06082a811ccf5501822d")  # 1.2.156.10197.1.301
SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


class Bad(Exception):
    """A check failed (exit 1)."""


class Unreadable(Exception):
    """The input cannot be read or checked here (exit 2)."""


# --- RFC 6962 / RFC 9162 -------------------------------------------------------------------------

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes,
                       proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2 (with the trivial cases size1 == size2 and size1 == 0)."""
    if size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof and root1 == hashlib.sha256(b"").digest()
    if not proof:
        return False
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is the first node
        proof = [root1, *proof]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == root1 and sr == root2


# --- the export format ---------------------------------------------------------------------------

def encode_entry(entry: Any) -> bytes:
    """Canonical leaf data of one entry (see the module docstring)."""
    if not isinstance(entry, dict) or set(entry) != ENTRY_KEYS:
        raise Bad("entry does not have exactly the canonical keys")
    if (type(entry["v"]) is not int or entry["v"] != 1 or type(entry["id"]) is not int
            or not isinstance(entry["details"], dict)):
        raise Bad("entry has a wrong v, id or details")
    if not all(isinstance(entry[key], str) for key in STRING_FIELDS):
        raise Bad("entry has a field that is not a string")
    if not isinstance(entry["created_at"], str) or not TIME_RE.fullmatch(entry["created_at"]):
        raise Bad("entry created_at is not canonical UTC time")
    try:
        return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise Bad(f"entry is not canonical JSON: {exc}") from exc


def checkpoint_body(size: int, root_hex: str, time: str) -> bytes:
    return f"witness-checkpoint/v1\n{size}\n{root_hex}\n{time}\n".encode()


def field(obj: dict, key: str, kind: str) -> Any:
    """obj[key] checked to be a count, hash (hex), hashes (list of hex) or str."""
    value = obj.get(key)
    if kind == "count" and type(value) is int and value >= 0:
        return value
    if kind == "hash" and isinstance(value, str) and HASH_RE.fullmatch(value):
        return bytes.fromhex(value)
    if kind == "hashes" and isinstance(value, list) and all(
            isinstance(item, str) and HASH_RE.fullmatch(item) for item in value):
        return [bytes.fromhex(item) for item in value]
    if kind == "str" and isinstance(value, str):
        return value
    raise Bad(f"{key} is missing or not a {kind}")


# --- signatures ----------------------------------------------------------------------------------

def read_public_key(path: str) -> bytes:
    """DER SubjectPublicKeyInfo of a PEM "PUBLIC KEY" file."""
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read()
        body = text.split("-----BEGIN PUBLIC KEY-----")[1].split("-----END PUBLIC KEY-----")[0]
        return base64.b64decode("".join(body.split()), validate=True)
    except (OSError, UnicodeDecodeError, IndexError, binascii.Error) as exc:
        raise Unreadable(f"cannot read a PEM public key from {path}: {exc}") from exc


def signature_ok(algorithm: str, der: bytes, body: bytes, signature: bytes) -> bool | None:
    """Whether the checkpoint signature verifies; None when this machine cannot check it."""
    if algorithm == "ed25519":
        try:
            key = load_der_public_key(der)
        except (ValueError, TypeError) as exc:
            raise Unreadable(f"the public key is not usable: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise Bad("checkpoint says ed25519 but the public key is not an Ed25519 key")
        try:
            key.verify(signature, body)
        except InvalidSignature:
            return False
        return True
    if algorithm == "sm2":
        try:
            from gmssl import sm2  # optional: only SM2 checkpoints need it
        except ImportError:
            return None
        if SM2_CURVE_OID not in der or len(der) < 65 or der[-65] != 4:
            raise Bad("checkpoint says sm2 but the public key is not an SM2 key")
        try:
            r, s = decode_dss_signature(signature)
        except ValueError:
            return False
        if not (0 < r < SM2_ORDER and 0 < s < SM2_ORDER):
            return False
        crypt = sm2.CryptSM2(private_key=None, public_key="")
        crypt.public_key = der[-64:].hex()  # x || y; set directly, the constructor mangles "04…"
        return bool(crypt.verify_with_sm3(f"{r:064x}{s:064x}", body))
    raise Bad(f"unknown signature algorithm {algorithm!r}")


# --- the check -----------------------------------------------------------------------------------

def load(path: str) -> list[tuple[int, dict]]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"cannot read {path}: {exc}") from exc
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise Unreadable(f"line {number} is not JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise Unreadable(f"line {number} is not a JSON object")
        records.append((number, record))
    if not records:
        raise Unreadable(f"{path} holds no export lines")
    return records


def check(records: list[tuple[int, dict]], der: bytes) -> tuple[str, int]:
    """Check an export: (summary, number of signatures not checked); raises Bad naming the
    first bad line."""
    key_id = hashlib.sha256(der).hexdigest()
    roots: dict[int, bytes] = {}
    for _, record in records:  # first pass: the roots the entries and proofs refer to
        size, root = record.get("tree_size"), record.get("root")
        if (record.get("type") == "checkpoint" and type(size) is int and size not in roots
                and isinstance(root, str) and HASH_RE.fullmatch(root)):
            roots[size] = bytes.fromhex(root)
    sizes: list[int] = []
    consistent: set[tuple[int, int]] = set()
    indices: list[int] = []
    unchecked = signed = 0
    for number, record in records:
        kind = record.get("type")
        where = f"line {number}"
        try:
            if kind == "entry":
                index = field(record, "index", "count")
                where = f"line {number} (entry index {index})"
                if indices and index != indices[-1] + 1:
                    raise Bad(f"entry index {index} out of order: expected {indices[-1] + 1}")
                leaf = field(record, "leaf_hash", "hash")
                if leaf_hash(encode_entry(record.get("entry"))) != leaf:
                    raise Bad("the entry does not match its leaf hash (changed entry)")
                size = field(record, "tree_size", "count")
                if size not in roots:
                    raise Bad(f"no checkpoint of tree size {size} in the export")
                if not verify_inclusion(leaf, index, size, field(record, "proof", "hashes"),
                                        roots[size]):
                    raise Bad(f"inclusion proof fails against the checkpoint of size {size}")
                indices.append(index)
            elif kind == "checkpoint":
                size = field(record, "tree_size", "count")
                where = f"line {number} (checkpoint of tree size {size})"
                if sizes and size < sizes[-1]:
                    raise Bad(f"checkpoint sizes not in order ({sizes[-1]} then {size})")
                if field(record, "root", "hash") != roots[size]:
                    raise Bad("another root for the same tree size: the log forked")
                root_hex, time = record["root"], field(record, "time", "str")
                if not TIME_RE.fullmatch(time):
                    raise Bad("checkpoint time is not canonical UTC time")
                if field(record, "key_id", "str") != key_id:
                    raise Bad("checkpoint is signed by another key than the one given")
                try:
                    signature = base64.b64decode(field(record, "signature", "str"), validate=True)
                except binascii.Error as exc:
                    raise Bad("signature is not base64") from exc
                algorithm = field(record, "algorithm", "str")
                verdict = signature_ok(algorithm, der, checkpoint_body(size, root_hex, time),
                                       signature)
                if verdict is None:
                    unchecked += 1
                elif not verdict:
                    raise Bad(f"{algorithm} signature does not verify")
                signed += 1
                if not sizes or size != sizes[-1]:  # the same size may be signed again
                    sizes.append(size)
            elif kind == "consistency":
                size1, size2 = field(record, "size1", "count"), field(record, "size2", "count")
                where = f"line {number} (consistency {size1} -> {size2})"
                if size1 not in roots or size2 not in roots:
                    raise Bad("consistency proof between sizes that have no checkpoint")
                if any(size1 < size < size2 for size in roots) or size1 > size2:
                    raise Bad("consistency proof is not between consecutive checkpoints")
                if (size1, size2) in consistent:
                    raise Bad("duplicate consistency proof")
                if not verify_consistency(size1, size2, roots[size1], roots[size2],
                                          field(record, "proof", "hashes")):
                    raise Bad("consistency proof fails: the log was rewritten")
                consistent.add((size1, size2))
            else:
                raise Bad(f"unknown line type {kind!r}")
        except Bad as exc:
            raise Bad(f"{where}: {exc}") from exc
    for size1, size2 in pairwise(sizes):
        if (size1, size2) not in consistent:
            raise Bad(f"no consistency proof between checkpoints {size1} and {size2}")
    span = f"indices {indices[0]}..{indices[-1]}" if indices else "none"
    summary = (f"{len(indices)} entries ({span}), {signed} signed checkpoints "
               f"(tree sizes {', '.join(map(str, sizes)) or 'none'}), {len(consistent)} "
               f"consistency proofs; key {key_id}")
    return summary, unchecked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a Witness audit-log export.")
    parser.add_argument("export", help="the export, JSON lines")
    parser.add_argument("--public-key", required=True, help="the agency's public key (PEM)")
    args = parser.parse_args(argv)
    try:
        summary, unchecked = check(load(args.export), read_public_key(args.public_key))
    except Unreadable as exc:
        print(f"CANNOT CHECK: {exc}", file=sys.stderr)
        return 2
    except Bad as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    if unchecked:
        print(f"NOT FULLY CHECKED: {summary}; but {unchecked} SM2 checkpoint signature(s) were "
              "skipped: SM2 verification needs gmssl (pip install gmssl)", file=sys.stderr)
        return 2
    print(f"OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
