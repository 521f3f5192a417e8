"""``witness complaint register|list``: complaints and petitions (投诉/信访) against an
activity; registering one proposes a preservation hold on it (RET-2, A16(1))."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.confidentiality.cli import add_as_argument, refusals, subject_for
from witness.core.cli_args import parse_local_datetime
from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.retention import holds
from witness.retention.models import ComplaintKind

HELP = _("Complaints and petitions (投诉/信访) against an enforcement activity; registering "
         "one proposes a preservation hold (A16(1)).")
SUBCOMMANDS = {
    "register": _("Register a complaint or petition; a hold on the activity is proposed."),
    "list": _("List the complaints and petitions of your agency."),
}


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def add_register_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("--activity", type=int, required=True, metavar="ID",
                            help=gettext("the activity complained about"))
        parser.add_argument("--kind", required=True, choices=ComplaintKind.values,
                            help=gettext("complaint (投诉) or petition (信访)"))
        parser.add_argument("--complainant", required=True, help=gettext("who complains"))
        parser.add_argument("--received-at", required=True, metavar="ISO",
                            help=gettext("when it was received, local time"))
        parser.add_argument("--summary", required=True, help=gettext("what it says"))
        parser.add_argument("--dry-run", action="store_true",
                            help=gettext("show what would happen; change nothing"))

    def do_register(self, *, as_user, activity, kind, complainant, received_at, summary,
                    dry_run=False, **options):
        subject = subject_for(as_user)
        with refusals(), transaction.atomic():
            target = holds.target_for(subject, "activity", activity)
            complaint, hold = holds.register_complaint(
                subject, target, kind=kind, complainant=complainant,
                received_at=parse_local_datetime(received_at), summary=summary)
            data = {**holds.complaint_json(complaint), "hold": holds.hold_json(hold),
                    "dry_run": dry_run}
            if dry_run:
                transaction.set_rollback(True)
        return data

    def render_register(self, data):
        return gettext("Complaint %(id)s registered; hold %(hold)s proposed on the "
                       "activity.") % {"id": data["id"], "hold": data["hold"]["id"]}

    def add_list_arguments(self, parser):
        add_as_argument(parser)

    def do_list(self, *, as_user, **options):
        subject = subject_for(as_user)
        with refusals():
            authz.require(subject, "hold.view")
            return [holds.complaint_json(c) for c in holds.visible_complaints(subject)[:500]]

    def render_list(self, data):
        return table(gettext("Complaints and petitions"),
                     [gettext("Number"), gettext("Activity"), gettext("Kind"),
                      gettext("Complainant"), gettext("Holds")],
                     [[c["id"], c["activity"], c["kind"], c["complainant"],
                       ", ".join(map(str, c["holds"]))] for c in data])
