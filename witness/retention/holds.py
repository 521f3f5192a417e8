"""Preservation holds (RET-2, A16) and complaints or petitions (投诉/信访) that propose one.

A hold is proposed by staff (``hold.propose``), approved or rejected and later released by a
leader or the legal and supervision role (``hold.decide``); every step is audited in the
transaction of the change. A proposed hold protects already (a purge re-checks holds at
approval and at execution). Registering a complaint against an activity proposes a hold
on that activity with reason A16(1).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.access.authz import Denied, Subject
from witness.activities.models import Activity, Case
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.recordings.models import Recording
from witness.retention.models import Complaint, Hold, HoldReason, HoldState

KINDS = ("recording", "activity", "case")


def actor_of(subject: Subject):
    return subject.user if getattr(subject.user, "is_authenticated", False) else subject.person


def target_for(subject: Subject, kind: str, pk) -> Recording | Activity | Case:
    """The recording, activity or case numbered ``pk`` if ``subject`` may see it; else
    NotFound (outside the scope answers as if it did not exist)."""
    model = {"recording": Recording, "activity": Activity, "case": Case}.get(kind)
    if model is None:
        raise NotFound(_("Unknown kind of object: %(kind)s"), kind=kind)
    try:
        obj = model.objects.get(pk=int(pk))
    except (ValueError, TypeError, model.DoesNotExist):
        raise NotFound(_("There is no %(kind)s with the number %(pk)s."), kind=kind,
                       pk=pk) from None
    visible = {"recording": authz.can_see_recording, "activity": authz.can_see_activity,
               "case": lambda s, c: authz.visible_cases(s).filter(pk=c.pk).exists()}[kind]
    if not visible(subject, obj):
        raise NotFound(_("There is no %(kind)s with the number %(pk)s."), kind=kind, pk=pk)
    return obj


def _agency_of(target):
    if isinstance(target, Recording):
        run = target.ingest_run
        return run.agency if run is not None else target.device.unit.agency
    return target.agency


def _need_person(subject: Subject):
    if subject.person is None:
        raise Denied(_("Only a person registered in the agency can do this."), code="no_person")
    return subject.person


def holds_q(subject: Subject) -> Q:
    """The holds whose target ``subject`` may see (EVD-2, A14): a recording in
    ``authz.recordings_q``, an activity in ``authz.activities_q``, a case in
    ``authz.visible_cases`` — an officer sees the holds on his own activities and
    recordings, not the agency's (the hold's note and the complaint name the people)."""
    recordings = Recording.objects.filter(authz.recordings_q(subject)).values("pk")
    activities = Activity.objects.filter(authz.activities_q(subject)).values("pk")
    cases = authz.visible_cases(subject).values("pk")
    return (Q(recording__isnull=False, recording_id__in=recordings)
            | Q(activity__isnull=False, activity_id__in=activities)
            | Q(case__isnull=False, case_id__in=cases))


def visible_holds(subject: Subject):
    if subject.agency is None or not subject.may("hold.view"):
        return Hold.objects.none()
    return (Hold.objects.filter(holds_q(subject), agency=subject.agency)
            .select_related("recording", "activity", "case", "proposed_by", "decided_by",
                            "released_by", "complaint"))


def hold_for(subject: Subject, pk) -> Hold:
    hold = visible_holds(subject).filter(pk=pk).first()
    if hold is None:
        raise NotFound(_("There is no preservation hold with the number %(pk)s."), pk=pk)
    return hold


def _lock_recordings(target) -> None:
    """Lock the rows of the recordings a hold on ``target`` keeps (RET-1): a purge claims
    each item under the same lock (witness.retention.execution), so a hold either commits
    first and saves the recording, or waits until the claim has committed."""
    which = {Recording: Q(pk=target.pk), Activity: Q(activity_id=target.pk),
             Case: Q(activity__case_id=target.pk)}[type(target)]
    list(Recording.objects.select_for_update(of=("self",)).filter(which).order_by("pk")
         .values_list("pk", flat=True))


def propose(subject: Subject, target, reason: str, note: str = "", *,
            complaint: Complaint | None = None) -> Hold:
    authz.require(subject, "hold.propose")
    person = _need_person(subject)
    if reason not in HoldReason.values:
        raise WitnessError(_("A hold's reason is one of A16's: %(choices)s"),
                           code="bad_reason", choices=", ".join(HoldReason.values))
    kind = target._meta.model_name
    with transaction.atomic():
        _lock_recordings(target)
        hold = Hold.objects.create(agency=_agency_of(target), reason=reason, note=note,
                                   complaint=complaint, proposed_by=person,
                                   **{kind: target})
        audit.append(actor_of(subject), "hold.propose", hold, details={
            "target": kind, "target_id": target.pk, "reason": reason,
            "complaint": complaint.pk if complaint else None})
    return hold


def decide(subject: Subject, hold: Hold, *, approve: bool, note: str = "") -> Hold:
    authz.require(subject, "hold.decide")
    person = _need_person(subject)
    if not approve and not note.strip():
        raise WitnessError(_("Give the reason for rejecting."), code="reason_required")
    with transaction.atomic():
        locked = Hold.objects.select_for_update().get(pk=hold.pk)
        if locked.state != HoldState.PROPOSED:
            raise Refused(_("This hold is %(state)s; only a proposed hold is decided."),
                          code="out_of_order", state=locked.get_state_display())
        if approve and locked.proposed_by_id == person.pk:
            raise Refused(_("Whoever proposed a preservation hold does not approve it; "
                            "another leader or the legal and supervision role does."),
                          code="same_person")
        locked.state = HoldState.ACTIVE if approve else HoldState.REJECTED
        locked.decided_by, locked.decided_at = person, timezone.now()
        locked.decision_note = note
        locked.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        audit.append(actor_of(subject), "hold.approve" if approve else "hold.reject", locked,
                     details={"note": note})
    return locked


def release(subject: Subject, hold: Hold, note: str) -> Hold:
    authz.require(subject, "hold.decide")
    person = _need_person(subject)
    if not note.strip():
        raise WitnessError(_("Give the reason for releasing the hold."),
                           code="reason_required")
    with transaction.atomic():
        locked = Hold.objects.select_for_update().get(pk=hold.pk)
        if locked.state != HoldState.ACTIVE:
            raise Refused(_("This hold is %(state)s; only a hold in force is released."),
                          code="out_of_order", state=locked.get_state_display())
        if person.pk in (locked.proposed_by_id, locked.decided_by_id):
            raise Refused(_("Whoever proposed or approved a preservation hold does not "
                            "release it; a second person does (records become purgeable "
                            "again)."), code="same_person")
        locked.state = HoldState.RELEASED
        locked.released_by, locked.released_at = person, timezone.now()
        locked.decision_note = (locked.decision_note + "\n" + note).strip()
        locked.save(update_fields=["state", "released_by", "released_at", "decision_note"])
        audit.append(actor_of(subject), "hold.release", locked, details={"note": note})
    return locked


def register_complaint(subject: Subject, activity: Activity, *, kind: str, complainant: str,
                       received_at, summary: str) -> tuple[Complaint, Hold]:
    """Register a complaint or petition against ``activity``; proposes a hold (A16(1))."""
    authz.require(subject, "complaint.register")
    person = _need_person(subject)
    if not complainant.strip() or not summary.strip():
        raise WitnessError(_("Name the complainant and summarise the complaint."),
                           code="incomplete")
    with transaction.atomic():
        _lock_recordings(activity)
        complaint = Complaint.objects.create(
            agency=activity.agency, activity=activity, kind=kind, complainant=complainant,
            received_at=received_at, summary=summary, registered_by=person)
        audit.append(actor_of(subject), "complaint.register", complaint, details={
            "activity": activity.pk, "kind": kind, "received_at": received_at.isoformat()})
        hold = Hold.objects.create(
            agency=activity.agency, activity=activity, reason=HoldReason.DISPUTE,
            note=f"{complaint.get_kind_display()} #{complaint.pk}: {summary[:500]}",
            complaint=complaint, proposed_by=person)
        audit.append(actor_of(subject), "hold.propose", hold, details={
            "target": "activity", "target_id": activity.pk, "reason": HoldReason.DISPUTE,
            "complaint": complaint.pk, "automatic": True})
    return complaint, hold


def visible_complaints(subject: Subject):
    if subject.agency is None or not subject.may("hold.view"):
        return Complaint.objects.none()
    return (Complaint.objects
            .filter(authz.activities_q(subject, prefix="activity__"), agency=subject.agency)
            .select_related("activity", "registered_by"))


def hold_json(hold: Hold) -> dict:
    target = hold.target
    return {"id": hold.pk, "target": target._meta.model_name, "target_id": target.pk,
            "target_name": str(target), "reason": hold.reason,
            "reason_text": str(hold.get_reason_display()), "note": hold.note,
            "state": hold.state, "complaint": hold.complaint_id,
            "proposed_by": hold.proposed_by.name, "proposed_at": hold.proposed_at,
            "decided_by": hold.decided_by.name if hold.decided_by else None,
            "decided_at": hold.decided_at, "released_at": hold.released_at}


def complaint_json(complaint: Complaint) -> dict:
    return {"id": complaint.pk, "activity": complaint.activity_id, "kind": complaint.kind,
            "complainant": complaint.complainant, "received_at": complaint.received_at,
            "summary": complaint.summary, "registered_by": complaint.registered_by.name,
            "holds": list(complaint.holds.values_list("pk", flat=True))}
