"""The key that signs the audit log's checkpoints (issue 4).

Ed25519 by default (``cryptography``); SM2 with SM3 (GB/T 32918, GB/T 32905; ``gmssl``) for
agencies that must use national algorithms (密评), chosen by ``WITNESS_AUDIT_ALGORITHM``.
The private key lives at ``WITNESS_AUDIT_KEY`` (default ``WITNESS_HOME/audit-signing.key``),
made on first use, readable by its owner only. Public keys are PEM SubjectPublicKeyInfo (SM2:
id-ecPublicKey on sm2p256v1); ``key_id`` is the SHA-256 of that DER. SM2 signatures are DER
SEQUENCE{r, s} over SM3 with the default user id (GB/T 32918, GB/T 35276).

Checkpoints signed by an earlier key stay verifiable: put its public key file (as
``witness audit public-key`` printed it) into ``WITNESS_HOME/audit-keys/``.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError

from . import canonical

ED25519, SM2 = "ed25519", "sm2"
# DER SubjectPublicKeyInfo of an SM2 key up to the point 04‖x‖y: id-ecPublicKey with the
# curve sm2p256v1 (1.2.156.10197.1.301), as GB/T 35276 and OpenSSL write it.
SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


def _der_int(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")  # a leading 0 keeps it positive
    return b"\x02" + bytes([len(body)]) + body


def sm2_der_signature(r_s: bytes) -> bytes:
    """r‖s (32 + 32 bytes) as DER SEQUENCE{INTEGER r, INTEGER s} (GB/T 35276)."""
    body = _der_int(int.from_bytes(r_s[:32], "big")) + _der_int(int.from_bytes(r_s[32:], "big"))
    return b"\x30" + bytes([len(body)]) + body


def sm2_raw_signature(der: bytes) -> bytes | None:
    """The inverse of ``sm2_der_signature``; None for anything else."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        return None
    values, at = [], 2
    for _part in ("r", "s"):
        if at + 2 > len(der) or der[at] != 0x02:
            return None
        size = der[at + 1]
        values.append(int.from_bytes(der[at + 2:at + 2 + size], "big"))
        at += 2 + size
    if at != len(der) or any(v >= 1 << 256 for v in values):
        return None
    return b"".join(v.to_bytes(32, "big") for v in values)


def _pem(der: bytes) -> str:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


@dataclass(frozen=True)
class PublicKey:
    algorithm: str
    raw: bytes  # DER SubjectPublicKeyInfo (Ed25519, or SM2 on sm2p256v1)

    @property
    def key_id(self) -> str:
        return canonical.key_id(self.raw)

    def pem(self) -> str:
        return _pem(self.raw)

    def verify(self, signature: bytes, data: bytes) -> bool:
        if self.algorithm == ED25519:
            try:
                serialization.load_der_public_key(self.raw).verify(signature, data)
            except (InvalidSignature, ValueError, TypeError):
                return False
            return True
        from gmssl import sm2

        r_s = sm2_raw_signature(signature)
        if r_s is None or len(self.raw) != len(SM2_SPKI_PREFIX) + 65:
            return False
        crypt = sm2.CryptSM2(private_key=None, public_key="")
        crypt.public_key = self.raw[-64:].hex()  # x‖y (the constructor mangles "04…")
        try:
            return bool(crypt.verify_with_sm3(r_s.hex(), data))
        except (ValueError, TypeError, IndexError):
            return False


def load_public(text: str) -> PublicKey:
    """A public key file as ``public-key`` prints it (PEM SubjectPublicKeyInfo)."""
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body, validate=True)
    if der.startswith(SM2_SPKI_PREFIX) and len(der) == len(SM2_SPKI_PREFIX) + 65:
        return PublicKey(SM2, der)
    key = serialization.load_der_public_key(der)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("neither an Ed25519 nor an SM2 public key")
    return PublicKey(ED25519, der)


class Signer:
    def __init__(self, algorithm: str, secret: bytes):
        self.algorithm = algorithm
        if algorithm == ED25519:
            self._key = serialization.load_pem_private_key(secret, password=None)
            if not isinstance(self._key, Ed25519PrivateKey):
                raise ValueError("not an Ed25519 private key")
            raw = self._key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        else:
            from gmssl import sm2

            self._private = secret.decode().strip()
            point = sm2.CryptSM2(private_key=self._private, public_key="")._kg(
                int(self._private, 16), sm2.default_ecc_table["g"])
            raw = SM2_SPKI_PREFIX + bytes.fromhex("04" + point)
        self.public = PublicKey(algorithm, raw)

    def sign(self, data: bytes) -> bytes:
        if self.algorithm == ED25519:
            return self._key.sign(data)
        from gmssl import sm2

        crypt = sm2.CryptSM2(private_key=self._private, public_key="")
        crypt.public_key = self.public.raw[-64:].hex()
        r_s = bytes.fromhex(crypt.sign_with_sm3(data, secrets.token_hex(32)))
        return sm2_der_signature(r_s)


def _new_secret(algorithm: str) -> bytes:
    if algorithm == ED25519:
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
    from gmssl import sm2

    n = int(sm2.default_ecc_table["n"], 16)
    return f"{secrets.randbelow(n - 2) + 1:064x}\n".encode()


def signer(path: Path | None = None, algorithm: str | None = None) -> Signer:
    """The configured signing key, made (0600, never overwritten) on first use; making it
    is audited (``audit.key``: algorithm, key id, path)."""
    path = Path(path or settings.WITNESS_AUDIT_KEY)
    algorithm = algorithm or settings.WITNESS_AUDIT_ALGORITHM
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        made = False
    else:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_new_secret(algorithm))
            fh.flush()
            os.fsync(fh.fileno())
        made = True
    try:
        key = Signer(algorithm, path.read_bytes())
    except (ValueError, TypeError) as exc:
        raise WitnessError(_("The audit signing key %(path)s is not a %(algorithm)s private "
                             "key (WITNESS_AUDIT_KEY, WITNESS_AUDIT_ALGORITHM): %(problem)s"),
                           code="bad_audit_key", path=str(path), algorithm=algorithm,
                           problem=str(exc)) from exc
    if made:
        from . import services as audit

        with transaction.atomic():
            audit.append("system:audit", "audit.key", ("audit.signingkey", key.public.key_id),
                         details={"algorithm": algorithm, "key_id": key.public.key_id,
                                  "path": str(path)})
    return key


def trusted() -> dict[str, PublicKey]:
    """key id → public key: the configured key and those in ``WITNESS_HOME/audit-keys/``."""
    keys = {}
    folder = Path(settings.WITNESS_HOME) / "audit-keys"
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            try:
                key = load_public(path.read_text())
            except (ValueError, OSError, UnicodeDecodeError):
                continue
            keys[key.key_id] = key
    current = signer().public
    keys[current.key_id] = current
    return keys
