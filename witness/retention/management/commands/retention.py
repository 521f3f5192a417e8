"""``witness retention plan|propose|approve|reject|execute|show|recompute`` (RET-1, issue 7
item 2): what has expired and why, the custodian's batch, the approver's decision, the
purge, and the set-based recomputation of every keep-until."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.confidentiality.cli import add_as_argument, refusals, subject_for
from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.retention import keep, purge
from witness.retention.holds import actor_of

HELP = _("Retention (RET-1): the purge plan, batches proposed by the custodian and approved "
         "by the approver the profile names, the purge, and the keep-until recomputation.")
SUBCOMMANDS = {
    "plan": _("List the recordings whose keep-until has passed and that nothing keeps."),
    "propose": _("Propose a purge batch of expired recordings (custodian)."),
    "approve": _("Approve a proposed purge batch (the approver the profile names); the purge "
                 "then runs as a background task."),
    "reject": _("Reject a proposed purge batch, with the reason."),
    "execute": _("Run the purge of an approved batch now (what the background task does)."),
    "show": _("Show a purge batch and its items (with their tombstones), or list batches."),
    "recompute": _("Recompute every recording's keep-until (never shortened)."),
}
DRY_RUN = _("show what would happen; change nothing")


def _dry(parser):
    parser.add_argument("--dry-run", action="store_true", help=str(DRY_RUN))


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def add_plan_arguments(self, parser):
        add_as_argument(parser)

    def do_plan(self, *, as_user, **options):
        subject = subject_for(as_user)
        with refusals():
            authz.require(subject, "retention.view")
            return purge.plan(subject.agency)

    def render_plan(self, data):
        return table(gettext("Expired recordings"),
                     [gettext("Recording"), gettext("Device"), gettext("Start"),
                      gettext("Keep until"), gettext("Basis"), gettext("Profile")],
                     [[r["recording"], r["device"] or "—", r["started_at"], r["keep_until"],
                       r["basis"], r["profile"] or "—"] for r in data])

    def add_propose_arguments(self, parser):
        add_as_argument(parser)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--recording", type=int, action="append", metavar="ID",
                           help=gettext("an expired recording (repeatable)"))
        which.add_argument("--all-expired", action="store_true",
                           help=gettext("every recording the plan lists"))
        parser.add_argument("--note", default="", help=gettext("a note for the approver"))
        _dry(parser)

    def do_propose(self, *, as_user, recording=None, note="", dry_run=False, **options):
        subject = subject_for(as_user)
        with refusals():
            return purge.propose(subject, recording, note=note, dry_run=dry_run).as_json()

    def render_propose(self, data):
        if data["dry_run"]:
            return gettext("Would propose %(n)s recording(s) (dry run).") % {
                "n": len(data["items"])}
        return gettext("Purge batch %(id)s proposed: %(n)s recording(s); it waits for "
                       "approval.") % {"id": data["batch"]["id"], "n": len(data["items"])}

    def _decide_arguments(self, parser, reason_required: bool):
        add_as_argument(parser)
        parser.add_argument("batch", type=int, metavar="BATCH",
                            help=gettext("the purge batch's number"))
        parser.add_argument("--note", required=reason_required, default="",
                            help=gettext("a note; the reason, required to reject"))
        _dry(parser)

    def add_approve_arguments(self, parser):
        self._decide_arguments(parser, False)

    def add_reject_arguments(self, parser):
        self._decide_arguments(parser, True)

    def _decide(self, as_user, batch, note, dry_run, approve):
        subject = subject_for(as_user)
        with refusals():
            found = purge.batch_for(subject, batch)
            return purge.decide(subject, found, approve=approve, note=note,
                                dry_run=dry_run).as_json()

    def do_approve(self, *, as_user, batch, note="", dry_run=False, **options):
        return self._decide(as_user, batch, note, dry_run, True)

    def do_reject(self, *, as_user, batch, note="", dry_run=False, **options):
        return self._decide(as_user, batch, note, dry_run, False)

    def render_approve(self, data):
        return self._render_items(data, gettext("Approved"))

    def render_reject(self, data):
        return self._render_items(data, gettext("Rejected"))

    def _render_items(self, data, title):
        if data["dry_run"]:
            title = gettext("%(title)s (dry run: nothing was changed)") % {"title": title}
        return table(title, [gettext("Recording"), gettext("Result"), gettext("Why saved")],
                     [[i["recording"], i.get("result", "—"), i.get("saved_because") or "—"]
                      for i in data["items"]])

    def add_execute_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("batch", type=int, metavar="BATCH",
                            help=gettext("the purge batch's number"))
        _dry(parser)

    def do_execute(self, *, as_user, batch, dry_run=False, **options):
        subject = subject_for(as_user)
        with refusals():
            authz.require(subject, "retention.propose")
            found = purge.batch_for(subject, batch)
            return purge.execute(found.pk, actor=actor_of(subject), dry_run=dry_run).as_json()

    def render_execute(self, data):
        if data["dry_run"]:
            rows = [[i["recording"], o["copy"], o["key"], o["result"]]
                    for i in data["items"] for o in i["objects"]]
            return table(gettext("Would remove (dry run)"),
                         [gettext("Recording"), gettext("Copy"), gettext("Key"),
                          gettext("Result")], rows)
        return self._render_items(data, gettext("Purged"))

    def add_show_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("batch", type=int, nargs="?", metavar="BATCH",
                            help=gettext("the purge batch's number (default: list them)"))

    def do_show(self, *, as_user, batch=None, **options):
        subject = subject_for(as_user)
        with refusals():
            if batch is None:
                return [purge.batch_json(b) for b in purge.visible_batches(subject)[:200]]
            found = purge.batch_for(subject, batch)
            return {**purge.batch_json(found),
                    "item_list": [purge.item_state(i) for i in found.items.order_by("pk")]}

    def render_show(self, data):
        rows = [data] if isinstance(data, dict) else data
        return table(gettext("Purge batches"),
                     [gettext("Number"), gettext("State"), gettext("Proposed by"),
                      gettext("Approver"), gettext("Items")],
                     [[b["id"], b["state"], b["proposed_by"], b["approver"] or
                       b["approver_rule"], b["items"]] for b in rows])

    def add_recompute_arguments(self, parser):
        parser.add_argument("--recording", type=int, action="append", metavar="ID",
                            help=gettext("only this recording (repeatable)"))
        _dry(parser)

    def do_recompute(self, *, recording=None, dry_run=False, **options):
        from django.db import transaction

        with transaction.atomic():
            run = keep.recompute(actor=self.actor, recording_ids=recording,
                                 scope="cli" if recording is None else "cli: some")
            data = {"run": run.pk, "extended": run.changed, "dry_run": dry_run}
            if dry_run:
                transaction.set_rollback(True)
                data["run"] = None
        return data

    def render_recompute(self, data):
        text = gettext("%(n)s keep-until date(s) extended.") % {"n": data["extended"]}
        return text + (" " + gettext("(dry run: nothing was changed)") if data["dry_run"]
                       else "")
