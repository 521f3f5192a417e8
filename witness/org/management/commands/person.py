"""``witness person``: the agency's people, their units and roles, each change dated by
when it took effect (DEV-3 compares a holder's unit at the moment of an issue).

PERSON is a badge number or a unique full name; UNIT a unit code or name; ROLE a role
code (``officer``) or its Chinese name (``执法人员``); ISO a date and time such as
2026-11-20T09:30 (local time). Every change goes through :mod:`witness.org.services`, so
it is audited under the actor "cli:<os user>" and the three administrator roles stay
with three different people (三员分立).
"""

from functools import cached_property

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from witness.core import cli_args
from witness.core.cli_args import choice_label, json_fields, json_value, short_time
from witness.core.commands import WitnessCommand
from witness.core.errors import WitnessError
from witness.core.tables import table
from witness.org import services
from witness.org.importing import parse_roles
from witness.org.models import Person, Role, RoleAssignment
from witness.org.services import active_q, default_agency

ROLE_HELP = gettext_lazy("a role code (such as officer) or its Chinese name")


def _one_role(text: str) -> str:
    roles = parse_roles(text)
    if len(roles) != 1:
        raise WitnessError(gettext_lazy("Name exactly one role: %(text)s"), code="one_role",
                           text=text)
    return next(iter(roles)).value


def _person(person: Person, at=None) -> dict:
    return {**json_fields(person, "name", "badge_number", "phone", "active"),
            "unit": person.unit.code, "unit_name": person.unit.name,
            "roles": sorted(services.roles_at(person, at))}


def _assignment(assignment: RoleAssignment, now) -> dict:
    return {"id": assignment.pk, "role": assignment.role,
            "unit": assignment.unit.code if assignment.unit else None,
            "unit_name": assignment.unit.name if assignment.unit else None,
            **json_fields(assignment, "effective_from", "effective_to"),
            "current": assignment.effective_from <= now
            and (assignment.effective_to is None or assignment.effective_to > now)}


def _roles_text(codes) -> str:
    return ", ".join(choice_label(Role, code) for code in codes)


