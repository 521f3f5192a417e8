"""``witness activity add|list|show|update|types``: enforcement activities (ACT-1, ACT-2)
and the ING-2 exception flags (off-site, remote, continuous duty)."""

from __future__ import annotations

import argparse

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.activities import services
from witness.core.cli_args import parse_local_datetime, resolve_person, resolve_unit, short_time
from witness.core.commands import WitnessCommand
from witness.core.errors import NotFound, both
from witness.core.tables import table
from witness.org.services import default_agency
from witness.profiles import services as profiles

HELP = _("Enforcement activities: record one with its officers and designated recorder, "
         "list, show, correct, and list the activity types of the profile in force.")
SUBCOMMANDS = {
    "add": _("Record an enforcement activity."),
    "list": _("List enforcement activities, newest first."),
    "show": _("Show one enforcement activity."),
    "update": _("Correct an enforcement activity (audited with the old and new values)."),
    "types": _("List the activity types that must be recorded under the profile in force."),
    "work-record": _("File a work record for an activity not recorded or whose recording "
                     "stopped, with the reason and basis (ACT-4)."),
    "work-record-review": _("Review a work record, as the profile in force asks (ACT-4)."),
}


def _officers(data: dict) -> str:
    return ", ".join(o["name"] + ("*" if o["recorder"] else "") for o in data["officers"])


def _flags(data: dict) -> str:
    names = {"off_site": gettext("off-site duty"), "remote": gettext("remote area"),
             "continuous": gettext("continuous duty")}
    return ", ".join(label for key, label in names.items() if data[key])


def _result(agency, activity) -> dict:
    data = services.activity_dict(activity, services.type_names(agency, activity.arrived_at))
    data["warnings"] = [both(w) for w in getattr(activity, "warnings", [])]
    return data


def labelled(label: str, value) -> str:
    """One "label: value" line; the separator is translated too (Chinese uses "："). The
    label is translated by the caller: gettext inside an f-string is never extracted."""
    return gettext("%(label)s: %(value)s") % {"label": label, "value": value}


def _describe(data: dict) -> str:
    lines = [
        f"#{data['id']} {data['activity_type_name']} ({data['activity_type']})",
        labelled(gettext("Unit"), data["unit_name"]),
        labelled(gettext("Place"), data["place"]),
        labelled(gettext("Arrival"), short_time(data["arrived_at"])),
        labelled(gettext("Departure"), short_time(data["departed_at"])),
        labelled(gettext("Officers (* designated recorder)"), _officers(data)),
        labelled(gettext("Case"), data["case"] or "-"),
        labelled(gettext("Party"), data["party"] or "-"),
        labelled(gettext("Scene"), data["scene"] or "-"),
        labelled(gettext("Party conduct"), data["party_conduct"] or "-"),
        labelled(gettext("Violations found"), data["violations_found"] or "-"),
        labelled(gettext("Key evidence"), "; ".join(data["evidence_items"]) or "-"),
    ]
    if _flags(data):
        lines.append(labelled(gettext("Duty"), _flags(data)))
    if data["returned_to_unit_at"]:
        lines.append(labelled(gettext("Returned to the unit"),
                              short_time(data["returned_to_unit_at"])))
    for warning in data.get("warnings", []):
        lines.append(gettext("Warning: %(text)s") % {"text": warning["zh"]})
        if warning["en"] != warning["zh"]:
            lines.append(gettext("Warning: %(text)s") % {"text": warning["en"]})
    return "\n".join(lines)


