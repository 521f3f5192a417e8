"""Executing an approved purge batch (RET-1: an original is deleted only through the approved
purge, and nothing is lost on the way).

* **One run at a time.** A run takes the batch's lease (an owner token and a time,
  ``LEASE``), renews it before each item and gives it back at the end or when it fails. A
  second run while the lease holds is refused; a crashed run's lease lapses and the next
  run resumes the batch.
* **Each item is claimed before storage is touched**, in a transaction that locks the item
  and the recording's row (a hold proposal locks the same rows: see
  ``holds._lock_recordings``) and checks again that the recording has expired and that
  nothing keeps it. A hold proposed meanwhile either committed first — the item is
  ``saved`` with the reason — or waits until the claim is committed. The claim commits the
  state ``removing`` with the planned objects; only then are they removed, and a second
  transaction records ``purged`` and the tombstone. A run resuming a ``removing`` item
  removes what is left, counting an object already absent as removed.
* **Same bytes, two recordings.** An original absent because a purge took another
  recording with the same bytes (in this batch or an earlier one) is purged, not missing.
  An original another recording still needs is kept; the tombstone says so, and the
  recording is never proposed again (``purge.taken``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.audit.models import AuditEntry
from witness.confidentiality import removal
from witness.core.errors import Refused
from witness.recordings.models import Recording
from witness.retention import keep
from witness.retention.models import BatchState, ItemResult, PurgeBatch, PurgeItem
from witness.retention.purge import (
    MISSING_RULE,
    TAKEN,
    Outcome,
    _recheck,
    eligible,
    item_state,
    taken,
)
from witness.storage.config import get_backend, get_replica

LEASE = timedelta(minutes=15)
RELATED = ("recording__blob", "recording__device", "recording__activity")


def _targets(recording: Recording, purging: set[int]):
    """removal.plan, keeping the original where the same bytes are another recording's that
    this purge does not take (nor an earlier one took); returns (targets, those recordings)."""
    targets = removal.plan(recording)
    shared = sorted(Recording.objects.filter(blob_id=recording.blob_id)
                    .exclude(pk__in=purging).exclude(pk=recording.pk)
                    .exclude(pk__in=taken()).values_list("pk", flat=True))
    if shared:
        for t in targets:
            if t.copy in (removal.ORIGINAL, removal.REPLICA, removal.ASIDE):
                t.keep = True
    return targets, shared


def _target_of(row: dict) -> removal.Target:
    """A planned object back from its JSON (resuming a claimed item)."""
    for backend in (get_backend(), get_replica()):
        if backend is not None and backend.location == row["store"]:
            return removal.Target(row["copy"], backend, row["key"], row["sha256"],
                                  keep=row["result"] == removal.KEPT)
    raise Refused(_("The store %(store)s of a planned object is not configured; configure it "
                    "(WITNESS_STORAGE, WITNESS_REPLICA) and run the purge again."),
                  code="store_unreachable", store=row["store"])


def _take_lease(batch: PurgeBatch, token: str, now) -> None:
    if batch.lease_owner and batch.lease_until and batch.lease_until > now:
        raise Refused(_("Purge batch %(pk)s is being executed by another run until %(until)s; "
                        "wait for it to finish (after that time a new run resumes it)."),
                      code="purge_running", pk=batch.pk,
                      until=timezone.localtime(batch.lease_until).strftime("%Y-%m-%d %H:%M"))
    batch.lease_owner, batch.lease_until = token, now + LEASE


def _renew(batch_pk: int, token: str) -> None:
    if not PurgeBatch.objects.filter(pk=batch_pk, lease_owner=token).update(
            lease_until=timezone.now() + LEASE):
        raise Refused(_("This run lost the lease of purge batch %(pk)s to another run; it "
                        "stops here."), code="lease_lost", pk=batch_pk)


def _release(batch_pk: int, token: str) -> None:
    PurgeBatch.objects.filter(pk=batch_pk, lease_owner=token).update(lease_owner="",
                                                                      lease_until=None)


def execute(batch_id: int, *, actor="system:retention", dry_run: bool = False) -> Outcome:
    batch = PurgeBatch.objects.select_related("agency", "proposed_by", "approver").get(
        pk=batch_id)
    if batch.state not in (BatchState.APPROVED, BatchState.EXECUTING):
        raise Refused(_("Batch %(pk)s is %(state)s: only an approved batch is purged."),
                      code="not_approved", pk=batch.pk, state=batch.get_state_display())
    now = timezone.now()
    if dry_run:
        return _dry_run(batch, now)
    token = uuid.uuid4().hex
    with transaction.atomic():
        locked = PurgeBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.state not in (BatchState.APPROVED, BatchState.EXECUTING):
            raise Refused(_("Batch %(pk)s is %(state)s: only an approved batch is purged."),
                          code="not_approved", pk=batch.pk, state=locked.get_state_display())
        _take_lease(locked, token, now)
        resumed = locked.state == BatchState.EXECUTING
        saved = [i.recording_id for i in _recheck_saved(locked, now)]
        locked.state = BatchState.EXECUTING
        locked.started_at = locked.started_at or now
        locked.save(update_fields=["state", "started_at", "lease_owner", "lease_until"])
        todo = list(locked.items.filter(result__in=(ItemResult.PENDING, ItemResult.REMOVING))
                    .select_related(*RELATED).order_by("pk"))
        audit.append(actor, "retention.purge_start", locked, details={
            "recordings": [i.recording_id for i in todo], "saved": saved, "resumed": resumed})
    try:
        purging = {i.recording_id for i in todo}
        for item in todo:
            _renew(batch.pk, token)
            _purge_item(item, purging, batch, actor)
    except BaseException:
        _release(batch.pk, token)
        raise
    with transaction.atomic():
        locked = PurgeBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.lease_owner != token:
            raise Refused(_("This run lost the lease of purge batch %(pk)s to another run; "
                          "it stops here."), code="lease_lost", pk=batch.pk)
        locked.state, locked.executed_at = BatchState.EXECUTED, timezone.now()
        locked.lease_owner, locked.lease_until = "", None
        locked.save(update_fields=["state", "executed_at", "lease_owner", "lease_until"])
        counts = {r: locked.items.filter(result=r).count() for r in ItemResult.values}
        audit.append(actor, "retention.purge", locked, details={"counts": counts})
    return Outcome(batch=locked, items=[item_state(i) for i in locked.items.order_by("pk")])


def _recheck_saved(batch: PurgeBatch, now) -> list[PurgeItem]:
    before = set(batch.items.filter(result=ItemResult.SAVED).values_list("pk", flat=True))
    _recheck(batch, now)
    return list(batch.items.filter(result=ItemResult.SAVED).exclude(pk__in=before))


def _dry_run(batch: PurgeBatch, now) -> Outcome:
    with transaction.atomic():
        locked = PurgeBatch.objects.select_for_update().get(pk=batch.pk)
        remaining = _recheck(locked, now)
        purging = {i.recording_id for i in remaining}
        items = [{"recording": i.recording_id,
                  "objects": [t.as_json() for t in _targets(i.recording, purging)[0]]}
                 for i in remaining]
        transaction.set_rollback(True)
    return Outcome(batch=locked, dry_run=True, items=items)


def _lock(item: PurgeItem) -> str:
    """Lock the item and its recording's row (as a hold proposal does); the item's result."""
    result = PurgeItem.objects.select_for_update().filter(pk=item.pk).values_list(
        "result", flat=True).get()
    list(Recording.objects.select_for_update().filter(pk=item.recording_id).values_list(
        "pk", flat=True))
    return result


def _purge_item(item: PurgeItem, purging: set[int], batch: PurgeBatch, actor) -> None:
    rec = item.recording
    with transaction.atomic():
        result = _lock(item)
        if result == ItemResult.REMOVING:  # claimed by a run that stopped: finish it
            plan = PurgeItem.objects.values_list("planned", flat=True).get(pk=item.pk)
            targets = [_target_of(row) for row in plan["objects"]]
            shared = plan["shared_with"]
        elif result != ItemResult.PENDING:
            return  # done meanwhile
        else:
            claimed = _claim(item, rec, purging, batch, actor)
            if claimed is None:
                return
            targets, shared = claimed
    done = [removal.remove_object(t) for t in targets]
    _record(item, rec, batch, actor, targets, shared, done)


def _claim(item: PurgeItem, rec: Recording, purging, batch: PurgeBatch, actor):
    """Check the item again under the locks (the keep-until dates were recomputed when the
    run started; holds, cases, findings and requests are asked live): saved, missing, or
    claimed (``removing``: returns the targets and the recordings sharing the original)."""
    from witness.findings.services import raise_finding

    now = timezone.now()
    if not eligible(batch.agency, now, [rec.pk]).exists():
        reasons = keep.reasons_for(rec, now) or ["keep_until"]
        item.result, item.saved_because = ItemResult.SAVED, ", ".join(reasons)
        item.save(update_fields=["result", "saved_because"])
        audit.append(actor, "retention.purge_item", rec, details={
            "batch": batch.pk, "result": ItemResult.SAVED, "because": reasons})
        return None
    targets, shared = _targets(rec, purging)
    original = next(t for t in targets if t.copy == removal.ORIGINAL)
    if (not original.keep and not original.backend.exists(original.key)
            and not _taken_with(rec, item)):
        raise_finding(MISSING_RULE, rec, {"sha256": rec.blob.sha256, "batch": batch.pk},
                      actor=actor)
        item.result = ItemResult.MISSING
        item.save(update_fields=["result"])
        audit.append(actor, "retention.purge_item", rec, details={
            "batch": batch.pk, "result": ItemResult.MISSING})
        return None
    item.result = ItemResult.REMOVING
    item.planned = {"objects": [t.as_json() for t in targets], "shared_with": shared}
    item.save(update_fields=["result", "planned"])
    audit.append(actor, "retention.purge_claim", rec, details={
        "batch": batch.pk, "objects": item.planned["objects"], "shared_with": shared})
    return targets, shared


def _taken_with(rec: Recording, item: PurgeItem) -> list[int]:
    """Other recordings with the same bytes that a purge took (their purge removed them)."""
    return list(PurgeItem.objects.filter(recording__blob_id=rec.blob_id, result__in=TAKEN)
                .exclude(pk=item.pk).values_list("recording_id", flat=True))


def _record(item, rec: Recording, batch: PurgeBatch, actor, targets, shared, done) -> None:
    from witness.storage.models import Blob

    with transaction.atomic():
        if _lock(item) != ItemResult.REMOVING:
            return
        original = next(t for t in targets if t.copy == removal.ORIGINAL)
        removed = {o["sha256"] for o in done if o["result"] == removal.REMOVED}
        if not original.keep:  # absent counts: removed by this run, an earlier one, or a purge
            removed.add(rec.blob.sha256)  # of the same bytes
        Blob.objects.filter(sha256__in=removed, removed_at__isnull=True).update(
            removed_at=timezone.now(),
            removed_because=f"保存期限届满清除 #{batch.pk} / retention purge #{batch.pk}")
        audit.append(actor, "retention.purge_item", rec, details={
            "batch": batch.pk, "result": ItemResult.PURGED, "objects": done,
            "sha256": rec.blob.sha256, "content_kept_for": shared})
        item.result = ItemResult.PURGED
        item.tombstone = _tombstone(rec, item, batch, done, shared,
                                    [] if original.keep else _taken_with(rec, item))
        item.save(update_fields=["result", "tombstone"])


def _tombstone(rec: Recording, item: PurgeItem, batch: PurgeBatch, done: list[dict],
               shared: list[int], same_bytes: list[int]) -> dict:
    blob = rec.blob
    about = (Q(object_type="recordings.recording", object_id=str(rec.pk))
             | Q(object_type="storage.blob", object_id=str(blob.pk))
             | Q(object_type="retention.purgebatch", object_id=str(batch.pk)))
    entries = [{"id": pk, "action": action} for pk, action in
               AuditEntry.objects.filter(about).order_by("pk").values_list("pk", "action")]

    def iso(d):
        return d.isoformat() if d else None

    if shared:
        content = ("kept: shared with recording " + ", ".join(str(i) for i in shared)
                   + " / 原始文件保留：与录音录像 " + "、".join(str(i) for i in shared) + " 共用")
    else:
        content = "removed / 已清除"
    return {
        "recording": rec.pk, "blob": blob.pk, "source_path": rec.source_path,
        "device": rec.device.serial if rec.device else None, "activity": rec.activity_id,
        "case": rec.activity.case_id if rec.activity_id else None,
        "digests": dict(blob.digests), "size": blob.size,
        "started_at": iso(rec.started_at), "ended_at": iso(rec.ended_at),
        "ingested_at": iso(rec.ingested_at), "stored_at": iso(blob.stored_at),
        "keep_until": iso(item.keep_until), "purged_at": timezone.now().isoformat(),
        "proposed_by": batch.proposed_by.name, "proposed_at": iso(batch.proposed_at),
        "approved_by": batch.approver.name if batch.approver else None,
        "approved_at": iso(batch.decided_at), "objects": done, "audit_entries": entries,
        "content": content, "content_kept_for": shared, "same_bytes_as": same_bytes,
    }
