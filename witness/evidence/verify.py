#!/usr/bin/env python3
"""Verify an evidence package: a BagIt bag (RFC 8493), optionally signed (EVD-1, EVD-3).

What a court or a receiving unit runs, through Witness (``witness verify-package DIR``) or
on its own, without Witness::

    python verify.py DIR [--json] [--trusted-key KEY.pem]

Needs Python 3.11+ with OpenSSL 3 (``hashlib.new("sm3")``) and the ``cryptography``
package; nothing else. It does not wrap bagit-python (which ignores SM3 manifests and
accepts some malformed bags): it is its own strict checker. Checks, in this order, and the
first failure is the answer:

1. ``bagit.txt``: exactly ``BagIt-Version: 1.0`` (or ``0.97``) and
   ``Tag-File-Character-Encoding: UTF-8``, no byte order mark; ``data/`` is a folder.
2. ``bag-info.txt`` when present: ``Label: value`` lines with continuation lines (starting
   with a space or tab); ``Payload-Oxum`` (at most once) equals the bytes and files in data/.
3. Every payload manifest ``manifest-<alg>.txt`` and tag manifest ``tagmanifest-<alg>.txt``
   (alg: sha256, sha512, sha1, md5, sm3; any other is an error; at least one payload
   manifest): each line ``<hex digest of the right length><space or tab…><path>``, paths
   relative with ``/``, percent-encoding only ``%0A``, ``%0D``, ``%25``, no empty, ``.`` or
   ``..`` parts, no backslash; payload paths under ``data/``, tag paths not; no path twice;
   every listed file present and a regular file (no symbolic links anywhere in the bag);
   every file under ``data/`` listed in **every** payload manifest (RFC 8493 §3).
4. The signature: when ``witness-signature.json`` is present, or the bag is a Witness
   package (``bag-info.txt`` names ``Witness-Object``), or ``--trusted-key`` is given:
   ``witness-signature.json`` ``{"algorithm": "ed25519"|"sm2", "key_id": HEX, "signed":
   "tagmanifest-sha256.txt", "signature": BASE64}`` verifies over the exact bytes of
   ``tagmanifest-sha256.txt`` with ``witness-public-key.pem`` (PEM SubjectPublicKeyInfo;
   ``key_id`` is the SHA-256 of its DER; SM2 signatures are DER SEQUENCE{r, s} over SM3 with
   the default user id "1234567812345678", GB/T 32918), and that tag manifest lists every tag
   file (everything outside data/ but the tag manifests and the two signature files), so the
   signature covers bagit.txt, bag-info.txt, every payload manifest and every document.
   ``--trusted-key`` further requires the package's public key to be exactly the given one
   (same DER SubjectPublicKeyInfo): without it the signature only proves that the package is
   unchanged since someone holding the enclosed key signed it.
5. Every digest of every manifest, files read in 1 MiB chunks, each file once for all its
   algorithms.

Exit status: 0 valid; 1 invalid (the first reason, naming the file and line); 2 unreadable
(the folder is missing, not a folder, or a file cannot be read). ``--json`` prints
``{"ok", "reason": {"code", "zh", "en", "file", "line", "params"} or null, "checked":
{"files", "bytes", "manifests", "signature"}}``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gettext as stdlib_gettext
import hashlib
import json
import os
import re
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ALGORITHMS = {"sha256": 64, "sha512": 128, "sha1": 40, "md5": 32, "sm3": 64}
SIGNATURE_FILE = "witness-signature.json"
PUBLIC_KEY_FILE = "witness-public-key.pem"
SIGNED_FILE = "tagmanifest-sha256.txt"
WITNESS_LABEL = "Witness-Object"
CHUNK = 1 << 20
VALID, INVALID, UNREADABLE = 0, 1, 2


def gettext_noop(message: str) -> str:
    """Marks a message for the catalogue (Witness translates it; see ``translate``)."""
    return message



MESSAGES = {
    "not_found": gettext_noop(
        "The package %(file)s does not exist."),
    "not_a_directory": gettext_noop(
        "The package %(file)s is not a folder."),
    "unreadable": gettext_noop(
        "%(file)s cannot be read: %(problem)s"),
    "no_bagit_txt": gettext_noop(
        "bagit.txt is missing: %(file)s is not a BagIt bag."),
    "bagit_txt_lines": gettext_noop(
        "bagit.txt must have exactly two lines (BagIt-Version, "
        "Tag-File-Character-Encoding); it has %(count)s."),
    "bagit_txt_line": gettext_noop(
        "bagit.txt line %(line)s must read %(expected)s, not %(found)s."),
    "bom": gettext_noop(
        "%(file)s begins with a byte order mark, which RFC 8493 forbids."),
    "not_utf8": gettext_noop(
        "%(file)s is not valid UTF-8 (line %(line)s)."),
    "no_data": gettext_noop(
        "The payload folder data/ is missing."),
    "bag_info_line": gettext_noop(
        "bag-info.txt line %(line)s is neither \"Label: value\" nor a continuation line"
        " starting with a space or tab."),
    "oxum_malformed": gettext_noop(
        "bag-info.txt line %(line)s: Payload-Oxum must be BYTES.FILES, not %(found)s."),
    "oxum_repeated": gettext_noop(
        "bag-info.txt line %(line)s: Payload-Oxum appears a second time."),
    "oxum_mismatch": gettext_noop(
        "bag-info.txt line %(line)s: Payload-Oxum says %(expected)s (bytes.files) but"
        " data/ holds %(found)s."),
    "no_manifest": gettext_noop(
        "The bag has no payload manifest (manifest-<algorithm>.txt)."),
    "unknown_algorithm": gettext_noop(
        "%(file)s uses the algorithm %(algorithm)s, which this checker does not know "
        "(it knows %(known)s)."),
    "manifest_line": gettext_noop(
        "%(file)s line %(line)s is not \"<%(algorithm)s digest> <path>\"."),
    "bad_path": gettext_noop(
        "%(file)s line %(line)s: the path %(path)s is not allowed (absolute, an "
        "empty, . or .. part, a backslash, or a percent sign other than %%0A, %%0D, "
        "%%25)."),
    "outside_payload": gettext_noop(
        "%(file)s line %(line)s: %(path)s is not under data/; a payload manifest "
        "lists payload files only."),
    "payload_in_tag_manifest": gettext_noop(
        "%(file)s line %(line)s: %(path)s is under data/; a tag manifest lists tag "
        "files only."),
    "duplicate": gettext_noop(
        "%(file)s line %(line)s lists %(path)s a second time (first on line "
        "%(first)s)."),
    "missing": gettext_noop(
        "%(file)s line %(line)s: %(path)s is missing from the package."),
    "not_regular": gettext_noop(
        "%(file)s is a symbolic link or not a regular file; a package holds regular "
        "files and folders only."),
    "unlisted": gettext_noop(
        "%(path)s is in data/ but %(file)s does not list it (every payload manifest "
        "must list every payload file)."),
    "digest_mismatch": gettext_noop(
        "%(file)s line %(line)s: the %(algorithm)s digest of %(path)s is %(found)s, "
        "but the manifest says %(expected)s."),
    "signature_required": gettext_noop(
        "%(file)s is missing: a Witness package (bag-info.txt names Witness-Object) "
        "must be signed."),
    "signature_required_trusted": gettext_noop(
        "%(file)s is missing: --trusted-key requires a signed package."),
    "signature_incomplete": gettext_noop(
        "%(file)s is missing: a signed package needs both witness-signature.json and "
        "witness-public-key.pem."),
    "signature_malformed": gettext_noop(
        "%(file)s must be a JSON object with algorithm (ed25519 or sm2), signed "
        "(tagmanifest-sha256.txt) and signature (base64)."),
    "key_malformed": gettext_noop(
        "%(file)s is not an Ed25519 or SM2 public key in PEM form."),
    "key_algorithm": gettext_noop(
        "witness-signature.json says %(algorithm)s but witness-public-key.pem holds a"
        " key of type %(key_algorithm)s."),
    "key_id": gettext_noop(
        "witness-signature.json names the key %(expected)s but witness-public-key.pem"
        " is the key %(found)s."),
    "bad_signature": gettext_noop(
        "The signature in witness-signature.json does not verify over "
        "tagmanifest-sha256.txt with witness-public-key.pem (key %(key_id)s): the "
        "package was changed after signing, or signed with another key."),
    "signed_file_missing": gettext_noop(
        "%(file)s is missing: the package's signature is made over it."),
    "not_covered": gettext_noop(
        "%(path)s is not listed in tagmanifest-sha256.txt, so the signature does not "
        "cover it."),
    "untrusted_key": gettext_noop(
        "The package is signed with the key %(found)s, not with the trusted key "
        "%(expected)s (--trusted-key)."),
    "trusted_key_unreadable": gettext_noop(
        "The trusted key %(file)s cannot be read or is not an Ed25519 or SM2 public "
        "key in PEM form."),
}
VALID_SIGNED = gettext_noop(
    "Valid package: %(files)s files, %(bytes)s bytes checked against %(manifests)s; "
    "signed by the key %(key_id)s (%(algorithm)s).")
VALID_UNSIGNED = gettext_noop(
    "Valid bag: %(files)s files, %(bytes)s bytes checked against %(manifests)s; not "
    "signed.")


class Problem(Exception):
    """The first reason a package is not valid (or cannot be read)."""

    def __init__(self, code: str, *, file: str | None = None, line: int | None = None,
                 status: int = INVALID, **params):
        self.code, self.file, self.line, self.status = code, file, line, status
        self.params = {"file": file, "line": line, **params}
        super().__init__(self.render(lambda text: text))

    @property
    def message(self) -> str:
        return MESSAGES[self.code]

    def render(self, translate) -> str:
        return translate(self.message) % self.params


@dataclass
class Report:
    ok: bool
    problem: Problem | None = None
    files: int = 0
    bytes: int = 0
    manifests: list[str] = field(default_factory=list)
    signature: dict | None = None

    @property
    def status(self) -> int:
        return VALID if self.ok else self.problem.status

    def as_dict(self, translate_zh=None) -> dict:
        reason = None
        if self.problem is not None:
            p = self.problem
            reason = {"code": p.code, "zh": p.render(translate_zh or zh_translator()),
                      "en": p.render(lambda text: text), "file": p.file, "line": p.line,
                      "params": {k: v for k, v in p.params.items()
                                 if k not in ("file", "line")}}
        return {"ok": self.ok, "reason": reason,
                "checked": {"files": self.files, "bytes": self.bytes,
                            "manifests": self.manifests, "signature": self.signature}}


def zh_translator():
    """Chinese from Witness's compiled catalogue next to this file when there is one (the
    standalone script copied elsewhere falls back to English)."""
    localedir = Path(__file__).resolve().parent.parent / "locale"
    return stdlib_gettext.translation("django", localedir=str(localedir),
                                      languages=["zh_Hans"], fallback=True).gettext


# --- reading tag files ------------------------------------------------------------------

def _read_bytes(root: Path, name: str) -> bytes:
    path = root / name
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise Problem("unreadable", file=name, status=UNREADABLE, problem=exc.strerror) from exc
    if not stat.S_ISREG(info.st_mode):
        raise Problem("not_regular", file=name)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Problem("unreadable", file=name, status=UNREADABLE, problem=exc.strerror) from exc


def _lines(name: str, data: bytes) -> list[str]:
    """A tag file's lines (LF, CRLF or CR endings), UTF-8 without a byte order mark."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise Problem("bom", file=name)
    raw = re.split(rb"\r\n|\r|\n", data)
    if raw and raw[-1] == b"":
        raw.pop()
    lines = []
    for number, line in enumerate(raw, 1):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise Problem("not_utf8", file=name, line=number) from None
    return lines


