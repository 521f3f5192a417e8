"""``witness secret status|export-recorded|approve-removal|remove``: the hand-off of state-
secret content (国家秘密) to offline custody (EVD-4, issue 5 item 4), as the person ``--as``
names: custodians record the export and run the removal, the label approver approves it."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.confidentiality import services
from witness.confidentiality.cli import add_as_argument, refusals, subject_for
from witness.confidentiality.models import HandoffState
from witness.core.cli_args import parse_local_datetime
from witness.core.commands import WitnessCommand
from witness.core.tables import table

HELP = _("The hand-off of state-secret content to offline custody: status, the recorded "
         "export, the approval of the removal, the removal.")
SUBCOMMANDS = {
    "status": _("Show one hand-off, or list those you may see."),
    "export-recorded": _("Record the offline export of a hand-off (custodian)."),
    "approve-removal": _("Approve removing the content from this system (the label "
                         "approver)."),
    "remove": _("Remove the content whose removal was approved (custodian); --dry-run shows "
                "what would go."),
}


def _state(value: str) -> str:
    return str(HandoffState(value).label) if value in HandoffState.values else value


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def _handoff(self, subject, pk):
        return services.handoff_for(subject, pk)

    # -- status -------------------------------------------------------------------------

    def add_status_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("handoff", nargs="?", type=int, metavar="HANDOFF",
                            help=gettext("the hand-off's number (default: list them)"))

    def do_status(self, *, as_user, handoff=None, **options):
        subject = subject_for(as_user)
        with refusals():
            authz.require(subject, "secret.handoff")
            if handoff is not None:
                return services.handoff_json(self._handoff(subject, handoff))
            return [services.handoff_json(h) for h in
                    services.visible_handoffs(subject).order_by("-marked_at", "-id")[:200]]

    def render_status(self, data):
        rows = [data] if isinstance(data, dict) else data
        out = table(gettext("State-secret hand-offs"),
                    [gettext("Number"), gettext("Recording"), gettext("State"),
                     gettext("Medium identifier"), gettext("Held at"), gettext("Next step")],
                    [[h["id"], h["recording"], _state(h["state"]), h["export"]["medium_id"],
                      h["export"]["held_at"], h["next_step"]] for h in rows])
        return out

    # -- export-recorded ----------------------------------------------------------------

    def add_export_recorded_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("handoff", type=int, metavar="HANDOFF",
                            help=gettext("the hand-off's number"))
        parser.add_argument("--medium", required=True,
                            help=gettext("the medium, e.g. DVD-R"))
        parser.add_argument("--medium-id", required=True,
                            help=gettext("the medium's identifier (disc number)"))
        parser.add_argument("--held-at", required=True,
                            help=gettext("where the medium is held"))
        parser.add_argument("--held-by", required=True, help=gettext("who holds it"))
        parser.add_argument("--exported-at", required=True, metavar="ISO",
                            help=gettext("when it was exported, local time"))
        parser.add_argument("--reference", default="",
                            help=gettext("the export's reference (e.g. its package)"))

    def do_export_recorded(self, *, as_user, handoff, medium, medium_id, held_at, held_by,
                           exported_at, reference, **options):
        subject = subject_for(as_user)
        with refusals():
            found = self._handoff(subject, handoff)
            done = services.record_export(
                subject, found, medium=medium, medium_id=medium_id, held_at=held_at,
                held_by=held_by, exported_at=parse_local_datetime(exported_at),
                reference=reference)
        return services.handoff_json(done)

    def render_export_recorded(self, data):
        return gettext("Export of hand-off %(id)s recorded: %(medium_id)s, held at "
                       "%(held_at)s.") % {"id": data["id"], **data["export"]}

    # -- approve-removal ----------------------------------------------------------------

    def add_approve_removal_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("handoff", type=int, metavar="HANDOFF",
                            help=gettext("the hand-off's number"))
        parser.add_argument("--reason", required=True,
                            help=gettext("why the content may be removed"))

    def do_approve_removal(self, *, as_user, handoff, reason, **options):
        subject = subject_for(as_user)
        with refusals():
            done = services.approve_removal(subject, self._handoff(subject, handoff), reason)
        return services.handoff_json(done)

    def render_approve_removal(self, data):
        return gettext("Removal of the content of hand-off %(id)s approved.") % data

    # -- remove -------------------------------------------------------------------------

    def add_remove_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("handoff", type=int, metavar="HANDOFF",
                            help=gettext("the hand-off's number"))
        parser.add_argument("--dry-run", action="store_true",
                            help=gettext("show what would be removed; remove nothing"))

    def do_remove(self, *, as_user, handoff, dry_run=False, **options):
        subject = subject_for(as_user)
        with refusals():
            result = services.remove(subject, self._handoff(subject, handoff),
                                     dry_run=dry_run)
        return result.as_json()

    def render_remove(self, data):
        rows = [[o["copy"], o["store"], o["key"], o["result"]] for o in data["objects"]]
        title = (gettext("Would remove (dry run)") if data["dry_run"] else
                 gettext("Nothing left to remove") if data["already_removed"] else
                 gettext("Removed"))
        return table(title, [gettext("Copy"), gettext("Store"), gettext("Key"),
                             gettext("Result")], rows)


