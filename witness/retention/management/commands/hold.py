"""``witness hold propose|approve|reject|release|list``: preservation holds (RET-2, A16) on a
recording, an activity or a case, as the person ``--as`` names."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.confidentiality.cli import add_as_argument, refusals, subject_for
from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.retention import holds
from witness.retention.models import HoldReason

HELP = _("Preservation holds (RET-2, A16): propose one on a recording, activity or case; "
         "approve, reject or release it; list them.")
SUBCOMMANDS = {
    "propose": _("Propose a hold, with its reason from A16."),
    "approve": _("Approve a proposed hold (a leader or the legal role)."),
    "reject": _("Reject a proposed hold, with the reason."),
    "release": _("Release a hold in force, with the reason."),
    "list": _("List the holds of your agency."),
}
DRY_RUN = _("show what would happen; change nothing")


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def _run(self, dry_run, work):
        with refusals(), transaction.atomic():
            data = holds.hold_json(work())
            data["dry_run"] = dry_run
            if dry_run:
                transaction.set_rollback(True)
        return data

    def add_propose_arguments(self, parser):
        add_as_argument(parser)
        target = parser.add_mutually_exclusive_group(required=True)
        for kind in holds.KINDS:
            target.add_argument(f"--{kind}", type=int, metavar="ID",
                                help=gettext("the %(kind)s's number") % {"kind": kind})
        parser.add_argument("--reason", required=True, choices=HoldReason.values,
                            help=gettext("A16(1) dispute, A16(2) obstruction, A16(3) major"))
        parser.add_argument("--note", default="", help=gettext("what happened"))
        parser.add_argument("--dry-run", action="store_true", help=str(DRY_RUN))

    def do_propose(self, *, as_user, reason, note="", dry_run=False, **options):
        subject = subject_for(as_user)
        kind = next(k for k in holds.KINDS if options.get(k) is not None)
        with refusals():
            target = holds.target_for(subject, kind, options[kind])
        return self._run(dry_run, lambda: holds.propose(subject, target, reason, note))

    def render_propose(self, data):
        return gettext("Hold %(id)s proposed on %(target)s %(target_id)s.") % data

    def _decide_arguments(self, parser, note_required):
        add_as_argument(parser)
        parser.add_argument("hold", type=int, metavar="HOLD", help=gettext("the hold's number"))
        parser.add_argument("--note", required=note_required, default="",
                            help=gettext("a note; the reason where required"))
        parser.add_argument("--dry-run", action="store_true", help=str(DRY_RUN))

    def add_approve_arguments(self, parser):
        self._decide_arguments(parser, False)

    def add_reject_arguments(self, parser):
        self._decide_arguments(parser, True)

    def add_release_arguments(self, parser):
        self._decide_arguments(parser, True)

    def _decide(self, as_user, hold, dry_run, work):
        subject = subject_for(as_user)
        with refusals():
            found = holds.hold_for(subject, hold)
        return self._run(dry_run, lambda: work(subject, found))

    def do_approve(self, *, as_user, hold, note="", dry_run=False, **options):
        return self._decide(as_user, hold, dry_run,
                            lambda s, h: holds.decide(s, h, approve=True, note=note))

    def do_reject(self, *, as_user, hold, note="", dry_run=False, **options):
        return self._decide(as_user, hold, dry_run,
                            lambda s, h: holds.decide(s, h, approve=False, note=note))

    def do_release(self, *, as_user, hold, note="", dry_run=False, **options):
        return self._decide(as_user, hold, dry_run, lambda s, h: holds.release(s, h, note))

    def render_approve(self, data):
        return gettext("Hold %(id)s: %(state)s.") % data

    render_reject = render_release = render_approve

    def add_list_arguments(self, parser):
        add_as_argument(parser)

    def do_list(self, *, as_user, **options):
        subject = subject_for(as_user)
        with refusals():
            authz.require(subject, "hold.view")
            return [holds.hold_json(h) for h in holds.visible_holds(subject)[:500]]

    def render_list(self, data):
        return table(gettext("Preservation holds"),
                     [gettext("Number"), gettext("On"), gettext("Reason"), gettext("State"),
                      gettext("Proposed by")],
                     [[h["id"], f'{h["target"]} {h["target_id"]}', h["reason_text"],
                       h["state"], h["proposed_by"]] for h in data])
