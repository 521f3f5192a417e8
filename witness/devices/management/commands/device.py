"""``witness device``: the device registry and the issue/return ledger (DEV-1 … DEV-5).

The agency is the installation's default agency; audit entries name the actor
"cli:<os user>" (``WitnessCommand.actor``). A pre-use check is part of an issue (DEV-4;
A7 and B12 require it before use): ``issue`` needs --battery, --free-mb and --device-time,
or --no-check REASON, whose reason is kept in the issue's audit entry.
"""

import argparse
from functools import cached_property

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.core import cli_args
from witness.core.cli_args import choice_label, json_fields, json_value, person_label, short_time
from witness.core.commands import WitnessCommand
from witness.core.errors import NotFound, WitnessError
from witness.core.tables import table
from witness.devices import models, services
from witness.devices.models import CheckKind, DeviceKind, DeviceStatus, EventKind
from witness.org.services import default_agency


def _device(device, issue=None) -> dict:
    return {**json_fields(device, "serial", "kind", "model", "manufacturer", "status", "custodian",
                     "records_video", "records_audio", "takes_photos"),
            "unit": device.unit.code, "unit_name": device.unit.name,
            "holder": json_value(issue and issue.holder),
            "issued_at": json_value(issue and issue.issued_at)}


def _check(check) -> dict:
    return json_fields(check, "kind", "checked_by", "checked_at", "battery_percent",
                  "free_storage_mb", "device_time", "drift_seconds", "working", "notes")


def _issue(issue) -> dict:
    return {"id": issue.pk, "serial": issue.device.serial, "holder_unit": issue.holder_unit.name,
            **json_fields(issue, "holder", "issued_at", "purpose", "long_term", "returned_at",
                     "return_notes"),
            "checks": [_check(c) for c in issue.checks.select_related("checked_by")]}


def _event(event) -> dict:
    return {"serial": event.device.serial, "device_status": event.device.status,
            **json_fields(event, "kind", "occurred_at", "description", "responsible",
                          "amount_yuan")}


def _time(text):
    return cli_args.parse_local_datetime(text) if text else None


def _check_text(c) -> str:
    """"at issue: battery 90%, 30000 MB free, clock drift +75 s" (DEV-4)."""
    text = _("battery %(battery)s%%, %(free)s MB free, clock drift %(drift)+d s") % {
        "battery": c["battery_percent"], "free": c["free_storage_mb"], "drift": c["drift_seconds"]}
    return f"{choice_label(CheckKind, c['kind'])}: {text}"


