"""Cases and enforcement activities (ACT-1, ACT-2, ING-2 flags, RET-1 retention class).

Every write is audited in the same transaction. An activity's type must be one of the
activity types of the profile version in force when the activity began (ACT-1), so an
activity is always judged under the rules of its own time. Fewer officers than the
profile's ``min_officers`` is not refused: it is a compliance finding later (ACT-2, B12),
and ``create_activity``/``update_activity`` attach a warning to the returned activity.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, prefetch_related_objects
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from witness.activities.models import (
    Activity,
    ActivityOfficer,
    Case,
    CaseStatus,
    EvidenceItem,
    RetentionClass,
)
from witness.audit import services as audit
from witness.core.errors import NotFound, Text, WitnessError
from witness.core.times import not_in_future
from witness.org.models import Agency, Person, Role, Unit
from witness.org.services import roles_at
from witness.profiles import services as profiles
from witness.profiles.schema import ActivityType

TEXT_FIELDS = ("place", "party", "scene", "party_conduct", "violations_found")
FLAG_FIELDS = ("off_site", "remote", "continuous")
UPDATABLE = frozenset({"unit", "activity_type", "place", "arrived_at", "departed_at", "officers",
                       "recorder", "case", "evidence_items", "returned_to_unit_at",
                       *TEXT_FIELDS, *FLAG_FIELDS})
# A device clock or a form a few minutes fast is tolerated; a time beyond this is refused.
MOMENTS = {
    "arrived_at": _("The arrival"),
    "departed_at": _("The departure"),
    "returned_to_unit_at": _("The return to the unit"),
    "opened_at": _("The opening of the case"),
    "closed_at": _("The closing of the case"),
}
# What activity_dict reads besides the row itself: prefetch these for a list of activities.
DETAILS = (Prefetch("officers", queryset=ActivityOfficer.objects.select_related("person")),
           "evidence_items")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _local(value: datetime | None) -> str | None:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else None


def _not_in_future(name: str, value: datetime | None) -> None:
    if value is not None:
        not_in_future(value, MOMENTS[name])


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _check_length(model, field: str, value: str) -> None:
    limit = model._meta.get_field(field).max_length
    if limit and len(value) > limit:
        raise WitnessError(_("%(field)s is too long: at most %(limit)s characters."),
                           code="too_long", field=model._meta.get_field(field).verbose_name,
                           limit=limit)


# -- cases ---------------------------------------------------------------------------------


def get_case(agency: Agency, number: str) -> Case:
    try:
        return (Case.objects.select_related("leader_in_charge")
                .get(agency=agency, number=number.strip()))
    except Case.DoesNotExist:
        raise NotFound(_("No case with number %(number)s."), number=number) from None


def _case_snapshot(case: Case) -> dict:
    return {"number": case.number, "name": case.name,
            "leader_in_charge": str(case.leader_in_charge),
            "retention_class": case.retention_class, "status": case.status,
            "opened_at": case.opened_at.isoformat(),
            "closed_at": case.closed_at.isoformat() if case.closed_at else None}


def create_case(agency, *, number: str, name: str, leader_in_charge: Person,
                retention_class: str = "30y", opened_at=None, actor=None) -> Case:
    """Open a case file. Its retention class (RET-1, B21) says how long the case file, and
    the recordings used as its evidence, are kept."""
    number, name = (number or "").strip(), (name or "").strip()
    if not number:
        raise WitnessError(_("A case needs a case number."), code="number_required")
    if not name:
        raise WitnessError(_("A case needs a name."), code="name_required")
    _check_length(Case, "number", number)
    _check_length(Case, "name", name)
    if retention_class not in RetentionClass.values:
        raise WitnessError(_("Unknown retention class %(value)s; one of: %(choices)s"),
                           code="bad_retention_class", value=retention_class,
                           choices=", ".join(RetentionClass.values))
    opened_at = _aware(opened_at) or timezone.now()
    _not_in_future("opened_at", opened_at)
    leader = leader_in_charge
    if leader.agency_id != agency.pk or not leader.active:
        raise WitnessError(_("%(name)s is not an active member of staff of %(agency)s."),
                           code="person_agency", name=leader.name, agency=agency.name)
    if Role.LEADER not in roles_at(leader, opened_at):
        raise WitnessError(
            _("%(name)s does not hold the bureau leader role on %(at)s and cannot be the "
              "leader in charge of a case."), code="not_leader", name=leader.name,
            at=_local(opened_at))
    duplicate = WitnessError(_("A case with number %(number)s already exists."),
                             code="duplicate_case", number=number)
    if Case.objects.filter(number=number).exists():
        raise duplicate
    try:
        with transaction.atomic():
            case = Case.objects.create(agency=agency, number=number, name=name,
                                       leader_in_charge=leader, retention_class=retention_class,
                                       opened_at=opened_at)
            audit.append(actor, "case.create", case, details={"after": _case_snapshot(case)})
    except IntegrityError:
        raise duplicate from None
    return case


@transaction.atomic
def close_case(case, *, at=None, actor=None) -> Case:
    at = _aware(at) or timezone.now()
    _not_in_future("closed_at", at)
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.status != CaseStatus.OPEN:
        raise WitnessError(_("Case %(number)s is %(status)s, not open."), code="case_not_open",
                           number=case.number, status=CaseStatus(case.status).label)
    if at < case.opened_at:
        raise WitnessError(_("A case cannot be closed before it was opened (%(opened)s)."),
                           code="close_before_open", opened=_local(case.opened_at))
    before = _case_snapshot(case)
    case.status, case.closed_at = CaseStatus.CLOSED, at
    case.save(update_fields=["status", "closed_at"])
    after = _case_snapshot(case)
    audit.append(actor, "case.close", case,
                 details={"before": {k: v for k, v in before.items() if after[k] != v},
                          "after": {k: v for k, v in after.items() if before[k] != v}})
    return case


# -- activities ----------------------------------------------------------------------------


def activity_types_for(agency, at) -> list[ActivityType]:
    """The activity types (事项清单, ACT-1) of the profile version in force at ``at``."""
    _version, profile = profiles.in_force(agency, _aware(at))
    return list(profile.activity_types)


def get_activity(agency: Agency, pk) -> Activity:
    try:
        return Activity.objects.select_related("unit", "case").get(agency=agency, pk=int(pk))
    except (Activity.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("No enforcement activity with number %(id)s."), id=pk) from None


def _officer_rows(activity: Activity) -> list[ActivityOfficer]:
    """The activity's officer rows, recorder first, from the prefetch (DETAILS) if any."""
    if "officers" in getattr(activity, "_prefetched_objects_cache", {}):
        return list(activity.officers.all())
    return list(activity.officers.select_related("person"))


