"""Label changes and the state-secret hand-off (issue 5 item 4; EVD-4).

Every check goes through :mod:`witness.access.authz` (role, then scope) and every change
writes its audit entry in the transaction of the change.

Label changes
    ``request_change`` — one pending change per target; raising and lowering alike. The
    requester must be allowed ``recording.label`` and see the target's metadata (officers:
    their own activities and recordings; unit heads: their units; leaders and the legal
    role: the agency; custodians: the agency's recordings).
    ``decide`` — by the approver the profile in force names (``viewing.label_approver``:
    the agency's principal leader, or the case's leader in charge — for an activity or
    recording through the activity's case — falling back to the principal leader), never by
    the requester. Approval changes the target's label in the same transaction.

State secrets (国家秘密)
    An approved change to ``state_secret`` marks every recording concerned (the recording;
    an activity's recordings; the recordings of a case's activities) as a state secret —
    so that :func:`witness.access.authz.content_allowance` refuses its content at once —
    and starts a :class:`SecretHandoff` for each: marked → exported (a custodian records
    the offline export) → removal approved (the label approver) → removed (a custodian
    runs :func:`remove`). This removal is the one approved deletion of content besides
    retention; the steps cannot be skipped, and the removal is safe to run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz, chain
from witness.access.authz import Denied, Subject
from witness.access.labels import RESTRICTED, Label
from witness.activities.models import Activity, Case
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.profiles import services as profiles
from witness.recordings.models import Recording

from . import removal
from .models import ORDER, ChangeState, HandoffState, LabelChange, SecretHandoff

KINDS = ("recording", "activity", "case")
MODELS = {"recording": Recording, "activity": Activity, "case": Case}
KIND_NAMES = {"recording": _("recording"), "activity": _("activity"), "case": _("case")}
LABEL_APPROVER_PRINCIPAL = "principal_leader"
LABEL_APPROVER_IN_CHARGE = "leader_in_charge"
REASON_MAX = 2000


# --- targets -----------------------------------------------------------------------------

def target_for(kind: str, pk) -> Recording | Activity | Case:
    """The recording, activity or case ``kind``:``pk``; NotFound in both languages."""
    if kind not in MODELS:
        raise WitnessError(_("Say which recording, activity or case: one of recording=, "
                             "activity= or case=."), code="bad_target")
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound(_("There is no %(kind)s with the number %(pk)s."),
                       kind=KIND_NAMES[kind], pk=pk) from None
    obj = MODELS[kind].objects.filter(pk=pk).first()
    if obj is None:
        raise NotFound(_("There is no %(kind)s with the number %(pk)s."),
                       kind=KIND_NAMES[kind], pk=pk)
    return obj


def kind_of(target) -> str:
    for kind, model in MODELS.items():
        if isinstance(target, model):
            return kind
    raise TypeError(f"not a label target: {target!r}")


def agency_of(target):
    if isinstance(target, Case | Activity):
        return target.agency
    if target.ingest_run_id is not None:
        return target.ingest_run.agency
    if target.activity_id is not None:
        return target.activity.agency
    if target.holder_id is not None:
        return target.holder.agency
    if target.device_id is not None:
        return target.device.unit.agency
    return None


def case_of(target) -> Case | None:
    if isinstance(target, Case):
        return target
    activity = target if isinstance(target, Activity) else target.activity
    return activity.case if activity is not None else None


def approver_for(target):
    """The approver of a label change (and of a state-secret removal) for ``target``:
    ``viewing.label_approver`` of the profile in force — the agency's principal leader, or
    the case's leader in charge (for an activity or recording through its activity's
    case); the principal leader where there is no case."""
    agency = agency_of(target)
    if agency is None:
        raise Refused(_("This item belongs to no agency; nobody can approve its label."),
                      code="no_agency")
    _version, profile = profiles.active(agency)
    if profile.viewing_label_approver == LABEL_APPROVER_IN_CHARGE:
        case = case_of(target)
        if case is not None and case.leader_in_charge_id is not None:
            return case.leader_in_charge
    if agency.principal_leader_id is None:
        raise Refused(_("The agency has no principal leader on record, so nobody can approve "
                        "label changes. Set the principal leader first."),
                      code="no_approver")
    return agency.principal_leader


def can_see(subject: Subject, target) -> bool:
    """Whether ``subject`` may see ``target``'s metadata (authz scope)."""
    if isinstance(target, Recording):
        return authz.can_see_recording(subject, target)
    if isinstance(target, Activity):
        return authz.can_see_activity(subject, target)
    return authz.visible_cases(subject).filter(pk=target.pk).exists()


