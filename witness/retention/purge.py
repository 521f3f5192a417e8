"""The approved retention purge (RET-1: A15 "到期后，管理人员根据情况对无保存意义的进行清除处理").

plan → the custodian proposes a batch → the approver the profile names
(``retention.purge_approver``; never the proposer) approves or rejects → the task
``tasks.execute_purge`` removes the objects (original, replica, playback copy, poster,
waveform, copies a fixity repair kept aside) through :mod:`witness.confidentiality.removal`.
Each item is re-checked at approval and again at execution: one no longer expired, or held
meanwhile, is saved. Recording, Blob and Replica rows stay; the item's tombstone records
ids, digests by algorithm, size, times, proposer, approver and the audit entries. An
original already missing at execution is not "purged": a finding is raised, nothing goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.access.authz import Denied, Subject
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.org.models import Role
from witness.profiles.services import active
from witness.recordings.models import Recording
from witness.retention import keep
from witness.retention.holds import actor_of
from witness.retention.models import BatchState, ItemResult, PurgeBatch, PurgeItem

MISSING_RULE = "RET-1.missing_original"
TAKEN = (ItemResult.PURGED, ItemResult.REMOVING)


def taken():
    """Recordings a purge has taken or is taking (their content may stay, shared with another
    recording): never proposed or planned again (RET-1)."""
    return PurgeItem.objects.filter(result__in=TAKEN).values("recording_id")


def purgeable(agency, now=None):
    """keep.expired, less the recordings a purge has taken already."""
    return keep.expired(agency, now).exclude(pk__in=taken())


def plan(agency, now=None) -> list[dict]:
    """What has expired and why, oldest keep-until first."""
    rows = (purgeable(agency, now).select_related("retention__profile_version", "blob",
                                                     "device")
            .order_by("retention__keep_until", "pk"))
    return [item_json(r) for r in rows]


def item_json(r: Recording) -> dict:
    ret = r.retention
    return {"recording": r.pk, "source_path": r.source_path,
            "device": r.device.serial if r.device else None, "started_at": r.started_at,
            "ingested_at": r.ingested_at, "keep_until": ret.keep_until, "basis": ret.basis,
            "profile": str(ret.profile_version) if ret.profile_version else None,
            "sha256": r.blob.sha256, "size": r.blob.size}


def visible_batches(subject: Subject):
    if subject.agency is None or not subject.may("retention.view"):
        return PurgeBatch.objects.none()
    return PurgeBatch.objects.filter(agency=subject.agency).select_related(
        "proposed_by", "approver")


def batch_for(subject: Subject, pk) -> PurgeBatch:
    batch = visible_batches(subject).filter(pk=pk).first()
    if batch is None:
        raise NotFound(_("There is no purge batch with the number %(pk)s."), pk=pk)
    return batch


@dataclass
class Outcome:
    batch: PurgeBatch | None
    items: list[dict] = field(default_factory=list)
    dry_run: bool = False

    def as_json(self) -> dict:
        return {"batch": batch_json(self.batch) if self.batch and self.batch.pk else None,
                "items": self.items, "dry_run": self.dry_run}


def _person(subject: Subject):
    if subject.person is None:
        raise Denied(_("Only a person registered in the agency can do this."), code="no_person")
    return subject.person


def propose(subject: Subject, recording_ids=None, *, note: str = "",
            dry_run: bool = False) -> Outcome:
    """A batch of expired recordings (all of them without ``recording_ids``)."""
    authz.require(subject, "retention.propose")
    person = _person(subject)
    agency = subject.agency
    _version, profile = active(agency)
    with transaction.atomic():
        keep.recompute(actor=actor_of(subject), scope="propose",
                       recording_ids=recording_ids)
        eligible = purgeable(agency).select_related("retention", "blob", "device")
        if recording_ids is not None:
            wanted = {int(i) for i in recording_ids}
            eligible = eligible.filter(pk__in=wanted)
            missing = wanted - set(eligible.values_list("pk", flat=True))
            if missing:
                raise Refused(_("Not expired, kept for a reason, or not yours to propose: "
                                "recording(s) %(ids)s."), code="not_expired",
                              ids=", ".join(str(i) for i in sorted(missing)))
        rows = list(eligible.order_by("pk"))
        if not rows:
            raise Refused(_("Nothing has expired: there is nothing to propose."),
                          code="nothing_expired")
        batch = PurgeBatch.objects.create(agency=agency, note=note, proposed_by=person,
                                          approver_rule=profile.purge_approver)
        PurgeItem.objects.bulk_create([PurgeItem(batch=batch, recording=r,
                                                 keep_until=r.retention.keep_until)
                                       for r in rows])
        audit.append(actor_of(subject), "retention.propose", batch, details={
            "recordings": [r.pk for r in rows], "approver": profile.purge_approver})
        items = [item_json(r) for r in rows]
        if dry_run:
            transaction.set_rollback(True)
    return Outcome(batch=None if dry_run else batch, items=items, dry_run=dry_run)


def check_approver(subject: Subject, batch: PurgeBatch) -> None:
    authz.require(subject, "retention.decide")
    person = _person(subject)
    if person.pk == batch.proposed_by_id:
        raise Denied(_("The person who proposed a purge cannot approve it."),
                     code="own_proposal")
    if batch.approver_rule == "principal_leader":
        if batch.agency.principal_leader_id != person.pk:
            raise Denied(_("Only the principal leader of the agency approves a purge."),
                         code="not_approver")
    elif Role.LEADER not in subject.roles:
        raise Denied(_("Only a leader approves a purge."), code="not_approver")


def _recheck(batch: PurgeBatch, now) -> list[PurgeItem]:
    """Items no longer eligible become ``saved``; the rest are returned."""
    pending = list(batch.items.filter(result=ItemResult.PENDING).select_related(
        "recording__blob", "recording__device", "recording__activity"))
    ids = [i.recording_id for i in pending]
    keep.recompute(actor="system:retention", scope=f"batch {batch.pk}", recording_ids=ids)
    still = set(eligible(batch.agency, now, ids).values_list("pk", flat=True))
    out = []
    for item in pending:
        if item.recording_id in still:
            out.append(item)
            continue
        reasons = keep.reasons_for(item.recording, now) or ["keep_until"]
        item.result, item.saved_because = ItemResult.SAVED, ", ".join(reasons)
        item.save(update_fields=["result", "saved_because"])
    return out


def eligible(agency, now, ids):
    """Of the recordings ``ids``, those still to purge: expired, nothing keeps them, and their
    content held — or removed by a purge that took another recording with the same bytes."""
    by_purge = PurgeItem.objects.filter(result__in=TAKEN, recording__blob=OuterRef("blob_id"))
    return (Recording.objects.filter(keep.agency_q(agency), pk__in=list(ids),
                                     retention__keep_until__lte=now)
            .filter(Q(blob__removed_at__isnull=True) | Exists(by_purge))
            .exclude(keep.blocking_q(now)))


def decide(subject: Subject, batch: PurgeBatch, *, approve: bool, note: str = "",
           dry_run: bool = False) -> Outcome:
    check_approver(subject, batch)
    if not approve and not note.strip():
        raise WitnessError(_("Give the reason for rejecting."), code="reason_required")
    with transaction.atomic():
        locked = PurgeBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.state != BatchState.PROPOSED:
            raise Refused(_("This batch is %(state)s; only a proposed batch is decided."),
                          code="out_of_order", state=locked.get_state_display())
        now = timezone.now()
        remaining = _recheck(locked, now) if approve else []
        locked.state = BatchState.APPROVED if approve else BatchState.REJECTED
        locked.approver, locked.decided_at, locked.decision_note = subject.person, now, note
        locked.save(update_fields=["state", "approver", "decided_at", "decision_note"])
        audit.append(actor_of(subject), "retention.approve" if approve else "retention.reject",
                     locked, details={"note": note,
                                      "to_purge": [i.recording_id for i in remaining]})
        items = [item_state(i) for i in locked.items.order_by("pk")]
        if dry_run:
            transaction.set_rollback(True)
        else:
            from witness.retention.tasks import execute_purge

            if approve:
                transaction.on_commit(lambda: execute_purge.enqueue(locked.pk))
    return Outcome(batch=locked, items=items, dry_run=dry_run)


def execute(batch_id: int, *, actor="system:retention", dry_run: bool = False) -> Outcome:
    """Purge an approved batch (the task's work): see :mod:`witness.retention.execution`."""
    from witness.retention.execution import execute as run

    return run(batch_id, actor=actor, dry_run=dry_run)


def item_state(item: PurgeItem) -> dict:
    return {"recording": item.recording_id, "keep_until": item.keep_until,
            "result": item.result, "saved_because": item.saved_because,
            "tombstone": item.tombstone}


def batch_json(batch: PurgeBatch) -> dict:
    return {"id": batch.pk, "state": batch.state, "note": batch.note,
            "proposed_by": batch.proposed_by.name, "proposed_at": batch.proposed_at,
            "approver_rule": batch.approver_rule,
            "approver": batch.approver.name if batch.approver else None,
            "decided_at": batch.decided_at, "executed_at": batch.executed_at,
            "items": batch.items.count()}