def officers_of(activity: Activity) -> list[Person]:
    return [row.person for row in _officer_rows(activity)]


def recorder_of(activity: Activity) -> Person | None:
    return next((row.person for row in _officer_rows(activity) if row.is_recorder), None)


def evidence_of(activity: Activity) -> list[str]:
    return [item.description for item in activity.evidence_items.all()]


def _state(activity: Activity) -> dict:
    state = {name: getattr(activity, name) for name in UPDATABLE
             if name not in ("officers", "recorder", "evidence_items")}
    state["officers"] = officers_of(activity)
    state["recorder"] = recorder_of(activity)
    state["evidence_items"] = evidence_of(activity)
    return state


def _snapshot(state: dict) -> dict:
    """JSON values for the audit log."""
    out = {}
    for name, value in state.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Unit):
            value = value.code
        elif isinstance(value, Case):
            value = value.number
        elif isinstance(value, Person):
            value = str(value)
        elif name == "officers":
            value = [str(p) for p in value]
        elif name == "evidence_items":
            value = list(value)
        out[name] = value
    return out


def _unique_people(people) -> list[Person]:
    seen, out = set(), []
    for person in people:
        if person.pk not in seen:
            seen.add(person.pk)
            out.append(person)
    return out


def _clean(state: dict) -> dict:
    state["activity_type"] = (state["activity_type"] or "").strip()
    for name in TEXT_FIELDS:
        state[name] = (state[name] or "").strip()
        _check_length(Activity, name, state[name])
    evidence = [str(text).strip() for text in state["evidence_items"] or ()]
    state["evidence_items"] = [text for text in evidence if text]
    for text in state["evidence_items"]:
        _check_length(EvidenceItem, "description", text)
    for name in FLAG_FIELDS:
        state[name] = bool(state[name])
    for name in ("arrived_at", "departed_at", "returned_to_unit_at"):
        state[name] = _aware(state[name])
    state["officers"] = _unique_people(state["officers"] or ())
    return state