def recordings_of(target):
    """The recordings a label on ``target`` concerns (for the state-secret hand-off)."""
    if isinstance(target, Recording):
        return Recording.objects.filter(pk=target.pk)
    if isinstance(target, Activity):
        return Recording.objects.filter(activity=target)
    return Recording.objects.filter(activity__case=target)


def _label(value: str) -> Label:
    try:
        return Label(value)
    except ValueError:
        raise WitnessError(_("Unknown label %(label)s: use one of %(labels)s."),
                           code="bad_label", label=value,
                           labels=", ".join(label.value for label in Label)) from None


def _reason(text: str, what=None) -> str:
    text = (text or "").strip()
    if not text:
        raise WitnessError(what or _("A reason is required."), code="reason_required")
    if len(text) > REASON_MAX:
        raise WitnessError(_("The text is too long: at most %(limit)s characters."),
                           code="too_long", limit=REASON_MAX)
    return text


def _person(subject: Subject):
    if subject.person is None:
        raise Denied(_("Your account is not linked to a person of the agency."),
                     code="no_person")
    return subject.person


def _actor(subject: Subject):
    return subject.user if getattr(subject.user, "is_authenticated", False) else subject.person


# --- label changes -----------------------------------------------------------------------

def check_may_request(subject: Subject, target) -> None:
    """Role ``recording.label`` and the target within the subject's metadata scope."""
    authz.require(subject, "recording.label")
    _person(subject)
    if not can_see(subject, target):
        raise Denied(_("This item is outside what you may see."), code="scope")


def pending_for_target(target) -> LabelChange | None:
    return LabelChange.objects.filter(**{kind_of(target): target},
                                      state=ChangeState.PENDING).first()


def _locked_handoff(recording) -> SecretHandoff | None:
    return (SecretHandoff.objects.select_for_update()
            .filter(recording=recording).exclude(state=HandoffState.CANCELLED).first())


def _check_not_handed_off(target, new_label: str) -> None:
    """A recording whose content went (or is going) to offline custody stays 国家秘密."""
    if not isinstance(target, Recording) or target.label != Label.STATE_SECRET \
            or new_label == Label.STATE_SECRET:
        return
    handoff = (SecretHandoff.objects.filter(recording=target)
               .exclude(state__in=[HandoffState.CANCELLED, HandoffState.MARKED]).first())
    if handoff is not None:
        raise Refused(_("The content of this recording has been exported to offline custody "
                        "as a state secret (hand-off %(handoff)s, %(state)s); its label can "
                        "no longer be lowered."), code="handed_off", handoff=handoff.pk,
                      state=handoff.get_state_display())


def request_change(subject: Subject, target, new_label: str, reason: str) -> LabelChange:
    """Ask to change ``target``'s label to ``new_label`` (EVD-4); audited
    (``label.request``). Refused when a change for the target is pending already."""
    check_may_request(subject, target)
    new = _label(new_label)
    reason = _reason(reason, _("Say why the label should change."))
    approver = approver_for(target)
    kind = kind_of(target)
    with transaction.atomic():
        target = type(target).objects.select_for_update().get(pk=target.pk)
        if target.label == new:
            raise Refused(_("The label is %(label)s already."), code="same_label",
                          label=new.label)
        _check_not_handed_off(target, new)
        if pending_for_target(target) is not None:
            raise Refused(_("A label change for this item is waiting for a decision "
                            "already; it must be decided first."), code="change_pending")
        try:
            with transaction.atomic():
                change = LabelChange.objects.create(
                    agency=agency_of(target), old_label=target.label, new_label=new,
                    reason=reason, requested_by=_person(subject), approver=approver,
                    **{kind: target})
        except IntegrityError:  # a concurrent request for the same target won
            raise Refused(_("A label change for this item is waiting for a decision "
                            "already; it must be decided first."),
                          code="change_pending") from None
        audit.append(_actor(subject), "label.request", change, details={
            "target": f"{kind}:{target.pk}", "old_label": change.old_label,
            "new_label": change.new_label, "reason": reason, "approver": approver.pk})
    return change


