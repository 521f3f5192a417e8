"""``witness label request|decide|list``: confidentiality label changes (EVD-4, issue 5
item 4), asked for and decided as the person ``--as`` names."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.access.labels import Label
from witness.confidentiality import services
from witness.confidentiality.cli import add_as_argument, refusals, subject_for
from witness.confidentiality.models import ChangeState
from witness.core.cli_args import short_time
from witness.core.commands import WitnessCommand
from witness.core.errors import NotFound
from witness.core.tables import table

HELP = _("Confidentiality labels (一般, 内部, 个人隐私, 商业秘密, 国家秘密): ask to change the "
         "label of a recording, activity or case; approve or reject; list.")
SUBCOMMANDS = {
    "request": _("Ask to change the label of a recording, an activity or a case."),
    "decide": _("Approve or reject a pending label change (the approver the profile names)."),
    "list": _("List label changes: those you may see, or those waiting for you."),
}


def _label(value: str) -> str:
    return str(Label(value).label) if value in Label.values else value


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def add_request_arguments(self, parser):
        add_as_argument(parser)
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--recording", type=int, metavar="ID",
                            help=gettext("the recording's number"))
        target.add_argument("--activity", type=int, metavar="ID",
                            help=gettext("the activity's number"))
        target.add_argument("--case", type=int, metavar="ID", help=gettext("the case's number"))
        parser.add_argument("--label", required=True, choices=Label.values,
                            help=gettext("the label asked for"))
        parser.add_argument("--reason", required=True, help=gettext("why it should change"))

    def do_request(self, *, as_user, label, reason, **options):
        subject = subject_for(as_user)
        kind = next(k for k in services.KINDS if options.get(k) is not None)
        with refusals():
            target = services.target_for(kind, options[kind])
            change = services.request_change(subject, target, label, reason)
        return services.change_json(change)

    def render_request(self, data):
        return gettext("Label change %(id)s asked for: %(target)s, %(old)s → %(new)s; it "
                       "waits for %(approver)s.") % {
            **data, "old": _label(data["old_label"]), "new": _label(data["new_label"])}

    def add_decide_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("change", type=int, metavar="CHANGE", help=gettext(
            "the label change's number"))
        choice = parser.add_mutually_exclusive_group(required=True)
        choice.add_argument("--approve", action="store_true", help=gettext("approve it"))
        choice.add_argument("--reject", action="store_true", help=gettext("reject it"))
        parser.add_argument("--note", default="", help=gettext(
            "a note; the reason, required to reject"))

    def do_decide(self, *, as_user, change, approve, note, **options):
        subject = subject_for(as_user)
        with refusals():
            found = services.visible_changes(subject).filter(pk=change).first()
            if found is None:
                raise NotFound(_("There is no label change with the number %(pk)s."),
                               pk=change)
            decided = services.decide(subject, found, approve=approve, note=note)
        data = services.change_json(decided)
        data["handoffs"] = list(decided.handoffs.values_list("pk", flat=True))
        return data

    def render_decide(self, data):
        text = (gettext("Label change %(id)s approved: %(target)s is now %(new)s.")
                if data["state"] == ChangeState.APPROVED
                else gettext("Label change %(id)s rejected."))
        text %= {**data, "new": _label(data["new_label"])}
        if data["handoffs"]:
            text += "\n" + gettext("State-secret hand-offs started: %(ids)s.") % {
                "ids": ", ".join(str(pk) for pk in data["handoffs"])}
        return text

    def add_list_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("--pending", action="store_true",
                            help=gettext("only those waiting for your decision"))

    def do_list(self, *, as_user, pending=False, **options):
        subject = subject_for(as_user)
        with refusals():
            authz.require(subject, "recording.label")
            changes = (services.to_decide(subject) if pending else
                       list(services.visible_changes(subject).order_by("-requested_at",
                                                                       "-id")[:200]))
        return [services.change_json(c) for c in changes]

    def render_list(self, data):
        rows = [[c["id"], c["target"], _label(c["old_label"]), _label(c["new_label"]),
                 str(ChangeState(c["state"]).label), c["requested_by"],
                 short_time(c["requested_at"]), c["approver"]] for c in data]
        columns = [gettext("Number"), gettext("Item"), gettext("Label before"),
                   gettext("Label asked for"), gettext("State"), gettext("Requested by"),
                   gettext("Requested at"), gettext("Approver")]
        return table(gettext("Label changes"), columns, rows)