def _validate(agency: Agency, state: dict, changed: set[str]) -> list[Text]:
    """Raise WitnessError for a wrong activity; return warnings for a compliance gap."""
    if not state["place"]:
        raise WitnessError(_("An activity needs a place."), code="place_required")
    unit = state["unit"]
    if unit is None or unit.agency_id != agency.pk:
        raise WitnessError(_("Unit %(unit)s does not belong to agency %(agency)s."),
                           code="unit_agency", unit=getattr(unit, "name", "-"),
                           agency=agency.name)
    arrived, departed = state["arrived_at"], state["departed_at"]
    if arrived is None or departed is None:
        raise WitnessError(_("An activity needs its arrival and departure times."),
                           code="times_required")
    for name in ("arrived_at", "departed_at", "returned_to_unit_at"):
        if name in changed:
            _not_in_future(name, state[name])
    if departed < arrived:
        raise WitnessError(_("The departure (%(departed)s) cannot be before the arrival "
                             "(%(arrived)s)."), code="departure_before_arrival",
                           departed=_local(departed), arrived=_local(arrived))
    version, profile = profiles.in_force(agency, arrived)
    if {"activity_type", "arrived_at"} & changed and not profile.activity_type(
            state["activity_type"]):
        raise WitnessError(
            _("%(type)s is not an activity type of profile %(profile)s, in force on "
              "%(at)s. Its types are: %(codes)s"), code="bad_activity_type",
            type=state["activity_type"], profile=str(version), at=_local(arrived),
            codes=", ".join(t.code for t in profile.activity_types))
    officers, recorder = state["officers"], state["recorder"]
    if not officers:
        raise WitnessError(_("An activity needs at least one officer."),
                           code="officers_required")
    if "officers" in changed:
        for person in officers:
            if person.agency_id != agency.pk or not person.active:
                raise WitnessError(_("%(name)s is not an active member of staff of "
                                     "%(agency)s."), code="person_agency", name=person.name,
                                   agency=agency.name)
    if recorder is None or recorder.pk not in {p.pk for p in officers}:
        raise WitnessError(_("The designated recorder must be one of the activity's officers."),
                           code="recorder_not_officer")
    case = state["case"]
    if case is not None and case.agency_id != agency.pk:
        raise WitnessError(_("Case %(number)s does not belong to agency %(agency)s."),
                           code="case_agency", number=case.number, agency=agency.name)
    returned = state["returned_to_unit_at"]
    if returned is not None:
        if not any(state[name] for name in FLAG_FIELDS):
            raise WitnessError(
                _("The time of return to the unit only applies to off-site, remote or "
                  "continuous duty; mark one of them or leave the time out."),
                code="returned_without_flag")
        if returned < departed:
            raise WitnessError(_("The return to the unit (%(returned)s) cannot be before the "
                                 "departure (%(departed)s)."), code="return_before_departure",
                               returned=_local(returned), departed=_local(departed))
    warnings = []
    if len(officers) < profile.min_officers:
        warnings.append(Text(
            _("Profile %(profile)s asks for at least %(n)s officers (%(article)s); this "
              "activity has %(count)s. It will be reported as a finding."),
            profile=str(version), n=profile.min_officers, count=len(officers),
            article=profile.sources.get("recording.min_officers", "")))
    return warnings