def check_may_decide(subject: Subject, change: LabelChange) -> None:
    """``label.decide``, and the decider is the approver the profile names now, and not
    the requester."""
    authz.require(subject, "label.decide")
    person = _person(subject)
    if person.pk == change.requested_by_id:
        raise Denied(_("You asked for this label change; someone else must decide it."),
                     code="own_request")
    if approver_for(change.target).pk != person.pk:
        raise Denied(_("Only the approver the profile names (%(approver)s) decides this "
                       "label change."), code="not_approver",
                     approver=approver_for(change.target).name)


def may_decide(subject: Subject, change: LabelChange) -> bool:
    try:
        check_may_decide(subject, change)
    except (Denied, WitnessError):
        return False
    return True


def decide(subject: Subject, change: LabelChange, *, approve: bool, note: str = "") \
        -> LabelChange:
    """Approve or reject a pending label change; a rejection needs a reason. Approval sets
    the target's label (``label.set``, before/after) in the same transaction as the
    decision (``label.approve``); to 国家秘密 it starts the hand-off of every recording
    concerned."""
    note = (note or "").strip()
    if not approve:
        note = _reason(note, _("Say why the label change is rejected."))
    elif len(note) > REASON_MAX:
        _reason(note)
    check_may_decide(subject, change)
    person = _person(subject)
    actor = _actor(subject)
    with transaction.atomic():
        change = LabelChange.objects.select_for_update().get(pk=change.pk)
        if change.state != ChangeState.PENDING:
            raise Refused(_("This label change was decided already (%(state)s)."),
                          code="decided", state=change.get_state_display())
        now = timezone.now()
        change.state = ChangeState.APPROVED if approve else ChangeState.REJECTED
        change.decided_by, change.decided_at, change.note = person, now, note
        if approve:
            target = type(change.target).objects.select_for_update().get(pk=change.target_id)
            if target.label != change.old_label:
                raise Refused(_("The label of this item changed since the request (now "
                                "%(label)s); reject this change and ask again."),
                              code="label_moved", label=target.get_label_display())
            _check_not_handed_off(target, change.new_label)
            _set_label(actor, target, change.new_label, change)
        change.save(update_fields=["state", "decided_by", "decided_at", "note"])
        audit.append(actor, "label.approve" if approve else "label.reject", change, details={
            "target": f"{change.target_kind}:{change.target_id}",
            "old_label": change.old_label, "new_label": change.new_label, "note": note})
        if approve and change.new_label == Label.STATE_SECRET:
            _mark_state_secret(actor, change)
        elif approve and isinstance(change.target, Recording) \
                and change.old_label == Label.STATE_SECRET:
            _cancel_handoff(actor, change)
    return change


def _set_label(actor, target, label: str, change: LabelChange, *, via=None) -> None:
    before = target.label
    if before == label:
        return
    target.label = label
    target.save(update_fields=["label"])
    details = {"before": before, "after": label, "label_change": change.pk}
    if via is not None:
        details["via"] = via
    audit.append(actor, "label.set", target, details=details)
    if label in RESTRICTED and before not in RESTRICTED:
        # EVD-4: requests in approval that touch it get the label approver now
        chain.on_label_change(target, actor=actor)


