"""Removing a state secret's content from storage (issue 5 item 4; EVD-4).

The blob backends (witness/storage/backends) deliberately have no delete of a final
object: originals are write-once. The approved state-secret hand-off is the one path
besides retention by which content leaves, so its deletion lives here, narrowly named and
called only by :func:`witness.confidentiality.services.remove` after the hand-off's steps
(export recorded, removal approved) — never from a view or a command directly.

What goes, for one recording:

* the original in the primary store (``WITNESS_STORAGE``) under its content key;
* its verified copy in the replica store (``WITNESS_REPLICA``), for each Replica row;
* the derivatives made from it (playback copy, poster frame, waveform), in both stores,
  unless the same derived bytes serve another recording that is not being handed off
  (a black poster frame, say: the same bytes, no secret) — those are kept and said so;
* damaged copies a fixity repair kept aside (filesystem: ``quarantine/<time>-<sha256>-…``;
  S3: older versions of the key — every version of the key is deleted).

The Blob, Replica and Derivative rows stay: they are the metadata (digests, sizes, times).
Deleting an object that is gone already is no error, so a removal interrupted half-way is
completed by running it again.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from witness.core.errors import Refused, WitnessError
from witness.storage.backends.base import BlobBackend, content_key
from witness.storage.config import get_backend, get_replica
from witness.storage.models import Blob, Replica

REMOVED = "removed"
ABSENT = "absent"  # nothing was there (removed by an earlier run)
KEPT = "kept_shared"  # derived bytes that serve another recording as well

ORIGINAL, REPLICA, DERIVATIVE, DERIVATIVE_REPLICA, ASIDE = (
    "primary", "replica", "derivative", "derivative_replica", "aside")


@dataclass
class Target:
    """One object to remove (or, for ``keep``, one left in place and why)."""

    copy: str
    backend: BlobBackend | None
    key: str
    sha256: str
    keep: bool = False

    @property
    def store(self) -> str:
        return self.backend.location if self.backend is not None else ""

    def as_json(self) -> dict:
        return {"copy": self.copy, "store": self.store, "key": self.key,
                "sha256": self.sha256, "result": KEPT if self.keep else "planned"}


def _replica_backend(row: Replica) -> BlobBackend:
    replica = get_replica()
    if replica is None or replica.location != row.store:
        raise Refused(_("A copy of this content is recorded in the replica store %(store)s, "
                        "which is not the configured replica store (WITNESS_REPLICA); "
                        "configure that store before removing the content."),
                      code="replica_unreachable", store=row.store)
    return replica


def _primary(blob: Blob) -> BlobBackend:
    backend = get_backend()
    if backend.name != blob.backend:
        raise Refused(_("The original %(sha256)s is recorded in a %(recorded)s store, but "
                        "the configured store (WITNESS_STORAGE) is %(configured)s."),
                      code="store_mismatch", sha256=blob.sha256, recorded=blob.backend,
                      configured=backend.name)
    return backend


def _copies(blob: Blob, copy: str, replica_copy: str, keep: bool = False) -> list[Target]:
    targets = [Target(copy, _primary(blob), blob.key, blob.sha256, keep)]
    for row in Replica.objects.filter(blob=blob).order_by("pk"):
        targets.append(Target(replica_copy, _replica_backend(row), row.key, blob.sha256, keep))
    if not keep:
        targets += _aside(targets[0].backend, blob.sha256)
    return targets


def _aside(backend: BlobBackend, sha256: str) -> list[Target]:
    """Damaged copies of these bytes that a fixity repair kept under ``quarantine/``
    (filesystem; in S3 they are older versions of the key, removed with it)."""
    root = getattr(backend, "root", None)
    if backend.name != "file" or root is None:
        return []
    folder = root / "quarantine"
    if not folder.is_dir():
        return []
    return [Target(ASIDE, backend, f"quarantine/{p.name}", sha256)
            for p in sorted(folder.glob(f"*-{sha256}*")) if not p.is_dir()]


def plan(recording) -> list[Target]:
    """The objects holding ``recording``'s content, in the order they are removed:
    replicas and derivatives first, the primary original last."""
    from witness.confidentiality.models import HandoffState, SecretHandoff
    from witness.derivatives.models import Derivative

    leaving = SecretHandoff.objects.filter(
        state__in=[HandoffState.REMOVAL_APPROVED, HandoffState.REMOVING,
                   HandoffState.REMOVED]).values("recording_id")
    targets: list[Target] = []
    for derivative in (Derivative.objects.filter(recording=recording, blob__isnull=False)
                       .select_related("blob").order_by("pk")):
        blob = derivative.blob
        shared = (Derivative.objects.filter(blob=blob).exclude(recording=recording)
                  .exclude(recording__in=leaving).exists()
                  or blob.recordings.exclude(pk=recording.pk)
                  .exclude(pk__in=leaving).exists())
        copies = _copies(blob, DERIVATIVE, DERIVATIVE_REPLICA, keep=shared)
        targets += [t for t in copies if t.copy != DERIVATIVE] + \
            [t for t in copies if t.copy == DERIVATIVE]
    original = _copies(recording.blob, ORIGINAL, REPLICA)
    targets += [t for t in original if t.copy != ORIGINAL]
    targets += [t for t in original if t.copy == ORIGINAL]
    return targets


def remove_object(target: Target) -> dict:
    """Remove one object for good (every version of it); returns the record of what was
    done. The one deletion of a final object outside retention: see the module's doc."""
    record = target.as_json()
    if target.keep:
        return record
    backend = target.backend
    if backend.name == "file":
        existed = _remove_file(backend, target)
    elif backend.name == "s3":
        existed = _remove_s3(backend, target)
    else:  # pragma: no cover - the two backends are file and s3
        raise WitnessError(_("Removing content from a %(kind)s store is not supported."),
                           code="unsupported_store", kind=backend.name)
    record["result"] = REMOVED if existed else ABSENT
    return record


def _fsync_dir(path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_file(backend, target: Target) -> bool:
    if target.copy == ASIDE:
        name = target.key.removeprefix("quarantine/")
        if "/" in name or not name or target.sha256 not in name:
            raise ValueError(f"not a quarantined copy: {target.key!r}")
        path = backend.root / "quarantine" / name
    else:
        if target.key != content_key(target.sha256):
            raise ValueError(f"not the content key of {target.sha256}: {target.key!r}")
        path = backend.path(target.key)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise WitnessError(_("The stored object %(key)s could not be removed: %(error)s"),
                           code="remove_failed", key=target.key, error=exc.strerror) from exc
    with contextlib.suppress(FileNotFoundError):
        _fsync_dir(path.parent)
    return True


def _remove_s3(backend, target: Target) -> bool:
    """Delete every version and delete marker of the key (a versioned bucket would keep the
    bytes as an older version otherwise). Under object lock the bucket policy refuses:
    lifting it is an administrator's act outside this program, then run the removal again."""
    if target.key != content_key(target.sha256):
        raise ValueError(f"not the content key of {target.sha256}: {target.key!r}")
    full = backend.prefix + target.key
    found = False
    with backend.errors(_("removing a state secret's stored object"), key=target.key):
        pages = backend.client.get_paginator("list_object_versions").paginate(
            Bucket=backend.bucket, Prefix=full)
        for page in pages:
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if version["Key"] != full:
                    continue
                found = found or "Size" in version
                backend.client.delete_object(Bucket=backend.bucket, Key=full,
                                             VersionId=version["VersionId"])
        if not found and backend.exists(target.key):  # an unversioned bucket
            backend.client.delete_object(Bucket=backend.bucket, Key=full)
            found = True
    return found
