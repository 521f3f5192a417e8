"""Organisation services: people, their dated unit history and roles.

All changes are audited in the same transaction (GB/T 22239-2019 security audit).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.org.models import (
    ADMIN_ROLES,
    Agency,
    Person,
    PersonUnitHistory,
    Role,
    RoleAssignment,
    Unit,
)


def default_agency() -> Agency:
    """The agency this installation serves (the first one if several are set up)."""
    agency = Agency.objects.order_by("id").first()
    if agency is None:
        raise NotFound(_("No agency is set up yet. Run 'witness demo' or import your own data."),
                       code="no_agency")
    return agency


def default_agency_or_none() -> Agency | None:
    return Agency.objects.order_by("id").first()


def active_q(at: datetime) -> Q:
    return Q(effective_from__lte=at) & (Q(effective_to__isnull=True) | Q(effective_to__gt=at))


def roles_at(person: Person, at: datetime | None = None) -> set[str]:
    at = at or timezone.now()
    # order_by(): the default ordering would join person and unit for nothing.
    return set(person.roles.filter(active_q(at)).order_by().values_list("role", flat=True))


def current_roles_of_user(user) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_witness_roles", None)
    if cached is None:
        cached = frozenset(
            RoleAssignment.objects.filter(active_q(timezone.now()), person__user=user,
                                          person__active=True)
            .order_by().values_list("role", flat=True)
        )
        user._witness_roles = cached
    return cached


def people_with_role(role: str, at: datetime | None = None, *, unit: Unit | None = None):
    """Active people holding ``role`` at ``at``; with ``unit``, only assignments scoped to
    that unit (or unscoped ones of people whose own unit it is). The scope is checked on
    the same assignment that grants the role, not on any other role the person holds."""
    at = at or timezone.now()
    held = RoleAssignment.objects.filter(active_q(at), role=role)
    if unit is not None:
        held = held.filter(Q(unit=unit) | Q(unit__isnull=True, person__unit=unit))
    return Person.objects.filter(active=True, pk__in=held.values("person_id"))


def unit_at(person: Person, at: datetime) -> Unit:
    """The unit a person belonged to at ``at`` (their first unit if ``at`` is earlier)."""
    entry = (person.unit_history.filter(effective_from__lte=at).select_related("unit")
             .order_by("-effective_from", "-id").first())
    if entry is None:
        entry = person.unit_history.select_related("unit").order_by("effective_from", "id").first()
    return entry.unit if entry else person.unit


def _check_badge(badge_number: str | None, exclude: int | None = None) -> None:
    if not badge_number:
        return
    qs = Person.objects.filter(badge_number=badge_number)
    if exclude:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise WitnessError(_("Badge number %(badge)s is already registered."),
                           code="duplicate_badge", badge=badge_number)


@transaction.atomic
def create_person(agency: Agency, name: str, unit: Unit, *, badge_number: str | None = None,
                  phone: str = "", roles: tuple[str, ...] = (), user=None,
                  effective_from: datetime | None = None, active: bool = True,
                  actor=None) -> Person:
    if unit.agency_id != agency.pk:
        raise WitnessError(_("Unit %(unit)s does not belong to agency %(agency)s."),
                           code="unit_agency", unit=unit.name, agency=agency.name)
    name = name.strip()
    if not name:
        raise WitnessError(_("A person needs a name."), code="name_required")
    badge_number = (badge_number or "").strip() or None
    _check_badge(badge_number)
    effective_from = effective_from or timezone.now()
    person = Person.objects.create(agency=agency, name=name, unit=unit,
                                   badge_number=badge_number, phone=phone, user=user,
                                   active=active)
    PersonUnitHistory.objects.create(person=person, unit=unit, effective_from=effective_from)
    audit.append(actor, "person.create", person,
                 details={"name": name, "unit": unit.name, "badge_number": badge_number,
                          "active": active})
    for role in roles:
        assign_role(person, role, effective_from=effective_from, actor=actor)
    return person


@transaction.atomic
def move_person(person: Person, unit: Unit, effective_from: datetime, *, actor=None) -> Person:
    """Move a person to another unit from ``effective_from`` (DEV-3 compares holders'
    units over time, so the change is dated, not overwritten)."""
    if unit.agency_id != person.agency_id:
        raise WitnessError(_("Unit %(unit)s does not belong to agency %(agency)s."),
                           code="unit_agency", unit=unit.name, agency=person.agency.name)
    before = person.unit
    PersonUnitHistory.objects.create(person=person, unit=unit, effective_from=effective_from)
    # The current unit is the latest change already in effect (a future move waits).
    person.unit = unit_at(person, timezone.now())
    person.save(update_fields=["unit"])
    audit.append(actor, "person.move", person,
                 details={"from": before.name, "to": unit.name,
                          "effective_from": effective_from.isoformat()})
    return person


@transaction.atomic
def assign_role(person: Person, role: str, *, unit: Unit | None = None,
                effective_from: datetime | None = None, actor=None) -> RoleAssignment:
    """Give ``person`` a role. Refuses a second of the three administrator roles
    (三员分立, GB/T 22239-2019 level 3)."""
    try:
        role = Role(role)
    except ValueError:
        raise WitnessError(_("Unknown role: %(role)s."), code="unknown_role", role=role) from None
    if unit is not None and unit.agency_id != person.agency_id:
        raise WitnessError(_("Unit %(unit)s does not belong to agency %(agency)s."),
                           code="unit_agency", unit=unit.name, agency=person.agency.name)
    effective_from = effective_from or timezone.now()
    held = roles_at(person, effective_from)
    if role in held:
        return person.roles.filter(active_q(effective_from), role=role).first()
    if role in ADMIN_ROLES:
        # The new assignment is open-ended, so any other administrator role not ended by
        # ``effective_from`` overlaps it, including one that starts later.
        other = set(person.roles.filter(
            Q(effective_to__isnull=True) | Q(effective_to__gt=effective_from),
            role__in=ADMIN_ROLES - {role}).order_by().values_list("role", flat=True))
        if other:
            raise Refused(
                _("%(name)s already holds the role %(other)s; the system, security and audit "
                  "administrators must be three different accounts."),
                code="admin_separation", name=person.name,
                other=Role(next(iter(other))).label,
            )
    assignment = RoleAssignment.objects.create(person=person, role=role, unit=unit,
                                               effective_from=effective_from)
    audit.append(actor, "role.assign", person,
                 details={"role": role.value, "unit": unit.name if unit else None,
                          "effective_from": effective_from.isoformat()})
    return assignment


@transaction.atomic
def end_role(assignment: RoleAssignment, at: datetime | None = None, *, actor=None) -> None:
    at = at or timezone.now()
    if at <= assignment.effective_from:
        raise WitnessError(_("A role cannot end before it starts (%(since)s)."),
                           code="end_before_start",
                           since=timezone.localtime(assignment.effective_from)
                           .strftime("%Y-%m-%d %H:%M"))
    if assignment.effective_to is not None and assignment.effective_to <= at:
        raise WitnessError(_("This role already ended on %(until)s."), code="already_ended",
                           until=timezone.localtime(assignment.effective_to)
                           .strftime("%Y-%m-%d %H:%M"))
    assignment.effective_to = at
    assignment.save(update_fields=["effective_to"])
    audit.append(actor, "role.end", assignment.person,
                 details={"role": assignment.role, "effective_to": at.isoformat()})