def _mark_state_secret(actor, change: LabelChange) -> list[SecretHandoff]:
    """Every recording concerned becomes 国家秘密 (content refused at once) and gets a
    hand-off, unless it has one under way already."""
    started = []
    via = f"{change.target_kind}:{change.target_id}"
    for recording in recordings_of(change.target).select_for_update().order_by("pk"):
        if recording.pk != change.recording_id:
            _set_label(actor, recording, Label.STATE_SECRET, change, via=via)
        if _locked_handoff(recording) is not None:
            continue
        handoff = SecretHandoff.objects.create(recording=recording, label_change=change)
        audit.append(actor, "secret.mark", recording, details={
            "handoff": handoff.pk, "label_change": change.pk, "via": via})
        started.append(handoff)
    return started


def _cancel_handoff(actor, change: LabelChange) -> None:
    """The label of a recording marked 国家秘密 was lowered before any export: its
    hand-off ends (``_check_not_handed_off`` refused it later than that)."""
    handoff = _locked_handoff(change.recording)
    if handoff is None or handoff.state != HandoffState.MARKED:
        return
    handoff.state = HandoffState.CANCELLED
    handoff.save(update_fields=["state"])
    audit.append(actor, "secret.cancel", change.recording,
                 details={"handoff": handoff.pk, "label_change": change.pk})


def visible_changes(subject: Subject):
    """The label changes ``subject`` may list: their own requests and those of items in
    their scope (approvers see every change of their agency)."""
    if subject.agency is None or not subject.may("recording.label"):
        return LabelChange.objects.none()
    qs = LabelChange.objects.filter(agency=subject.agency).select_related(
        "recording", "activity", "case", "requested_by", "approver", "decided_by")
    if subject.agency_wide:
        return qs
    scope = Q(recording__in=authz.visible_recordings(subject).values("pk"))
    if subject.may("activity.view"):
        scope |= Q(activity__in=authz.visible_activities(subject).values("pk"))
    scope |= Q(case__in=authz.visible_cases(subject).values("pk"))
    if subject.person is not None:
        scope |= Q(requested_by=subject.person) | Q(approver=subject.person)
    return qs.filter(scope)


def to_decide(subject: Subject) -> list[LabelChange]:
    """Pending changes ``subject`` is the approver of now."""
    if subject.agency is None or subject.person is None or not subject.may("label.decide"):
        return []
    pending = (LabelChange.objects.filter(agency=subject.agency, state=ChangeState.PENDING)
               .exclude(requested_by=subject.person)
               .select_related("recording", "activity__case", "case", "requested_by",
                               "approver").order_by("requested_at", "id"))
    return [c for c in pending if approver_for(c.target).pk == subject.person.pk]


def change_json(change: LabelChange) -> dict:
    return {"id": change.pk, "target": f"{change.target_kind}:{change.target_id}",
            "old_label": change.old_label, "new_label": change.new_label,
            "reason": change.reason, "state": change.state,
            "requested_by": change.requested_by.name, "requested_at": change.requested_at,
            "approver": change.approver.name,
            "decided_by": change.decided_by.name if change.decided_by else None,
            "decided_at": change.decided_at, "note": change.note}


# --- the state-secret hand-off -----------------------------------------------------------

EXPORT_FIELDS = ("medium", "medium_id", "held_at", "held_by")
EXPORT_LIMITS = {"medium": 100, "medium_id": 200, "held_at": 300, "held_by": 200,
                 "reference": 200}


def visible_handoffs(subject: Subject):
    if subject.agency is None or not subject.may("secret.handoff"):
        return SecretHandoff.objects.none()
    return SecretHandoff.objects.filter(
        recording__in=authz.visible_recordings(subject).values("pk")).select_related(
        "recording", "label_change", "export_recorded_by", "removal_approved_by",
        "removed_by")


def handoff_for(subject: Subject, pk) -> SecretHandoff:
    """The hand-off ``pk`` if ``subject`` may see it; NotFound otherwise (also outside the
    subject's scope, so that numbers reveal nothing)."""
    authz.require(subject, "secret.handoff")
    try:
        return visible_handoffs(subject).get(pk=int(pk))
    except (SecretHandoff.DoesNotExist, TypeError, ValueError):
        raise NotFound(_("There is no state-secret hand-off with the number %(pk)s."),
                       pk=pk) from None