def _english(texts: list[Text]) -> list[str]:
    with translation.override("en"):
        return [str(text) for text in texts]


def _save_people(activity: Activity, officers: list[Person], recorder: Person) -> None:
    rows = {row.person_id: row for row in activity.officers.all()}
    wanted = {p.pk for p in officers}
    activity.officers.exclude(person_id__in=wanted).delete()
    activity.officers.filter(is_recorder=True).exclude(person_id=recorder.pk).update(
        is_recorder=False)
    for person in officers:
        row = rows.get(person.pk)
        if row is None:
            ActivityOfficer.objects.create(activity=activity, person=person,
                                           is_recorder=person.pk == recorder.pk)
        elif person.pk == recorder.pk and not row.is_recorder:
            ActivityOfficer.objects.filter(pk=row.pk).update(is_recorder=True)


def _save_evidence(activity: Activity, items: list[str]) -> None:
    existing = list(activity.evidence_items.all())
    keep = list(items)
    for row in existing:
        if row.description in keep:
            keep.remove(row.description)
        else:
            row.delete()
    for text in keep:
        EvidenceItem.objects.create(activity=activity, description=text)


def create_activity(agency, *, unit, activity_type: str, place: str, arrived_at, departed_at,
                    officers: list[Person], recorder: Person, case=None, party="", scene="",
                    party_conduct="", violations_found="", evidence_items: list[str] = (),
                    off_site=False, remote=False, continuous=False,
                    returned_to_unit_at=None, actor=None) -> Activity:
    """Record an enforcement activity (ACT-2). The returned activity carries
    ``warnings``: compliance gaps that do not stop it (fewer officers than the profile asks)."""
    state = _clean({
        "unit": unit, "activity_type": activity_type, "place": place,
        "arrived_at": arrived_at, "departed_at": departed_at, "officers": list(officers),
        "recorder": recorder, "case": case, "party": party, "scene": scene,
        "party_conduct": party_conduct, "violations_found": violations_found,
        "evidence_items": evidence_items, "off_site": off_site, "remote": remote,
        "continuous": continuous, "returned_to_unit_at": returned_to_unit_at,
    })
    warnings = _validate(agency, state, set(UPDATABLE))
    with transaction.atomic():
        activity = Activity.objects.create(
            agency=agency, created_by=_user(actor),
            **{k: v for k, v in state.items()
               if k not in ("officers", "recorder", "evidence_items")})
        _save_people(activity, state["officers"], state["recorder"])
        _save_evidence(activity, state["evidence_items"])
        audit.append(actor, "activity.create", activity,
                     details={"after": _snapshot(state),
                              "warnings": _english(warnings)})
    activity.warnings = warnings
    return activity


def update_activity(activity, *, actor=None, **fields) -> Activity:
    """Change an activity; the audit entry holds the before and after values of the fields
    that changed. Unknown field names are refused."""
    unknown = sorted(set(fields) - UPDATABLE)
    if unknown:
        raise WitnessError(_("These activity fields cannot be changed: %(fields)s"),
                           code="bad_field", fields=", ".join(unknown))
    with transaction.atomic():
        activity = Activity.objects.select_for_update().get(pk=activity.pk)
        before = _state(activity)
        state = _clean({**before, **fields})
        if "officers" in fields and "recorder" not in fields and before["recorder"] is not None:
            state["recorder"] = before["recorder"]
        old, new = _snapshot(before), _snapshot(state)
        changed = {name for name in new if new[name] != old[name]}
        warnings = _validate(activity.agency, state, changed)
        if changed:
            simple = [name for name in changed
                      if name not in ("officers", "recorder", "evidence_items")]
            for name in simple:
                setattr(activity, name, state[name])
            if simple:
                activity.save(update_fields=simple)
            if {"officers", "recorder"} & changed:
                _save_people(activity, state["officers"], state["recorder"])
            if "evidence_items" in changed:
                _save_evidence(activity, state["evidence_items"])
            audit.append(actor, "activity.update", activity,
                         details={"before": {k: old[k] for k in sorted(changed)},
                                  "after": {k: new[k] for k in sorted(changed)}})
    activity.warnings = warnings
    return activity