class Command(WitnessCommand):
    help = gettext_lazy(
        "People of the agency: list and show them, add a person, move one to another unit, "
        "give or end a role. Unit and role changes are dated by when they take effect. "
        "PERSON is a badge number or a full name; ISO is a date and time such as "
        "2026-11-20T09:30 (local time).")
    subcommands = {
        "list": gettext_lazy("List the people of the agency with their unit and current "
                             "roles."),
        "show": gettext_lazy("Show a person with their current unit, dated unit history and "
                             "dated roles."),
        "add": gettext_lazy("Add a person (audited)."),
        "move": gettext_lazy("Move a person to another unit from a moment on (audited)."),
        "role-add": gettext_lazy("Give a person a role from a moment on (audited; the system, "
                                 "security and audit administrators must be three different "
                                 "people)."),
        "role-end": gettext_lazy("End a role a person holds (audited)."),
    }

    @cached_property
    def agency(self):
        return default_agency()

    def _find(self, text) -> Person:
        return cli_args.resolve_person(self.agency, text)

    def _unit(self, text):
        return cli_args.resolve_unit(self.agency, text)

    # -- list ---------------------------------------------------------------------------

    def add_list_arguments(self, p):
        p.add_argument("--unit", help=_("only people now in this unit (code or name)"))
        p.add_argument("--role", help=_("only people who hold this role now: %(help)s") % {
            "help": ROLE_HELP})
        p.add_argument("--inactive", action="store_true",
                       help=_("also list people no longer in post"))

    def do_list(self, **o):
        now = timezone.now()
        people = (Person.objects.filter(agency=self.agency).select_related("unit")
                  .order_by("unit__code", "name", "id"))
        if not o["inactive"]:
            people = people.filter(active=True)
        if o["unit"]:
            people = people.filter(unit=self._unit(o["unit"]))
        if o["role"]:
            held = RoleAssignment.objects.filter(active_q(now), role=_one_role(o["role"]))
            people = people.filter(pk__in=held.values("person_id"))
        return [_person(p, now) for p in people]

    def render_list(self, data):
        return table(_("People"), [pgettext("person", "name"), _("badge number"), _("unit"),
                                   _("roles"), _("phone"), _("in post")],
                     [[p["name"], p["badge_number"], p["unit_name"], _roles_text(p["roles"]),
                       p["phone"], _("yes") if p["active"] else _("no")] for p in data])

    # -- show ---------------------------------------------------------------------------

    def add_show_arguments(self, p):
        p.add_argument("person", metavar="PERSON", help=_("badge number or full name"))

    def do_show(self, **o):
        now = timezone.now()
        person = self._find(o["person"])
        history = person.unit_history.select_related("unit").order_by("effective_from", "id")
        roles = person.roles.select_related("unit").order_by("effective_from", "role", "id")
        return {"person": _person(person, now),
                "units": [{"unit": h.unit.code, "unit_name": h.unit.name,
                           **json_fields(h, "effective_from", "recorded_at")} for h in history],
                "roles": [_assignment(r, now) for r in roles]}

    def render_show(self, data):
        from rich.console import Group

        units = table(_("Unit history"), [_("effective from"), _("unit"), _("recorded at")],
                      [[short_time(h["effective_from"]), h["unit_name"],
                        short_time(h["recorded_at"])] for h in data["units"]])
        roles = table(_("Roles"), [_("role"), _("unit scope"), _("effective from"),
                                   _("effective to"), _("in effect now")],
                      [[choice_label(Role, r["role"]), r["unit_name"] or "",
                        short_time(r["effective_from"]), short_time(r["effective_to"]),
                        _("yes") if r["current"] else ""] for r in data["roles"]])
        return Group(self.render_list([data["person"]]), units, roles)

    # -- add ----------------------------------------------------------------------------

    def add_add_arguments(self, p):
        p.add_argument("--name", required=True, help=_("full name"))
        p.add_argument("--unit", required=True, help=_("unit: code or name"))
        p.add_argument("--badge", help=_("badge number, if the person holds one"))
        p.add_argument("--phone", default="", help=_("phone"))
        p.add_argument("--role", action="append", default=[], metavar="ROLE",
                       help=_("a role to give (repeat for several): %(help)s") % {
                           "help": ROLE_HELP})
        p.add_argument("--effective-from", metavar="ISO",
                       help=_("in the unit and roles from this local time (default: now)"))

    def do_add(self, **o):
        roles = set()
        for text in o["role"]:
            roles |= parse_roles(text)
        at = cli_args.parse_local_datetime(o["effective_from"]) if o["effective_from"] else None
        person = services.create_person(
            self.agency, o["name"], self._unit(o["unit"]), badge_number=o["badge"],
            phone=o["phone"].strip(), roles=tuple(sorted(r.value for r in roles)),
            effective_from=at, actor=self.actor)
        return _person(person)

    def render_add(self, data):
        text = _("Added %(name)s to %(unit)s.") % {"name": data["name"],
                                                   "unit": data["unit_name"]}
        if data["roles"]:
            text += " " + _("Roles: %(roles)s.") % {"roles": _roles_text(data["roles"])}
        return text

    # -- move ---------------------------------------------------------------------------

    def add_move_arguments(self, p):
        p.add_argument("person", metavar="PERSON", help=_("badge number or full name"))
        p.add_argument("--unit", required=True, help=_("the new unit: code or name"))
        p.add_argument("--effective-from", required=True, metavar="ISO",
                       help=_("in the new unit from this local time"))

    def do_move(self, **o):
        person = self._find(o["person"])
        unit = self._unit(o["unit"])
        at = cli_args.parse_local_datetime(o["effective_from"])
        before = services.unit_at(person, at)
        if before == unit:
            raise WitnessError(gettext_lazy("%(name)s already belongs to %(unit)s on %(at)s."),
                               code="same_unit", name=person.name, unit=unit.name,
                               at=short_time(at))
        person = services.move_person(person, unit, at, actor=self.actor)
        return {"person": json_value(person), "from": before.code, "from_name": before.name,
                "to": unit.code, "to_name": unit.name, "effective_from": json_value(at),
                "current_unit": person.unit.code}

    def render_move(self, data):
        return _("%(name)s moves from %(before)s to %(after)s on %(at)s.") % {
            "name": data["person"]["name"], "before": data["from_name"],
            "after": data["to_name"], "at": short_time(data["effective_from"])}

    # -- role-add -----------------------------------------------------------------------

    def add_role_add_arguments(self, p):
        p.add_argument("person", metavar="PERSON", help=_("badge number or full name"))
        p.add_argument("role", metavar="ROLE", help=str(ROLE_HELP))
        p.add_argument("--unit", help=_("the unit the role is for, where it has one (the unit "
                                        "a head heads, a custodian keeps devices for)"))
        p.add_argument("--effective-from", metavar="ISO",
                       help=_("held from this local time (default: now)"))

    def do_role_add(self, **o):
        person = self._find(o["person"])
        role = _one_role(o["role"])
        unit = self._unit(o["unit"]) if o["unit"] else None
        at = (cli_args.parse_local_datetime(o["effective_from"]) if o["effective_from"]
              else timezone.now())
        already = role in services.roles_at(person, at)
        assignment = services.assign_role(person, role, unit=unit, effective_from=at,
                                          actor=self.actor)
        return {"person": json_value(person), "already_held": already,
                **_assignment(assignment, timezone.now())}

    def render_role_add(self, data):
        values = {"name": data["person"]["name"], "role": choice_label(Role, data["role"]),
                  "at": short_time(data["effective_from"])}
        if data["already_held"]:
            return _("%(name)s already holds the role %(role)s (since %(at)s).") % values
        return _("%(name)s holds the role %(role)s from %(at)s.") % values

    # -- role-end -----------------------------------------------------------------------

    def add_role_end_arguments(self, p):
        p.add_argument("person", metavar="PERSON", help=_("badge number or full name"))
        p.add_argument("role", metavar="ROLE", help=str(ROLE_HELP))
        p.add_argument("--at", metavar="ISO", help=_("ends at this local time (default: now)"))

    def do_role_end(self, **o):
        person = self._find(o["person"])
        role = _one_role(o["role"])
        at = cli_args.parse_local_datetime(o["at"]) if o["at"] else timezone.now()
        held = list(person.roles.filter(active_q(at), role=role).order_by("effective_from"))
        if not held:
            raise WitnessError(gettext_lazy("%(name)s does not hold the role %(role)s on "
                                            "%(at)s."), code="role_not_held",
                               name=person.name, role=Role(role).label, at=short_time(at))
        with transaction.atomic():
            for assignment in held:
                services.end_role(assignment, at, actor=self.actor)
        return {"person": json_value(person), "role": role, "effective_to": json_value(at),
                "ended": [_assignment(a, timezone.now()) for a in held]}

    def render_role_end(self, data):
        return _("%(name)s no longer holds the role %(role)s from %(at)s.") % {
            "name": data["person"]["name"], "role": choice_label(Role, data["role"]),
            "at": short_time(data["effective_to"])}