def _out_of_order(handoff: SecretHandoff, wanted: str):
    return Refused(
        _("This step cannot be taken now: the hand-off is at “%(state)s”; the "
          "next step is “%(next)s”."), code="out_of_order",
        state=handoff.get_state_display(), next=next_step_text(handoff))


NEXT_STEPS = {
    HandoffState.MARKED: _("a custodian records the offline export"),
    HandoffState.EXPORTED: _("the label approver approves removing the content"),
    HandoffState.REMOVAL_APPROVED: _("a custodian runs the removal"),
    HandoffState.REMOVING: _("a custodian runs the removal again to complete it"),
    HandoffState.REMOVED: _("none: the content is held offline only"),
    HandoffState.CANCELLED: _("none: the label was lowered before the export"),
}


def next_step_text(handoff: SecretHandoff):
    return NEXT_STEPS[HandoffState(handoff.state)]


def check_custodian_step(subject: Subject, handoff: SecretHandoff) -> None:
    """The custodian's steps (recording the export, running the removal) are an export
    of content to offline custody: policy action ``recording.export``."""
    authz.require(subject, "secret.handoff")
    authz.require(subject, "recording.export")
    _person(subject)
    if not authz.can_see_recording(subject, handoff.recording):
        raise Denied(_("This recording is outside what you may see."), code="scope")


def check_approver_step(subject: Subject, handoff: SecretHandoff) -> None:
    authz.require(subject, "secret.handoff")
    authz.require(subject, "label.decide")
    person = _person(subject)
    approver = approver_for(handoff.recording)
    if approver.pk != person.pk:
        raise Denied(_("Only the approver the profile names (%(approver)s) approves removing "
                       "this content."), code="not_approver", approver=approver.name)


def _parse_when(value) -> datetime:
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise WitnessError(_("%(value)s is not a date and time (YYYY-MM-DDTHH:MM)."),
                               code="bad_time", value=value) from None
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when > timezone.now() + timedelta(minutes=5):
        raise WitnessError(_("The export cannot have happened in the future."),
                           code="future_time")
    return when


def record_export(subject: Subject, handoff: SecretHandoff, *, medium: str, medium_id: str,
                  held_at: str, held_by: str, exported_at, reference: str = "") \
        -> SecretHandoff:
    """The custodian records the offline export: the medium and its identifier, where it is
    held, who holds it, when (``secret.export``). The disc is made outside this step."""
    check_custodian_step(subject, handoff)
    values = {"medium": medium, "medium_id": medium_id, "held_at": held_at,
              "held_by": held_by, "reference": reference}
    values = {k: (v or "").strip() for k, v in values.items()}
    missing = [k for k in EXPORT_FIELDS if not values[k]]
    if missing:
        raise WitnessError(_("Record the medium, its identifier, where it is held and who "
                             "holds it (missing: %(fields)s)."), code="export_incomplete",
                           fields=", ".join(missing))
    for key, limit in EXPORT_LIMITS.items():
        if len(values[key]) > limit:
            raise WitnessError(_("%(field)s is too long: at most %(limit)s characters."),
                               code="too_long", field=key, limit=limit)
    when = _parse_when(exported_at)
    with transaction.atomic():
        handoff = SecretHandoff.objects.select_for_update().get(pk=handoff.pk)
        if handoff.state != HandoffState.MARKED:
            raise _out_of_order(handoff, HandoffState.EXPORTED)
        handoff.medium, handoff.medium_id = values["medium"], values["medium_id"]
        handoff.held_at, handoff.held_by = values["held_at"], values["held_by"]
        handoff.export_reference = values["reference"]
        handoff.exported_at = when
        handoff.export_recorded_by, handoff.export_recorded_at = subject.person, timezone.now()
        handoff.state = HandoffState.EXPORTED
        handoff.save()
        audit.append(_actor(subject), "secret.export", handoff.recording, details={
            "handoff": handoff.pk, "medium": handoff.medium, "medium_id": handoff.medium_id,
            "held_at": handoff.held_at, "held_by": handoff.held_by,
            "exported_at": when.isoformat(), "reference": handoff.export_reference})
    return handoff


