"""Work records (工作记录) for activities not recorded or whose recording stopped (ACT-4:
A12, B7).

An officer of the activity files one, with the reason (the lists of A12 and B7) and its
basis. Where the profile in force at the activity's arrival asks for a review
(``recording.work_record_review``), the reviewer is

* ``principal_leader`` — the agency's principal leader (主要负责人, ``Agency.principal_leader``,
  as the viewing chain resolves it), holding the bureau leader role;
* ``unit_head`` — a head of the activity's unit;
* ``none`` — nobody: the record counts once filed (B7 states no review).

An exemption counts for ``ACT-1.not_recorded`` only when filed and, where the profile asks
for it, reviewed (:func:`valid_exemptions`). Both steps are audited in their transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.activities.models import (
    REASONS_FOR,
    Activity,
    WorkRecord,
    WorkRecordKind,
    WorkRecordReason,
)
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.org import services as org
from witness.org.models import Person, Role
from witness.profiles import services as profiles

PRINCIPAL_LEADER, UNIT_HEAD, NO_REVIEW = "principal_leader", "unit_head", "none"


def review_required(profile) -> bool:
    return profile.work_record_review != NO_REVIEW


def valid_exemptions(profile) -> QuerySet:
    """The exemption work records that count under ``profile`` (ACT-1): filed, and reviewed
    where the profile asks for a review."""
    qs = WorkRecord.objects.filter(kind=WorkRecordKind.EXEMPTION)
    if review_required(profile):
        qs = qs.filter(reviewed_at__isnull=False)
    return qs


def _profile_for(activity: Activity):
    _version, profile = profiles.in_force(activity.agency, activity.arrived_at)
    return profile


def get_work_record(agency, pk) -> WorkRecord:
    try:
        return (WorkRecord.objects.select_related("activity__unit", "activity__agency",
                                                  "written_by", "reviewed_by")
                .get(activity__agency=agency, pk=int(pk)))
    except (WorkRecord.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No work record with number %(id)s."), id=pk) from None


def record_dict(record: WorkRecord) -> dict:
    return {
        "id": record.pk, "activity": record.activity_id, "kind": record.kind,
        "kind_name": str(record.get_kind_display()), "reason": record.reason,
        "reason_name": str(record.get_reason_display()), "basis": record.basis,
        "written_by": str(record.written_by), "written_at": record.written_at.isoformat(),
        "reviewed_by": str(record.reviewed_by) if record.reviewed_by_id else None,
        "reviewed_at": record.reviewed_at.isoformat() if record.reviewed_at else None,
        "review_note": record.review_note,
    }


def _check_person(person: Person | None, activity: Activity) -> Person:
    if person is None:
        raise Refused(_("Only a member of staff can do this; this account has no person "
                        "record."), code="no_person")
    if person.agency_id != activity.agency_id or not person.active:
        raise Refused(_("%(name)s is not an active member of staff of %(agency)s."),
                      code="person_agency", name=person.name, agency=activity.agency.name)
    return person


def file_work_record(activity: Activity, *, kind: str, reason: str, basis: str,
                     written_by: Person | None, actor=None, at=None) -> WorkRecord:
    """File a work record for ``activity``: written by one of its officers (A12: 执法人员;
    B7: 使用人员), with a reason the kind allows and the basis (ACT-4)."""
    written_by = _check_person(written_by, activity)
    if kind not in WorkRecordKind.values:
        raise WitnessError(_("Unknown kind of work record %(value)s; one of: %(choices)s"),
                           code="bad_kind", value=kind, choices=", ".join(WorkRecordKind.values))
    if reason not in WorkRecordReason.values:
        raise WitnessError(_("Unknown reason %(value)s; one of: %(choices)s"),
                           code="bad_reason", value=reason,
                           choices=", ".join(WorkRecordReason.values))
    allowed = REASONS_FOR[WorkRecordKind(kind)]
    if reason not in allowed:
        raise WitnessError(_("A work record of kind %(kind)s cannot give the reason %(reason)s; "
                             "it may give: %(choices)s"), code="reason_kind",
                           kind=WorkRecordKind(kind).label, reason=WorkRecordReason(reason).label,
                           choices=", ".join(allowed))
    basis = (basis or "").strip()
    if not basis:
        raise WitnessError(_("A work record needs the reason and basis written out."),
                           code="basis_required")
    if not activity.officers.filter(person=written_by).exists():
        raise Refused(_("%(name)s was not an officer of activity %(id)s; only its officers "
                        "file its work records."), code="not_officer", name=written_by.name,
                      id=activity.pk)
    at = at or timezone.now()
    with transaction.atomic():
        record = WorkRecord.objects.create(activity=activity, kind=kind, reason=reason,
                                           basis=basis, written_by=written_by, written_at=at)
        audit.append(actor, "activity.work_record.file", record,
                     details={"activity": activity.pk, "kind": kind, "reason": reason,
                              "written_by": str(written_by),
                              "review": _profile_for(activity).work_record_review})
    return record


def reviewer_q(activity: Activity, profile) -> Q | None:
    """Who may review a work record of ``activity`` under ``profile`` now, as a Q on Person;
    None when the profile asks for no review."""
    if profile.work_record_review == PRINCIPAL_LEADER:
        principal = activity.agency.principal_leader_id
        leaders = org.people_with_role(Role.LEADER).filter(agency=activity.agency_id)
        return Q(pk=principal) & Q(pk__in=leaders.values("pk")) if principal else Q(pk__in=[])
    if profile.work_record_review == UNIT_HEAD:
        heads = org.people_with_role(Role.UNIT_HEAD, unit=activity.unit).filter(
            agency=activity.agency_id)
        return Q(pk__in=heads.values("pk"))
    return None


def review_work_record(record: WorkRecord, *, reviewed_by: Person | None, note: str = "",
                       actor=None) -> WorkRecord:
    """Review (审核) a work record: by the principal leader or the unit head, as the profile
    in force at the activity's arrival says (ACT-4, A12)."""
    activity = record.activity
    reviewed_by = _check_person(reviewed_by, activity)
    profile = _profile_for(activity)
    who = reviewer_q(activity, profile)
    if who is None:
        raise Refused(_("The profile in force for this activity asks for no review of work "
                        "records."), code="no_review")
    with transaction.atomic():
        record = WorkRecord.objects.select_for_update().get(pk=record.pk)
        if record.reviewed_at is not None:
            raise Refused(_("Work record %(id)s was already reviewed by %(name)s."),
                          code="already_reviewed", id=record.pk, name=str(record.reviewed_by))
        if record.written_by_id == reviewed_by.pk:
            raise Refused(_("%(name)s wrote work record %(id)s and cannot review it."),
                          code="own_record", name=reviewed_by.name, id=record.pk)
        if not Person.objects.filter(who, pk=reviewed_by.pk).exists():
            role = (_("the principal leader") if profile.work_record_review == PRINCIPAL_LEADER
                    else _("a head of the activity's unit"))
            raise Refused(_("Only %(role)s reviews the work records of this activity; "
                            "%(name)s is not."), code="not_reviewer", role=role,
                          name=reviewed_by.name)
        record.reviewed_by, record.reviewed_at = reviewed_by, timezone.now()
        record.review_note = (note or "").strip()
        record.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
        audit.append(actor, "activity.work_record.review", record,
                     details={"activity": activity.pk, "reviewed_by": str(reviewed_by),
                              "role": profile.work_record_review, "note": record.review_note})
    return record