def check_bagit_txt(root: Path) -> str:
    try:
        data = _read_bytes(root, "bagit.txt")
    except FileNotFoundError:
        raise Problem("no_bagit_txt", file=str(root)) from None
    lines = _lines("bagit.txt", data)
    if len(lines) != 2:
        raise Problem("bagit_txt_lines", file="bagit.txt", count=len(lines))
    version = re.fullmatch(r"BagIt-Version: (1\.0|0\.97)", lines[0])
    if not version:
        raise Problem("bagit_txt_line", file="bagit.txt", line=1,
                      expected='"BagIt-Version: 1.0"', found=json.dumps(lines[0]))
    if not re.fullmatch(r"Tag-File-Character-Encoding: (?i:UTF-8)", lines[1]):
        raise Problem("bagit_txt_line", file="bagit.txt", line=2,
                      expected='"Tag-File-Character-Encoding: UTF-8"',
                      found=json.dumps(lines[1]))
    return version.group(1)


def parse_bag_info(root: Path) -> list[tuple[str, str, int]]:
    """(label, value, line) of bag-info.txt; [] when there is none."""
    try:
        data = _read_bytes(root, "bag-info.txt")
    except FileNotFoundError:
        return []
    tags: list[list] = []
    for number, line in enumerate(_lines("bag-info.txt", data), 1):
        if line[:1] in (" ", "\t") and tags and line.strip():
            tags[-1][1] += " " + line.strip()
            continue
        match = re.fullmatch(r"([^:\s](?:[^:\r\n]*[^:\s])?):(?:[ \t](.*))?", line)
        if not match:
            raise Problem("bag_info_line", file="bag-info.txt", line=number)
        tags.append([match.group(1), match.group(2) or "", number])
    return [tuple(t) for t in tags]