def approve_removal(subject: Subject, handoff: SecretHandoff, reason: str) -> SecretHandoff:
    """The label approver approves removing the content from this system
    (``secret.approve_removal``); only after the export is recorded."""
    check_approver_step(subject, handoff)
    reason = _reason(reason, _("Say why the content may be removed."))
    with transaction.atomic():
        handoff = SecretHandoff.objects.select_for_update().get(pk=handoff.pk)
        if handoff.state != HandoffState.EXPORTED:
            raise _out_of_order(handoff, HandoffState.REMOVAL_APPROVED)
        handoff.removal_approved_by = subject.person
        handoff.removal_approved_at = timezone.now()
        handoff.removal_reason = reason
        handoff.state = HandoffState.REMOVAL_APPROVED
        handoff.save()
        audit.append(_actor(subject), "secret.approve_removal", handoff.recording, details={
            "handoff": handoff.pk, "reason": reason, "medium_id": handoff.medium_id})
    return handoff


@dataclass
class RemovalResult:
    handoff: SecretHandoff
    objects: list[dict] = field(default_factory=list)
    dry_run: bool = False
    already: bool = False  # removed before; nothing was left to remove

    def as_json(self) -> dict:
        return {"handoff": self.handoff.pk, "recording": self.handoff.recording_id,
                "state": self.handoff.state, "dry_run": self.dry_run,
                "already_removed": self.already, "objects": self.objects}


def _check_shared_original(handoff: SecretHandoff) -> None:
    """The original's bytes may be shared with another recording (the same file from two
    devices): they leave only when every recording holding them is approved for removal."""
    ready = [HandoffState.REMOVAL_APPROVED, HandoffState.REMOVING, HandoffState.REMOVED]
    others = (Recording.objects.filter(blob_id=handoff.recording.blob_id)
              .exclude(pk=handoff.recording_id)
              .exclude(pk__in=SecretHandoff.objects.filter(state__in=ready)
                       .values("recording_id")))
    blocking = sorted(others.values_list("pk", flat=True))
    if blocking:
        raise Refused(_("The same stored bytes are also the original of recording(s) "
                        "%(ids)s, whose removal is not approved; they must be handed off "
                        "as well before the content can leave."), code="shared_original",
                      ids=", ".join(str(pk) for pk in blocking))


def remove(subject: Subject, handoff: SecretHandoff, *, dry_run: bool = False) \
        -> RemovalResult:
    """A custodian removes the content of a recording whose removal was approved: the
    original in the primary store, its replica, its derivatives (playback copy, poster,
    waveform) and any damaged copy a fixity repair kept aside. The Blob, Replica and
    Recording rows stay (the metadata); the hand-off records what was removed.

    Crash-safe and idempotent: the hand-off is ``removing`` (committed, audited
    ``secret.remove_start``) before the first object goes; running it again from
    ``removing`` completes the removal, and from ``removed`` it removes whatever came
    back (nothing, normally) and writes no entry if there was nothing.
    """
    check_custodian_step(subject, handoff)
    handoff = SecretHandoff.objects.select_related("recording__blob").get(pk=handoff.pk)
    if handoff.state not in (HandoffState.REMOVAL_APPROVED, HandoffState.REMOVING,
                             HandoffState.REMOVED):
        raise _out_of_order(handoff, HandoffState.REMOVED)
    if handoff.recording.label != Label.STATE_SECRET:  # not reachable through the services
        raise Refused(_("This recording is not marked as a state secret; its content is not "
                        "removed."), code="not_state_secret")
    _check_shared_original(handoff)
    plan = removal.plan(handoff.recording)
    if dry_run:
        return RemovalResult(handoff=handoff, objects=[o.as_json() for o in plan],
                             dry_run=True, already=handoff.state == HandoffState.REMOVED)
    actor = _actor(subject)
    if handoff.state == HandoffState.REMOVAL_APPROVED:
        with transaction.atomic():
            locked = SecretHandoff.objects.select_for_update().get(pk=handoff.pk)
            if locked.state == HandoffState.REMOVAL_APPROVED:
                locked.state = HandoffState.REMOVING
                locked.removal_started_at = timezone.now()
                locked.removed_by = subject.person
                locked.save(update_fields=["state", "removal_started_at", "removed_by"])
                _mark_removed(locked, {locked.recording.blob.sha256})
                audit.append(actor, "secret.remove_start", locked.recording, details={
                    "handoff": locked.pk, "objects": [o.as_json() for o in plan]})
    done = [removal.remove_object(o) for o in plan]
    removed_now = [o for o in done if o["result"] == removal.REMOVED]
    with transaction.atomic():
        locked = SecretHandoff.objects.select_for_update().get(pk=handoff.pk)
        if locked.state == HandoffState.REMOVED and not removed_now:
            return RemovalResult(handoff=locked, objects=done, already=True)
        again = locked.state == HandoffState.REMOVED
        locked.state = HandoffState.REMOVED
        locked.removed_at = timezone.now()
        locked.removed_by = subject.person
        locked.removed_objects = _merge(locked.removed_objects, done)
        locked.save(update_fields=["state", "removed_at", "removed_by", "removed_objects"])
        _mark_removed(locked, {locked.recording.blob.sha256}
                      | {o["sha256"] for o in done if o["result"] == removal.REMOVED})
        audit.append(actor, "secret.remove", locked.recording, details={
            "handoff": locked.pk, "objects": done, "again": again,
            "sha256": locked.recording.blob.sha256, "medium_id": locked.medium_id,
            "held_at": locked.held_at})
    return RemovalResult(handoff=locked, objects=done)