def activities(agency: Agency, *, unit: Unit | None = None, start: datetime | None = None,
               end: datetime | None = None, activity_type: str | None = None):
    """Activities of ``agency``, newest first, that began in [start, end)."""
    qs = Activity.objects.filter(agency=agency).select_related("unit", "case")
    if unit is not None:
        qs = qs.filter(unit=unit)
    if start is not None:
        qs = qs.filter(arrived_at__gte=_aware(start))
    if end is not None:
        qs = qs.filter(arrived_at__lt=_aware(end))
    if activity_type:
        qs = qs.filter(activity_type=activity_type)
    return qs


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def activity_dict(activity: Activity, type_names: dict[str, str] | None = None) -> dict:
    """A JSON-ready description of an activity (for ``--json`` and the API). For many
    activities use :func:`activity_dicts`, which reads them in a fixed number of queries."""
    rows = _officer_rows(activity)
    return {
        "id": activity.pk, "activity_type": activity.activity_type,
        "activity_type_name": (type_names or {}).get(activity.activity_type, ""),
        "unit": activity.unit.code, "unit_name": activity.unit.name,
        "case": activity.case.number if activity.case_id else None,
        "place": activity.place, "arrived_at": _iso(activity.arrived_at),
        "departed_at": _iso(activity.departed_at),
        "officers": [{"name": row.person.name, "badge_number": row.person.badge_number,
                      "recorder": row.is_recorder} for row in rows],
        "party": activity.party, "scene": activity.scene,
        "party_conduct": activity.party_conduct, "violations_found": activity.violations_found,
        "evidence_items": evidence_of(activity),
        "off_site": activity.off_site, "remote": activity.remote,
        "continuous": activity.continuous,
        "returned_to_unit_at": _iso(activity.returned_to_unit_at),
    }


def type_names(agency: Agency, at: datetime) -> dict[str, str]:
    """code -> name of the activity types of the profile in force at ``at``."""
    return {t.code: t.name for t in activity_types_for(agency, at)}


def _type_names_at(agency: Agency):
    """A function ``at -> {code: name}`` for the profile version in force at ``at``: the
    agency's activations are read once and each version's profile parsed once."""
    version_at = profiles.versions_in_force(agency)
    by_version: dict[int, dict[str, str]] = {}

    def names(at: datetime) -> dict[str, str]:
        version = version_at(at)
        if version is None:
            return {}
        if version.pk not in by_version:
            profile = profiles.profile_of(version)
            by_version[version.pk] = {t.code: t.name for t in profile.activity_types}
        return by_version[version.pk]

    return names


def activity_dicts(agency: Agency, activities) -> list[dict]:
    """:func:`activity_dict` for each of ``activities`` (a queryset or list) in a fixed
    number of queries, whatever their number: officers and evidence are prefetched
    (unless already), and the type names read once per profile version."""
    rows = list(activities)
    prefetch_related_objects(rows, *DETAILS)
    names = _type_names_at(agency)
    return [activity_dict(a, names(a.arrived_at)) for a in rows]


def cases(agency: Agency, *, status: str | None = None):
    """The agency's cases, newest first, each with ``activity_count``."""
    qs = (Case.objects.filter(agency=agency).select_related("leader_in_charge")
          .annotate(activity_count=Count("activities")))
    return qs.filter(status=status) if status else qs


def case_dict(case: Case) -> dict:
    count = getattr(case, "activity_count", None)
    return {
        "number": case.number, "name": case.name,
        "leader_in_charge": str(case.leader_in_charge),
        "retention_class": case.retention_class, "status": case.status,
        "opened_at": _iso(case.opened_at), "closed_at": _iso(case.closed_at),
        "activities": case.activities.count() if count is None else count,
    }