# --- manifests ------------------------------------------------------------------------------

_ESCAPES = {"%0A": "\n", "%0D": "\r", "%25": "%"}


def _decode_path(text: str) -> str | None:
    """RFC 8493 §2.1.3 percent-decoding; None for a path that is not allowed."""
    if re.search(r"%(?!0[aAdD]|25)", text):
        return None
    path = re.sub(r"%(?:0[aAdD]|25)", lambda m: _ESCAPES[m.group(0).upper()], text)
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or "\x00" in path
            or any(part in ("", ".", "..") for part in parts)):
        return None
    return path


@dataclass
class Entry:
    manifest: str
    line: int
    algorithm: str
    digest: str
    path: str


def parse_manifest(root: Path, name: str, algorithm: str, payload: bool) -> list[Entry]:
    length = ALGORITHMS[algorithm]
    pattern = re.compile(r"([0-9a-fA-F]{" + str(length) + r"})[ \t]+([^ \t].*)")
    entries, seen = [], {}
    for number, line in enumerate(_lines(name, _read_bytes(root, name)), 1):
        match = pattern.fullmatch(line)
        if not match:
            raise Problem("manifest_line", file=name, line=number, algorithm=algorithm)
        path = _decode_path(match.group(2))
        if path is None:
            raise Problem("bad_path", file=name, line=number, path=json.dumps(match.group(2)))
        if payload and not path.startswith("data/"):
            raise Problem("outside_payload", file=name, line=number, path=path)
        if not payload and path.startswith("data/"):
            raise Problem("payload_in_tag_manifest", file=name, line=number, path=path)
        if path in seen:
            raise Problem("duplicate", file=name, line=number, path=path, first=seen[path])
        seen[path] = number
        entries.append(Entry(name, number, algorithm, match.group(1).lower(), path))
    return entries