def _merge(before: list[dict], now: list[dict]) -> list[dict]:
    """The record of removed objects: the first removal of each object is kept, a later
    run adds objects it found again."""
    seen = {(o["copy"], o["store"], o["key"]): o for o in before}
    for o in now:
        key = (o["copy"], o["store"], o["key"])
        if key not in seen or o["result"] == removal.REMOVED:
            seen[key] = o
    return list(seen.values())


def _mark_removed(handoff: SecretHandoff, sha256s: set[str]) -> None:
    """The blobs' content is gone on approval: fixity and replication pass them by, and
    the same bytes are never stored again (storage.Blob.removed_at)."""
    from witness.storage.models import Blob

    Blob.objects.filter(sha256__in=sha256s, removed_at__isnull=True).update(
        removed_at=timezone.now(),
        removed_because=f"国家秘密移交 #{handoff.pk} / state-secret hand-off #{handoff.pk}")


def removed_blob_ids() -> set[int]:
    """The blobs whose stored objects a removal took away (originals and derivatives; not
    those kept as shared)."""
    from witness.storage.models import Blob

    return set(Blob.objects.filter(removed_at__isnull=False).values_list("pk", flat=True))



def handoff_json(handoff: SecretHandoff) -> dict:
    rec = handoff.recording
    return {
        "id": handoff.pk, "recording": rec.pk, "source_path": rec.source_path,
        "sha256": rec.blob.sha256, "size": rec.blob.size, "digests": rec.blob.digests,
        "label": rec.label, "state": handoff.state, "step": handoff.step,
        "next_step": str(next_step_text(handoff)), "marked_at": handoff.marked_at,
        "label_change": handoff.label_change_id,
        "export": {"medium": handoff.medium, "medium_id": handoff.medium_id,
                   "held_at": handoff.held_at, "held_by": handoff.held_by,
                   "exported_at": handoff.exported_at,
                   "reference": handoff.export_reference,
                   "recorded_by": (handoff.export_recorded_by.name
                                   if handoff.export_recorded_by else None)},
        "removal": {"approved_by": (handoff.removal_approved_by.name
                                    if handoff.removal_approved_by else None),
                    "approved_at": handoff.removal_approved_at,
                    "reason": handoff.removal_reason,
                    "started_at": handoff.removal_started_at,
                    "removed_by": handoff.removed_by.name if handoff.removed_by else None,
                    "removed_at": handoff.removed_at,
                    "objects": handoff.removed_objects},
    }


__all__ = ["ORDER", "approve_removal", "decide", "record_export", "remove",
           "request_change"]
