"""The second copy of every original in the replica store (``WITNESS_REPLICA``), ING-4.

``register`` queues ``tasks.replicate_blob`` once a new blob's row commits. The job streams
the original from the primary store (read from the medium) into the replica through the
replica's own staging object: every registered digest and the size must match the stream,
the staged bytes must read back identical, then the object becomes final under the same
content key. Only then a :class:`Replica` row says that the blob has a verified second copy,
with a ``blob.replicate`` audit entry in the same transaction.

Idempotent and safe to retry: a blob with a Replica row is left alone; an object already in
the replica is verified and recorded rather than copied again (or, if damaged, replaced
from the primary with its bytes kept aside); two jobs for one blob serialise on its row.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import NotFound, WitnessError

from .backends.base import BlobBackend
from .config import get_backend, get_replica
from .models import Blob, Replica, held_blobs
from .pipeline import copy_verified, digests_of

ACTOR = "system:replicate"
logger = logging.getLogger(__name__)


def enqueue_replication(blob_id: int) -> None:
    """Queue the copy of a new blob (``transaction.on_commit`` from ``register``) when a
    replica store is configured. Never raises: a failure is logged, and
    ``witness fixity --replicate-missing`` copies what was left out."""
    try:
        if get_replica() is None:
            return
        from .tasks import replicate_blob

        replicate_blob.enqueue(blob_id)
    except Exception:
        logger.exception("could not queue the replication of blob %s", blob_id)


def no_replica() -> WitnessError:
    return WitnessError(_("No replica store is configured (WITNESS_REPLICA is empty)."),
                        code="no_replica")


def missing(replica: BlobBackend):
    """Blobs without a verified copy in ``replica``."""
    return held_blobs().exclude(replicas__store=replica.location).order_by("pk")


def _matches(replica: BlobBackend, blob: Blob) -> bool | None:
    """Whether the object already in the replica has the register's digests and size;
    None if there is none."""
    try:
        read, size = digests_of(replica.read_verified(blob.key), blob.digests)
    except NotFound:
        return None
    return size == blob.size and read == blob.digests


def replicate(blob: Blob | int, *, primary: BlobBackend | None = None,
              replica: BlobBackend | None = None, actor=ACTOR, progress=None) -> str:
    """Give ``blob`` a verified copy in the replica store. Returns "present" (recorded
    already), "verified" (the object was there, intact), "copied" or "repaired" (a damaged
    object there was replaced). Raises WitnessError if the primary's copy does not match
    the register or a store fails; the failure is audited."""
    replica = replica if replica is not None else get_replica()
    if replica is None:
        raise no_replica()
    primary = primary if primary is not None else get_backend()
    if not isinstance(blob, Blob):
        blob = Blob.objects.get(pk=blob)
    if Replica.objects.filter(blob=blob, store=replica.location).exists():
        return "present"
    try:
        intact = _matches(replica, blob)
        aside = None
        if intact:
            outcome = "verified"
        else:
            stored = copy_verified(primary.read_verified(blob.key), replica, blob.digests,
                                   blob.size, blob.key, replace=intact is False,
                                   progress=progress)
            outcome, aside = ("repaired" if intact is False else "copied"), stored.aside
    except WitnessError as exc:
        with transaction.atomic():
            audit.append(actor, "blob.replicate", blob, outcome="failure", details={
                "store": replica.location, "key": blob.key, "error": exc.as_dict()})
        raise
    return _record(blob, replica, outcome, aside, actor)


def _record(blob: Blob, replica: BlobBackend, outcome: str, aside: str | None, actor) -> str:
    now = timezone.now()
    with transaction.atomic():
        Blob.objects.select_for_update().filter(pk=blob.pk).first()  # one job at a time
        _row, created = Replica.objects.get_or_create(
            blob=blob, store=replica.location,
            defaults={"backend": replica.name, "key": blob.key, "size": blob.size,
                      "replicated_at": now, "verified_at": now})
        if not created:
            return "present"
        audit.append(actor, "blob.replicate", blob, details={
            "store": replica.location, "backend": replica.name, "key": blob.key,
            "size": blob.size, "digests": blob.digests, "outcome": outcome, "aside": aside})
    return outcome
