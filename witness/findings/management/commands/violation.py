"""``witness violation list|decide``: the violation register (SUP-2; A18, B26)."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.confidentiality.cli import add_as_argument, refusals, subject_for
from witness.core.cli_args import short_time
from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.findings import workflow
from witness.findings.management.commands.finding import add_optional_as
from witness.findings.models import Violation, ViolationKind, ViolationOutcome

HELP = _("The violation register (SUP-2): list the violations; record the outcome of one "
         "(a bureau leader or the legal and supervision role).")
SUBCOMMANDS = {
    "list": _("List the violations (all, or those the person --as names may see)."),
    "decide": _("Record the outcome of a violation."),
}
OUTCOMES = [v for v in ViolationOutcome.values if v != ViolationOutcome.PENDING]


def _label(choices, value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def add_list_arguments(self, parser):
        add_optional_as(parser)
        parser.add_argument("--kind", choices=ViolationKind.values)
        parser.add_argument("--outcome", choices=ViolationOutcome.values)

    def do_list(self, *, as_user=None, kind=None, outcome=None, **options):
        if as_user:
            with refusals():
                qs = workflow.violations(subject_for(as_user))
        else:
            qs = Violation.objects.select_related("finding").prefetch_related("responsible")
        if kind:
            qs = qs.filter(kind=kind)
        if outcome:
            qs = qs.filter(outcome=outcome)
        return [workflow.violation_json(v) for v in qs.order_by("-registered_at", "-id")[:500]]

    def render_list(self, data):
        rows = [[v["id"], _label(ViolationKind, v["kind"]), v["responsible"],
                 v["finding"] or "", v["rule"] or "", short_time(v["registered_at"]),
                 _label(ViolationOutcome, v["outcome"])] for v in data]
        return table(gettext("Violation register"), [
            gettext("Number"), gettext("Kind"), gettext("Person responsible"),
            gettext("Finding"), gettext("Rule"), gettext("Registered at"),
            gettext("Outcome")], rows)

    def add_decide_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("violation", type=int, metavar="ID", help=gettext(
            "the violation's number"))
        parser.add_argument("--outcome", required=True, choices=OUTCOMES)
        parser.add_argument("--note", default="", help=gettext("a note on the decision"))

    def do_decide(self, *, as_user, violation, outcome, note, **options):
        subject = subject_for(as_user)
        with refusals():
            found = workflow.violation_for(subject, violation)
            decided = workflow.record_outcome(subject, found, outcome=outcome, note=note)
        return workflow.violation_json(decided)

    def render_decide(self, data):
        return gettext("Violation %(id)s: %(outcome)s.") % {
            **data, "outcome": _label(ViolationOutcome, data["outcome"])}