def _when(text: str | None):
    return parse_local_datetime(text) if text else None


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    # -- add ----------------------------------------------------------------------------

    def _text_arguments(self, parser):
        parser.add_argument("--party", help=gettext("the party"))
        parser.add_argument("--scene", help=gettext("the scene as found"))
        parser.add_argument("--conduct", help=gettext("the party's conduct"))
        parser.add_argument("--violations", help=gettext("violations found"))

    def add_add_arguments(self, parser):
        parser.add_argument("--type", required=True, metavar="CODE",
                            help=gettext(
                                "activity type code ('witness activity types' lists them)"))
        parser.add_argument("--unit", required=True, metavar="UNIT",
                            help=gettext("the unit carrying it out: code or name"))
        parser.add_argument("--place", required=True, help=gettext("where it took place"))
        parser.add_argument("--arrived", required=True, metavar="ISO",
                            help=gettext("arrival, local time, e.g. 2026-11-20T09:30"))
        parser.add_argument("--departed", required=True, metavar="ISO",
                            help=gettext("departure, local time"))
        parser.add_argument("--officer", action="append", required=True, metavar="PERSON",
                            help=gettext("an officer: badge number or full name (repeat for each)"))
        parser.add_argument("--recorder", required=True, metavar="PERSON",
                            help=gettext("the designated recorder, one of the officers"))
        parser.add_argument("--case", metavar="NUMBER", help=gettext("the case it belongs to"))
        self._text_arguments(parser)
        parser.add_argument("--evidence", action="append", default=[], metavar="TEXT",
                            help=gettext("a key evidence item to photograph (repeatable)"))
        parser.add_argument("--off-site", action="store_true", help=gettext("off-site duty"))
        parser.add_argument("--remote", action="store_true", help=gettext("remote area"))
        parser.add_argument("--continuous", action="store_true", help=gettext("continuous duty"))
        parser.add_argument("--returned", metavar="ISO",
                            help=gettext("when the officers returned to the unit (with --off-site, "
                                    "--remote or --continuous)"))

    def do_add(self, **o):
        agency = default_agency()
        activity = services.create_activity(
            agency, unit=resolve_unit(agency, o["unit"]), activity_type=o["type"],
            place=o["place"], arrived_at=parse_local_datetime(o["arrived"]),
            departed_at=parse_local_datetime(o["departed"]),
            officers=[resolve_person(agency, text) for text in o["officer"]],
            recorder=resolve_person(agency, o["recorder"]),
            case=services.get_case(agency, o["case"]) if o["case"] else None,
            party=o["party"] or "", scene=o["scene"] or "", party_conduct=o["conduct"] or "",
            violations_found=o["violations"] or "", evidence_items=o["evidence"],
            off_site=o["off_site"], remote=o["remote"], continuous=o["continuous"],
            returned_to_unit_at=_when(o["returned"]), actor=self.actor)
        return _result(agency, activity)

    def render_add(self, data):
        return gettext("Activity recorded.") + "\n" + _describe(data)

    # -- list ---------------------------------------------------------------------------

    def add_list_arguments(self, parser):
        parser.add_argument("--unit", metavar="UNIT", help=gettext("only this unit (code or name)"))
        parser.add_argument("--from", dest="start", metavar="ISO",
                            help=gettext("arrived at or after this local time"))
        parser.add_argument("--to", dest="end", metavar="ISO",
                            help=gettext("arrived before this local time"))
        parser.add_argument("--type", metavar="CODE", help=gettext("only this activity type"))
        parser.add_argument("--limit", type=int, default=100,
                            help=gettext("at most this many (default 100; 0 for all)"))

    def do_list(self, *, unit=None, start=None, end=None, type=None, limit=100, **o):
        agency = default_agency()
        qs = services.activities(agency, unit=resolve_unit(agency, unit) if unit else None,
                                 start=_when(start), end=_when(end), activity_type=type)
        if limit and limit > 0:
            qs = qs[:limit]
        return services.activity_dicts(agency, qs)

    def render_list(self, data):
        rows = []
        for a in data:
            kind = a["activity_type_name"] or a["activity_type"]
            rows.append([a["id"], short_time(a["arrived_at"]), short_time(a["departed_at"])[11:],
                         f"{kind} ({_flags(a)})" if _flags(a) else kind, a["unit_name"],
                         a["place"], _officers(a), a["case"] or ""])
        out = table(gettext("Enforcement activities (* designated recorder)"),
                    ["#", gettext("Arrival"), gettext("Until"), gettext("Type"),
                     gettext("Unit"), gettext("Place"), gettext("Officers"), gettext("Case")],
                    rows)
        for column in out.columns[:3]:
            column.no_wrap = True
        for column in out.columns[3:]:
            column.overflow = "fold"
        return out

    # -- show ---------------------------------------------------------------------------

    def add_show_arguments(self, parser):
        parser.add_argument("id", help=gettext("activity number"))

    def do_show(self, *, id, **o):
        agency = default_agency()
        return _result(agency, services.get_activity(agency, id))

    def render_show(self, data):
        return _describe(data)

    # -- update -------------------------------------------------------------------------

    def add_update_arguments(self, parser):
        parser.add_argument("id", help=gettext("activity number"))
        parser.add_argument("--type", metavar="CODE", help=gettext("activity type code"))
        parser.add_argument("--unit", metavar="UNIT", help=gettext("unit: code or name"))
        parser.add_argument("--place", help=gettext("where it took place"))
        parser.add_argument("--arrived", metavar="ISO", help=gettext("arrival, local time"))
        parser.add_argument("--departed", metavar="ISO", help=gettext("departure, local time"))
        parser.add_argument("--officer", action="append", metavar="PERSON",
                            help=gettext("replaces the officers (repeat for each)"))
        parser.add_argument("--recorder", metavar="PERSON",
                            help=gettext("the designated recorder, one of the officers"))
        case = parser.add_mutually_exclusive_group()
        case.add_argument("--case", metavar="NUMBER", help=gettext("the case it belongs to"))
        case.add_argument("--no-case", action="store_true", help=gettext("detach it from its case"))
        self._text_arguments(parser)
        evidence = parser.add_mutually_exclusive_group()
        evidence.add_argument("--evidence", action="append", metavar="TEXT",
                              help=gettext("replaces the key evidence items (repeatable)"))
        evidence.add_argument("--no-evidence", action="store_true",
                              help=gettext("remove every key evidence item"))
        for flag, text in (("--off-site", gettext("off-site duty")),
                           ("--remote", gettext("remote area")),
                           ("--continuous", gettext("continuous duty"))):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=text)
        returned = parser.add_mutually_exclusive_group()
        returned.add_argument("--returned", metavar="ISO",
                              help=gettext("when the officers returned to the unit"))
        returned.add_argument("--no-returned", action="store_true",
                              help=gettext("clear the time of return to the unit"))

    def do_update(self, *, id, **o):
        agency = default_agency()
        activity = services.get_activity(agency, id)
        fields = {}
        simple = {"type": "activity_type", "place": "place", "party": "party",
                  "scene": "scene", "conduct": "party_conduct",
                  "violations": "violations_found", "off_site": "off_site",
                  "remote": "remote", "continuous": "continuous"}
        for option, field in simple.items():
            if o.get(option) is not None:
                fields[field] = o[option]
        if o.get("unit"):
            fields["unit"] = resolve_unit(agency, o["unit"])
        for option, field in (("arrived", "arrived_at"), ("departed", "departed_at"),
                              ("returned", "returned_to_unit_at")):
            if o.get(option):
                fields[field] = parse_local_datetime(o[option])
        if o.get("officer"):
            fields["officers"] = [resolve_person(agency, text) for text in o["officer"]]
        if o.get("recorder"):
            fields["recorder"] = resolve_person(agency, o["recorder"])
        if o.get("case"):
            fields["case"] = services.get_case(agency, o["case"])
        if o.get("no_case"):
            fields["case"] = None
        if o.get("evidence"):
            fields["evidence_items"] = o["evidence"]
        if o.get("no_evidence"):
            fields["evidence_items"] = []
        if o.get("no_returned"):
            fields["returned_to_unit_at"] = None
        activity = services.update_activity(activity, actor=self.actor, **fields)
        return _result(agency, activity)

    def render_update(self, data):
        return gettext("Activity updated.") + "\n" + _describe(data)

    # -- types --------------------------------------------------------------------------

    def add_types_arguments(self, parser):
        parser.add_argument("--at", metavar="ISO",
                            help=gettext("the moment whose profile applies (default: now)"))

    def do_types(self, *, at=None, **o):
        agency = default_agency()
        moment = _when(at) or timezone.now()
        version, profile = profiles.in_force(agency, moment)
        return {"profile": version.name, "version": version.version,
                "at": timezone.localtime(moment).isoformat(),
                "source": profile.sources.get("activity_types", ""),
                "types": [{"code": t.code, "name": t.name, "must_record": t.must_record}
                          for t in profile.activity_types]}

    def render_types(self, data):
        title = gettext("Activity types of profile %(profile)s v%(version)s (%(source)s) "
                        "on %(at)s") % {**data, "at": short_time(data["at"])}
        return table(title, [gettext("Code"), gettext("Name"), gettext("Must record")],
                     [[t["code"], t["name"], gettext("yes") if t["must_record"] else gettext("no")]
                      for t in data["types"]])

    # -- work records (ACT-4) --------------------------------------------------------------

    def add_work_record_arguments(self, parser):
        from witness.activities.models import WorkRecordKind, WorkRecordReason
        from witness.confidentiality.cli import add_as_argument

        add_as_argument(parser)
        parser.add_argument("id", help=gettext("activity number"))
        parser.add_argument("--kind", required=True, choices=WorkRecordKind.values,
                            help=gettext("exemption: not recorded at all; stop: recording "
                                         "stopped"))
        parser.add_argument("--reason", required=True, choices=WorkRecordReason.values,
                            help=gettext("the reason, from the lists of A12 and B7"))
        parser.add_argument("--basis", required=True,
                            help=gettext("the reason and basis written out"))

    def do_work_record(self, *, as_user, id, kind, reason, basis, **o):
        from witness.access import authz
        from witness.activities import work_records
        from witness.confidentiality.cli import refusals, subject_for

        subject = subject_for(as_user)
        agency = subject.agency or default_agency()
        with refusals():
            authz.require(subject, "activity.create")
            activity = services.get_activity(agency, id)
            if not authz.can_see_activity(subject, activity):
                raise NotFound(_("No enforcement activity with number %(id)s."),
                                        id=id)
            record = work_records.file_work_record(activity, kind=kind, reason=reason,
                                                   basis=basis, written_by=subject.person,
                                                   actor=subject.user)
        return work_records.record_dict(record)

    def render_work_record(self, data):
        return gettext("Work record %(id)s filed for activity %(activity)s: %(kind_name)s, "
                       "%(reason_name)s.") % data

    def add_work_record_review_arguments(self, parser):
        from witness.confidentiality.cli import add_as_argument

        add_as_argument(parser)
        parser.add_argument("record", help=gettext("work record number"))
        parser.add_argument("--note", default="", help=gettext("a note on the review"))

    def do_work_record_review(self, *, as_user, record, note="", **o):
        from witness.access import authz
        from witness.activities import work_records
        from witness.confidentiality.cli import refusals, subject_for

        subject = subject_for(as_user)
        agency = subject.agency or default_agency()
        with refusals():
            authz.require(subject, "activity.view")
            found = work_records.get_work_record(agency, record)
            if not authz.can_see_activity(subject, found.activity):
                raise NotFound(_("No work record with number %(id)s."), id=record)
            reviewed = work_records.review_work_record(found, reviewed_by=subject.person,
                                                       note=note, actor=subject.user)
        return work_records.record_dict(reviewed)

    def render_work_record_review(self, data):
        return gettext("Work record %(id)s reviewed by %(reviewed_by)s.") % data