def _walk(root: Path, top: str) -> dict[str, int]:
    """Relative path → size of every file under ``top`` ("" for the whole bag); symbolic
    links and special files are refused, unreadable folders are UNREADABLE."""
    files: dict[str, int] = {}

    def fail(exc: OSError):
        raise Problem("unreadable", file=os.path.relpath(exc.filename, root)
                      if exc.filename else top, status=UNREADABLE, problem=exc.strerror)

    for folder, dirs, names in os.walk(root / top if top else root, onerror=fail):
        rel = Path(folder).relative_to(root).as_posix()
        for name in sorted(dirs + names):
            path = f"{rel}/{name}" if rel != "." else name
            try:
                info = os.lstat(os.path.join(folder, name))
            except OSError as exc:
                raise Problem("unreadable", file=path, status=UNREADABLE,
                              problem=exc.strerror) from exc
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise Problem("not_regular", file=path)
            files[path] = info.st_size
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return files


# --- the signature --------------------------------------------------------------------------

# SM2 (GB/T 32918) on sm2p256v1; verification only, pure Python (public data, no secrets).
_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_G = (0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
      0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0)
SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
SM2_DEFAULT_ID = b"1234567812345678"


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % _P == 0:
        return None
    if p1 == p2:
        slope = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _mul(k: int, point):
    result = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _der_integers(der: bytes) -> list[int] | None:
    """DER SEQUENCE{INTEGER r, INTEGER s} (short lengths only, as SM2 needs)."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        return None
    values, at = [], 2
    while at < len(der):
        if der[at] != 0x02 or at + 2 > len(der):
            return None
        size = der[at + 1]
        body = der[at + 2:at + 2 + size]
        if size == 0 or len(body) != size or body[0] & 0x80:
            return None
        values.append(int.from_bytes(body, "big"))
        at += 2 + size
    return values if len(values) == 2 else None


def sm2_verify(public_point: bytes, signature: bytes, data: bytes) -> bool:
    """GB/T 32918.2 verification with SM3 and the default user id."""
    if len(public_point) != 65 or public_point[0] != 4:
        return False
    x, y = int.from_bytes(public_point[1:33], "big"), int.from_bytes(public_point[33:], "big")
    if x >= _P or y >= _P or (y * y - x * x * x - _A * x - _B) % _P:
        return False
    values = _der_integers(signature)
    if values is None:
        return False
    r, s = values
    if not (1 <= r < _N and 1 <= s < _N):
        return False

    def b32(value: int) -> bytes:
        return value.to_bytes(32, "big")

    z = hashlib.new("sm3", (len(SM2_DEFAULT_ID) * 8).to_bytes(2, "big") + SM2_DEFAULT_ID
                    + b32(_A) + b32(_B) + b32(_G[0]) + b32(_G[1]) + b32(x) + b32(y)).digest()
    e = int.from_bytes(hashlib.new("sm3", z + data).digest(), "big")
    t = (r + s) % _N
    if t == 0:
        return False
    point = _add(_mul(s, _G), _mul(t, (x, y)))
    return point is not None and (e + point[0]) % _N == r


def load_public_key(text: str) -> tuple[str, bytes]:
    """(algorithm, DER SubjectPublicKeyInfo) of a PEM public key; ValueError otherwise."""
    match = re.fullmatch(r"\s*-----BEGIN PUBLIC KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*"
                         r"-----END PUBLIC KEY-----\s*", text)
    if not match:
        raise ValueError("not a PEM public key")
    der = base64.b64decode("".join(match.group(1).split()), validate=True)
    if der.startswith(SM2_SPKI_PREFIX) and len(der) == len(SM2_SPKI_PREFIX) + 65:
        return "sm2", der
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_der_public_key(der)
    except UnsupportedAlgorithm as exc:  # e.g. a compressed SM2 point: malformed for us
        raise ValueError(f"unsupported public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("neither an Ed25519 nor an SM2 public key")
    return "ed25519", der


def verify_signature(algorithm: str, der: bytes, signature: bytes, data: bytes) -> bool:
    if algorithm == "sm2":
        return sm2_verify(der[len(SM2_SPKI_PREFIX):], signature, data)
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_der_public_key(der).verify(signature, data)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def check_signature(root: Path, required: str | None, tag_entries: list[Entry],
                    tag_files: list[str], trusted: bytes | None) -> dict | None:
    """The signature's details, None for an unsigned bag that need not be signed."""
    present = [(root / name).exists() or (root / name).is_symlink()
               for name in (SIGNATURE_FILE, PUBLIC_KEY_FILE)]
    if not any(present):
        if required:
            raise Problem(required, file=SIGNATURE_FILE)
        return None
    if not all(present):
        missing = SIGNATURE_FILE if not present[0] else PUBLIC_KEY_FILE
        raise Problem(required or "signature_incomplete", file=missing)
    try:
        claim = json.loads(_read_bytes(root, SIGNATURE_FILE).decode("utf-8"))
        ok = (isinstance(claim, dict) and claim.get("algorithm") in ("ed25519", "sm2")
              and claim.get("signed") == SIGNED_FILE
              and isinstance(claim.get("signature"), str)
              and isinstance(claim.get("key_id", ""), str))
        signature = base64.b64decode(claim["signature"], validate=True) if ok else b""
    except (ValueError, UnicodeDecodeError, binascii.Error):
        ok = False
    if not ok:
        raise Problem("signature_malformed", file=SIGNATURE_FILE)
    try:
        key_algorithm, der = load_public_key(_read_bytes(root, PUBLIC_KEY_FILE).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Problem("key_malformed", file=PUBLIC_KEY_FILE) from None
    key_id = hashlib.sha256(der).hexdigest()
    if key_algorithm != claim["algorithm"]:
        raise Problem("key_algorithm", file=SIGNATURE_FILE, algorithm=claim["algorithm"],
                      key_algorithm=key_algorithm)
    if claim.get("key_id") and claim["key_id"].lower() != key_id:
        raise Problem("key_id", file=SIGNATURE_FILE, expected=claim["key_id"], found=key_id)
    if trusted is not None and der != trusted:
        raise Problem("untrusted_key", file=PUBLIC_KEY_FILE, found=key_id,
                      expected=hashlib.sha256(trusted).hexdigest())
    try:
        signed = _read_bytes(root, SIGNED_FILE)
    except FileNotFoundError:
        raise Problem("signed_file_missing", file=SIGNED_FILE) from None
    if not verify_signature(key_algorithm, der, signature, signed):
        raise Problem("bad_signature", file=SIGNATURE_FILE, key_id=key_id)
    covered = {e.path for e in tag_entries if e.manifest == SIGNED_FILE}
    for name in tag_files:
        if name not in covered:
            raise Problem("not_covered", file=SIGNED_FILE, path=name)
    return {"algorithm": key_algorithm, "key_id": key_id, "trusted": trusted is not None}


# --- the whole check ------------------------------------------------------------------------

def _hash_file(root: Path, path: str, algorithms: set[str], progress) -> dict[str, str]:
    hashers = {alg: hashlib.new(alg) for alg in sorted(algorithms)}
    try:
        with open(root / path, "rb", buffering=0) as fh:
            while chunk := fh.read(CHUNK):
                for hasher in hashers.values():
                    hasher.update(chunk)
                if progress:
                    progress(len(chunk), path)
    except OSError as exc:
        raise Problem("unreadable", file=path, status=UNREADABLE, problem=exc.strerror) from exc
    return {alg: hasher.hexdigest() for alg, hasher in hashers.items()}


def load_trusted_key(path: str | Path) -> bytes:
    try:
        return load_public_key(Path(path).read_text(encoding="utf-8"))[1]
    except (OSError, ValueError, UnicodeDecodeError, binascii.Error):
        raise Problem("trusted_key_unreadable", file=str(path), status=UNREADABLE) from None


def verify(directory: str | Path, *, trusted_key: bytes | None = None,
           progress=None) -> Report:
    """Check the bag at ``directory``. ``trusted_key``: DER SubjectPublicKeyInfo the package
    must be signed with. ``progress(total_bytes)`` is called once before hashing and returns
    a callable ``(bytes_read, path)`` (or None)."""
    report = Report(ok=False)
    try:
        _verify(Path(directory), trusted_key, progress, report)
    except Problem as problem:
        report.problem = problem
        return report
    report.ok = True
    return report


def _verify(root: Path, trusted: bytes | None, progress, report: Report) -> None:
    try:
        info = root.stat()
    except FileNotFoundError:
        raise Problem("not_found", file=str(root), status=UNREADABLE) from None
    except OSError as exc:
        raise Problem("unreadable", file=str(root), status=UNREADABLE,
                      problem=exc.strerror) from exc
    if not stat.S_ISDIR(info.st_mode):
        raise Problem("not_a_directory", file=str(root), status=UNREADABLE)
    try:
        top = sorted(os.listdir(root))
    except OSError as exc:
        raise Problem("unreadable", file=str(root), status=UNREADABLE,
                      problem=exc.strerror) from exc

    check_bagit_txt(root)
    data = root / "data"
    if data.is_symlink():
        raise Problem("not_regular", file="data")
    if not data.is_dir():
        raise Problem("no_data", file="data")
    tags = parse_bag_info(root)

    everything = _walk(root, "")
    payload = {path: size for path, size in everything.items() if path.startswith("data/")}
    oxum = [(value, line) for label, value, line in tags if label == "Payload-Oxum"]
    if len(oxum) > 1:
        raise Problem("oxum_repeated", file="bag-info.txt", line=oxum[1][1])
    if oxum:
        value, line = oxum[0]
        if not re.fullmatch(r"\d+\.\d+", value):
            raise Problem("oxum_malformed", file="bag-info.txt", line=line,
                          found=json.dumps(value))
        found = f"{sum(payload.values())}.{len(payload)}"
        if tuple(map(int, value.split("."))) != (sum(payload.values()), len(payload)):
            raise Problem("oxum_mismatch", file="bag-info.txt", line=line, expected=value,
                          found=found)

    manifests, tag_manifests = [], []
    for name in top:
        match = re.fullmatch(r"(tag)?manifest-(.+)\.txt", name)
        if not match:
            continue
        if match.group(2) not in ALGORITHMS:
            raise Problem("unknown_algorithm", file=name, algorithm=match.group(2),
                          known=", ".join(ALGORITHMS))
        (tag_manifests if match.group(1) else manifests).append((name, match.group(2)))
    if not manifests:
        raise Problem("no_manifest", file="manifest-sha256.txt")

    entries: list[Entry] = []
    for name, algorithm in manifests:
        listed = parse_manifest(root, name, algorithm, payload=True)
        for entry in listed:
            if entry.path not in payload:
                if (root / entry.path).is_symlink():
                    raise Problem("not_regular", file=entry.path)
                raise Problem("missing", file=name, line=entry.line, path=entry.path)
        paths = {entry.path for entry in listed}
        for path in sorted(payload):
            if path not in paths:
                raise Problem("unlisted", file=name, path=path)
        entries += listed
    tag_entries: list[Entry] = []
    for name, algorithm in tag_manifests:
        listed = parse_manifest(root, name, algorithm, payload=False)
        for entry in listed:
            if entry.path not in everything:
                if (root / entry.path).is_symlink():
                    raise Problem("not_regular", file=entry.path)
                raise Problem("missing", file=name, line=entry.line, path=entry.path)
        tag_entries += listed
    report.manifests = [name for name, _ in manifests + tag_manifests]

    required = None
    if any(label == WITNESS_LABEL for label, _value, _line in tags):
        required = "signature_required"
    elif trusted is not None:
        required = "signature_required_trusted"
    unsigned = {SIGNATURE_FILE, PUBLIC_KEY_FILE} | {name for name, _ in tag_manifests}
    tag_files = sorted(p for p in everything
                       if not p.startswith("data/") and p not in unsigned)
    report.signature = check_signature(root, required, tag_entries, tag_files, trusted)

    # digests: each file read once, for all the algorithms it is listed with
    needed: dict[str, set[str]] = {}
    for entry in entries + tag_entries:
        needed.setdefault(entry.path, set()).add(entry.algorithm)
    total = sum(everything[path] for path in needed)
    tick = progress(total) if progress else None
    digests: dict[str, dict[str, str]] = {}
    for entry in entries + tag_entries:
        if entry.path not in digests:
            digests[entry.path] = _hash_file(root, entry.path, needed[entry.path], tick)
            report.files += 1
            report.bytes += everything[entry.path]
        found = digests[entry.path][entry.algorithm]
        if found != entry.digest:
            raise Problem("digest_mismatch", file=entry.manifest, line=entry.line,
                          path=entry.path, algorithm=entry.algorithm, found=found,
                          expected=entry.digest)


# --- standalone use -------------------------------------------------------------------------

def summary(report: Report, translate) -> str:
    if not report.ok:
        return report.problem.render(translate)
    params = {"files": report.files, "bytes": report.bytes,
              "manifests": ", ".join(report.manifests)}
    if report.signature:
        return translate(VALID_SIGNED) % {**params, **report.signature}
    return translate(VALID_UNSIGNED) % params


def bilingual(report: Report) -> str:
    zh, en = summary(report, zh_translator()), summary(report, lambda text: text)
    return en if zh == en else f"{zh}\n{en}"


def _text_progress(total: int):
    """A plain progress line on stderr (the standalone script, on a terminal)."""
    state = {"done": 0, "shown": 0.0}

    def tick(count: int, path: str) -> None:
        state["done"] += count
        now = time.monotonic()
        if now - state["shown"] >= 0.2 or state["done"] >= total:
            state["shown"] = now
            share = state["done"] * 100 // total if total else 100
            sys.stderr.write(f"\r{share:3d}% {state['done'] >> 20}/{total >> 20} MiB "
                             f"{path[-50:]:<50}")
            if state["done"] >= total:
                sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()

    return tick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Verify a Witness evidence package (a BagIt bag, "
        "RFC 8493) without Witness. Exit status 0 valid, 1 invalid, 2 unreadable.")
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--trusted-key", metavar="KEY.pem",
                        help="require the package to be signed with exactly this public key")
    args = parser.parse_args(argv)
    try:
        trusted = load_trusted_key(args.trusted_key) if args.trusted_key else None
    except Problem as problem:
        report = Report(ok=False, problem=problem)
    else:
        show = not args.json and sys.stderr.isatty()
        report = verify(args.directory, trusted_key=trusted,
                        progress=_text_progress if show else None)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(bilingual(report), file=sys.stdout if report.ok else sys.stderr)
    return report.status


if __name__ == "__main__":
    sys.exit(main())