class Command(WitnessCommand):
    help = gettext_lazy(
        "Device registry and issue/return ledger (DEV-1 to DEV-5). PERSON is a badge number "
        "or a full name; ISO is a date and time such as 2026-11-20T09:30 (local time).")
    subcommands = {
        "add": gettext_lazy("Register a device (DEV-1)."),
        "list": gettext_lazy("List the devices of the agency."),
        "show": gettext_lazy("Show a device, its holder, and its last 10 ledger lines (with "
                             "their checks), events and refused issues."),
        "issue": gettext_lazy("Issue a device to a person, with the pre-use check (DEV-3, "
                              "DEV-4)."),
        "return": gettext_lazy("Take back an issued device (DEV-3)."),
        "check": gettext_lazy("Record a pre-use check of a device (DEV-4)."),
        "event": gettext_lazy("Record maintenance, repair, damage, loss, compensation… "
                              "(DEV-5)."),
        "ratio": gettext_lazy("Equipment ratio per unit against the profile minimum (DEV-2)."),
    }

    @cached_property
    def agency(self):
        return default_agency()

    def _get(self, serial):
        device = services.get_device(serial)
        if device.unit.agency_id != self.agency.pk:
            raise NotFound(gettext_lazy("No device with serial number %(serial)s."),
                           serial=serial)
        return device

    def _person(self, text, **kwargs):
        return cli_args.resolve_person(self.agency, text, **kwargs) if text else None

    def add_add_arguments(self, p):
        p.add_argument("--kind", required=True,
                       help=_("device kind: %(kinds)s") % {"kinds": ", ".join(DeviceKind.values)})
        p.add_argument("--serial", required=True, help=_("serial number"))
        p.add_argument("--unit", required=True, help=_("owning unit: code or name"))
        p.add_argument("--model", default="", help=_("model"))
        p.add_argument("--manufacturer", default="", help=_("manufacturer"))
        p.add_argument("--custodian", metavar="PERSON", help=_("custodian"))
        p.add_argument("--notes", default="", help=_("notes"))
        for flag, text in (("video", _("records video")), ("audio", _("records audio")),
                           ("photos", _("takes photos"))):
            p.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None,
                           help=_("%(what)s (default: from the kind)") % {"what": text})

    def do_add(self, **o):
        return _device(services.register_device(
            kind=o["kind"], serial=o["serial"], unit=cli_args.resolve_unit(self.agency, o["unit"]),
            model=o["model"], manufacturer=o["manufacturer"],
            custodian=self._person(o["custodian"]), records_video=o["video"],
            records_audio=o["audio"], takes_photos=o["photos"], notes=o["notes"],
            actor=self.actor))

    def render_add(self, data):
        return _("Registered %(serial)s in %(unit)s.") % {"serial": data["serial"],
                                                          "unit": data["unit_name"]}

    def add_list_arguments(self, p):
        p.add_argument("--unit", help=_("only this unit (code or name)"))
        p.add_argument("--status", help=_("only this status: %(statuses)s") % {
            "statuses": ", ".join(DeviceStatus.values)})
        p.add_argument("--out", action="store_true", help=_("only devices that are issued out"))

    def do_list(self, **o):
        out = models.DeviceIssue.objects.filter(returned_at__isnull=True)
        devices = models.Device.objects.filter(unit__agency=self.agency).order_by(
            "unit__code", "serial").select_related("unit", "custodian").prefetch_related(
                Prefetch("issues", out.select_related("holder"), to_attr="open_issues"))
        if o["unit"]:
            devices = devices.filter(unit=cli_args.resolve_unit(self.agency, o["unit"]))
        if o["status"]:
            devices = devices.filter(status=cli_args.parse_choice(o["status"], DeviceStatus))
        if o["out"]:
            devices = devices.filter(pk__in=out.values("device"))
        return [_device(d, d.open_issues[0] if d.open_issues else None) for d in devices]

    def render_list(self, data):
        return table(_("Devices"), [_("serial number"), _("kind"), _("model"), _("unit"),
                                    _("status"), _("custodian"), _("holder"), _("issued at")],
                     [[d["serial"], choice_label(DeviceKind, d["kind"]), d["model"], d["unit_name"],
                       choice_label(DeviceStatus, d["status"]), person_label(d["custodian"]),
                       person_label(d["holder"]), short_time(d["issued_at"])] for d in data])

    def add_show_arguments(self, p):
        p.add_argument("serial", help=_("serial number"))

    def do_show(self, **o):
        device = self._get(o["serial"])
        issues = device.issues.select_related("device", "holder", "holder_unit")[:10]
        events = device.events.select_related("device", "responsible")[:10]
        refused = device.refused_issues.select_related("person", "person_unit")[:10]
        return {"device": _device(device, services.open_issue(device)),
                "ledger": [_issue(i) for i in issues], "events": [_event(e) for e in events],
                "refused": [{"person_unit": r.person_unit.name,
                             **json_fields(r, "person", "attempted_at", "issue_scope", "reason")}
                            for r in refused]}

    def render_show(self, data):
        from rich.console import Group

        ledger = table(_("Ledger"), [_("holder"), _("unit"), _("issued at"), _("returned at"),
                                     _("pre-use checks")],
                       [[person_label(i["holder"]), i["holder_unit"], short_time(i["issued_at"]),
                         short_time(i["returned_at"]),
                         "\n".join(map(_check_text, i["checks"]))] for i in data["ledger"]])
        events = table(_("Events"), [_("occurred at"), _("kind"), _("responsible person"),
                                     _("amount (yuan)"), _("description")],
                       [[short_time(e["occurred_at"]), choice_label(EventKind, e["kind"]),
                         person_label(e["responsible"]), e["amount_yuan"], e["description"]]
                        for e in data["events"]])
        refused = table(_("Refused issues"), [_("attempted at"), _("intended holder"),
                                              _("unit"), _("reason")],
                        [[short_time(r["attempted_at"]), person_label(r["person"]),
                          r["person_unit"], r["reason"]] for r in data["refused"]])
        return Group(self.render_list([data["device"]]), ledger, events,
                     *([refused] if data["refused"] else []))

    def add_issue_arguments(self, p):
        p.add_argument("serial", help=_("serial number"))
        p.add_argument("--to", required=True, metavar="PERSON", help=_("holder"))
        p.add_argument("--at", metavar="ISO", help=_("time of issue (default: now)"))
        p.add_argument("--purpose", default="", help=_("purpose"))
        p.add_argument("--long-term", action="store_true", help=_("held long-term"))
        p.add_argument("--battery", type=int, metavar="N", help=_("pre-use check: battery %%"))
        p.add_argument("--free-mb", type=int, metavar="N", help=_("pre-use check: free MB"))
        p.add_argument("--device-time", metavar="ISO", help=_("pre-use check: device time"))
        p.add_argument("--checked-by", metavar="PERSON",
                       help=_("who checked the device (default: the holder)"))
        p.add_argument("--no-check", metavar="REASON",
                       help=_("issue without a pre-use check, and why (kept in the audit log)"))

    def do_issue(self, **o):
        device = self._get(o["serial"])
        # Another agency's staff are resolved too, so that the refusal is recorded (DEV-3).
        holder = self._person(o["to"], other_agencies=True)
        given = [o[name] for name in ("battery", "free_mb", "device_time") if o[name] is not None]
        reason = (o["no_check"] or "").strip()
        if (len(given) < 3 and not reason) or (given and o["no_check"] is not None):
            raise WitnessError(gettext_lazy(
                "A7 and B12 require a pre-use check at issue: give --battery, --free-mb and "
                "--device-time, or else --no-check with the reason why no check was made."),
                code="check_required")
        check = None if reason else {
            "checked_by": self._person(o["checked_by"]) or holder,
            "battery_percent": o["battery"], "free_storage_mb": o["free_mb"],
            "device_time": cli_args.parse_local_datetime(o["device_time"])}
        return _issue(services.issue_device(
            device, holder, at=_time(o["at"]), purpose=o["purpose"], long_term=o["long_term"],
            actor=self.actor, check=check, no_check_reason=reason))

    def render_issue(self, data):
        text = _("Issued %(serial)s to %(name)s (%(unit)s) at %(at)s.") % {
            "serial": data["serial"], "name": person_label(data["holder"]),
            "unit": data["holder_unit"], "at": short_time(data["issued_at"])}
        return "\n".join([text, *map(_check_text, data["checks"])])

    def add_return_arguments(self, p):
        p.add_argument("serial", help=_("serial number"))
        p.add_argument("--at", metavar="ISO", help=_("time of return (default: now)"))
        p.add_argument("--notes", default="", help=_("notes on return"))

    def do_return(self, **o):
        return _issue(services.return_device(self._get(o["serial"]), at=_time(o["at"]),
                                             notes=o["notes"], actor=self.actor))

    def render_return(self, data):
        return _("%(serial)s returned by %(name)s at %(at)s.") % {
            "serial": data["serial"], "name": person_label(data["holder"]),
            "at": short_time(data["returned_at"])}

    def add_check_arguments(self, p):
        p.add_argument("serial", help=_("serial number"))
        p.add_argument("--by", required=True, metavar="PERSON", help=_("checked by"))
        p.add_argument("--battery", type=int, required=True, metavar="N", help=_("battery %%"))
        p.add_argument("--free-mb", type=int, required=True, metavar="N", help=_("free MB"))
        p.add_argument("--device-time", required=True, metavar="ISO",
                       help=_("time shown on the device"))
        p.add_argument("--at", metavar="ISO", help=_("time of the check (default: now)"))
        p.add_argument("--not-working", action="store_true", help=_("the device does not work"))
        p.add_argument("--notes", default="", help=_("notes"))

    def do_check(self, **o):
        device = self._get(o["serial"])
        # Checks at issue are made by `issue`; a check made on its own is before use.
        check = services.record_check(
            device, self._person(o["by"]), battery_percent=o["battery"],
            free_storage_mb=o["free_mb"], device_time=_time(o["device_time"]), at=_time(o["at"]),
            working=not o["not_working"], notes=o["notes"], kind=CheckKind.BEFORE_USE,
            actor=self.actor)
        return {"serial": device.serial, **_check(check)}

    def render_check(self, data):
        return f"{data['serial']}: {_check_text(data)}"

    def add_event_arguments(self, p):
        p.add_argument("serial", help=_("serial number"))
        p.add_argument("--kind", required=True,
                       help=_("event kind: %(kinds)s") % {"kinds": ", ".join(EventKind.values)})
        p.add_argument("--description", required=True, help=_("what happened"))
        p.add_argument("--responsible", metavar="PERSON", help=_("responsible person"))
        p.add_argument("--amount", metavar="YUAN", help=_("amount (yuan)"))
        p.add_argument("--at", metavar="ISO", help=_("when it happened (default: now)"))
        p.add_argument("--back-in-service", action="store_true",
                       help=_("the device is back in service (e.g. after repair)"))

    def do_event(self, **o):
        return _event(services.record_event(
            self._get(o["serial"]), o["kind"], o["description"],
            responsible=self._person(o["responsible"]),
            amount_yuan=cli_args.parse_yuan(o["amount"]) if o["amount"] else None,
            occurred_at=_time(o["at"]), back_in_service=o["back_in_service"], actor=self.actor))

    def render_event(self, data):
        return _("Recorded %(kind)s for %(serial)s; status: %(status)s.") % {
            "kind": choice_label(EventKind, data["kind"]), "serial": data["serial"],
            "status": choice_label(DeviceStatus, data["device_status"])}

    def do_ratio(self, **o):
        return [{"unit": r.unit_name, "field_duty": r.has_field_duty, "devices": r.devices,
                 "minimum": r.minimum, "short": r.short}
                for r in services.equipment_ratio(self.agency)]

    def render_ratio(self, data):
        return table(_("Devices recording image and sound per unit (DEV-2)"),
                     [_("unit"), _("field duty"), _("devices"), _("minimum"), _("shortfall")],
                     [[r["unit"], _("yes") if r["field_duty"] else _("no"), r["devices"],
                       r["minimum"], r["short"] or ""] for r in data])
