"""``witness case add|list|show|close``: case files, their leader in charge and retention
class (RET-1, B21)."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.activities import services
from witness.activities.management.commands.activity import labelled
from witness.activities.models import CaseStatus, RetentionClass
from witness.core.cli_args import parse_local_datetime, resolve_person, short_time
from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.org.services import default_agency

HELP = _("Case files: open one with its leader in charge and retention class, list, show "
         "with its activities, close.")
SUBCOMMANDS = {
    "add": _("Open a case."),
    "list": _("List the agency's cases, newest first."),
    "show": _("Show a case and its enforcement activities."),
    "close": _("Close a case."),
}


def _retention(value: str) -> str:
    return str(RetentionClass(value).label) if value in RetentionClass.values else value


def _status(value: str) -> str:
    return str(CaseStatus(value).label) if value in CaseStatus.values else value


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    # -- add ----------------------------------------------------------------------------

    def add_add_arguments(self, parser):
        parser.add_argument("--number", required=True, help=gettext("case number"))
        parser.add_argument("--name", required=True, help=gettext("case name"))
        parser.add_argument("--leader", required=True, metavar="PERSON",
                            help=gettext("bureau leader in charge: badge number or full name"))
        parser.add_argument("--retention", default=RetentionClass.Y30,
                            choices=RetentionClass.values,
                            help=gettext("how long the case file is kept (default: 30y)"))
        parser.add_argument("--opened", metavar="ISO",
                            help=gettext("when the case was opened, local time (default: now)"))

    def do_add(self, *, number, name, leader, retention, opened=None, **options):
        agency = default_agency()
        case = services.create_case(
            agency, number=number, name=name, leader_in_charge=resolve_person(agency, leader),
            retention_class=retention,
            opened_at=parse_local_datetime(opened) if opened else None, actor=self.actor)
        return services.case_dict(case)

    def render_add(self, data):
        return gettext("Case %(number)s %(name)s opened.") % data

    # -- list ---------------------------------------------------------------------------

    def add_list_arguments(self, parser):
        parser.add_argument("--status", choices=CaseStatus.values,
                            help=gettext("only cases with this status"))

    def do_list(self, *, status=None, **options):
        return [services.case_dict(case)
                for case in services.cases(default_agency(), status=status)]

    def render_list(self, data):
        rows = [[c["number"], c["name"], c["leader_in_charge"], _status(c["status"]),
                 _retention(c["retention_class"]), short_time(c["opened_at"])[:10],
                 c["activities"]] for c in data]
        columns = [gettext("Number"), gettext("Name"), gettext("Leader in charge"),
                   gettext("Status"), gettext("Retention"), gettext("Opened"),
                   gettext("Activities")]
        out = table(gettext("Cases"), columns, rows)
        for column in out.columns:
            column.overflow = "fold"
        out.columns[5].no_wrap = True
        return out

    # -- show ---------------------------------------------------------------------------

    def add_show_arguments(self, parser):
        parser.add_argument("number", help=gettext("case number"))

    def do_show(self, *, number, **options):
        agency = default_agency()
        case = services.get_case(agency, number)
        data = services.case_dict(case)
        data["activities"] = services.activity_dicts(
            agency, case.activities.select_related("unit", "case").order_by("arrived_at", "id"))
        return data

    def render_show(self, data):
        lines = [
            f"{data['number']} {data['name']}",
            labelled(gettext("Leader in charge"), data["leader_in_charge"]),
            labelled(gettext("Status"), _status(data["status"])),
            labelled(gettext("Retention"), _retention(data["retention_class"])),
            labelled(gettext("Opened"), short_time(data["opened_at"])),
        ]
        if data["closed_at"]:
            lines.append(labelled(gettext("Closed"), short_time(data["closed_at"])))
        lines.append(labelled(gettext("Activities"), "").rstrip())
        for a in data["activities"] or []:
            lines.append(f"  #{a['id']} {short_time(a['arrived_at'])} "
                         f"{a['activity_type_name'] or a['activity_type']} {a['place']}")
        if not data["activities"]:
            lines.append("  -")
        return "\n".join(lines)

    # -- close --------------------------------------------------------------------------

    def add_close_arguments(self, parser):
        parser.add_argument("number", help=gettext("case number"))
        parser.add_argument("--at", metavar="ISO",
                            help=gettext("when the case was closed, local time (default: now)"))

    def do_close(self, *, number, at=None, **options):
        case = services.get_case(default_agency(), number)
        case = services.close_case(case, at=parse_local_datetime(at) if at else None,
                                   actor=self.actor)
        return services.case_dict(case)

    def render_close(self, data):
        return gettext("Case %(number)s closed on %(at)s.") % {"number": data["number"],
                                                          "at": short_time(data["closed_at"])}
