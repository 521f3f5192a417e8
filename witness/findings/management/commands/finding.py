"""``witness finding list|show|explain|decide|escalate``: the findings workflow from the
command line (issue 6 item 2; ACT-5 B16, SUP-2), as the person ``--as`` names — the same
checks as the web pages (witness.findings.workflow)."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.confidentiality.cli import add_as_argument, refusals, subject_for
from witness.core.cli_args import short_time
from witness.core.commands import WitnessCommand
from witness.core.errors import NotFound
from witness.core.tables import table
from witness.findings import workflow
from witness.findings.models import Finding, FindingStatus, StepKind, ViolationKind
from witness.org.models import Person

HELP = _("Findings of the compliance rules: list and show them; explain one (the person "
         "responsible), accept or reject the explanation (the unit head), escalate it to a "
         "violation (SUP-2).")
SUBCOMMANDS = {
    "list": _("List findings (all, or those the person --as names may see)."),
    "show": _("Show a finding and its steps."),
    "explain": _("Explain a finding (the person responsible; e.g. the reason for an "
                 "interruption, B16)."),
    "decide": _("Accept or reject the explanation of a finding (the unit head)."),
    "escalate": _("Escalate a finding to a violation in the register (SUP-2)."),
}
LIST_LIMIT = 500


def _status(value: str) -> str:
    return str(FindingStatus(value).label) if value in FindingStatus.values else value


def add_optional_as(parser) -> None:
    parser.add_argument("--as", dest="as_user", metavar="USERNAME", help=gettext(
        "show only what this user may see"))


def _finding(subject, pk) -> Finding:
    if subject is None:
        found = Finding.objects.select_related("unit", "responsible", "content_type") \
            .filter(pk=pk).first()
        if found is None:
            raise NotFound(_("There is no finding with the number %(pk)s."), pk=pk)
        return found
    return workflow.finding_for(subject, pk)


def _shown(finding: Finding) -> dict:
    data = workflow.finding_json(finding)
    data["steps"] = [workflow.step_json(s) for s in workflow.steps_of(finding)]
    data["violations"] = [workflow.violation_json(v) for v in
                          finding.violations.order_by("registered_at", "id")]
    return data


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def add_list_arguments(self, parser):
        add_optional_as(parser)
        parser.add_argument("--status", choices=FindingStatus.values,
                            help=gettext("only findings in this state"))
        parser.add_argument("--rule", help=gettext(
            "only this rule, or every rule of a requirement (e.g. ACT-5)"))
        parser.add_argument("--unit", metavar="CODE", help=gettext("only this unit's (its code)"))

    def do_list(self, *, as_user=None, status=None, rule=None, unit=None, **options):
        if as_user:
            with refusals():
                qs = workflow.findings(subject_for(as_user))
        else:
            qs = Finding.objects.select_related("unit", "responsible", "content_type")
        qs = workflow.filtered(qs, status=status, rule=rule, unit=unit)
        return [workflow.finding_json(f) for f in qs.order_by("-raised_at", "-id")[:LIST_LIMIT]]

    def render_list(self, data):
        rows = [[f["id"], f["rule"], f["subject"], f["unit"] or "", f["responsible"] or "",
                 short_time(f["occurred_at"]), _status(f["status"])] for f in data]
        return table(gettext("Findings"), [
            gettext("Number"), gettext("Rule"), gettext("About"), gettext("Unit"),
            gettext("Person responsible"), gettext("Occurred at"), gettext("Status")], rows)

    def add_show_arguments(self, parser):
        add_optional_as(parser)
        parser.add_argument("finding", type=int, metavar="ID", help=gettext(
            "the finding's number"))

    def do_show(self, *, finding, as_user=None, **options):
        with refusals():
            subject = subject_for(as_user) if as_user else None
            return _shown(_finding(subject, finding))

    def render_show(self, data):
        finding, unit, person = gettext("Finding"), gettext("Unit"), gettext("Person responsible")
        violation = gettext("Violation")
        lines = [f"{finding} {data['id']}: {data['rule']} · {data['subject']} · "
                 f"{_status(data['status'])}",
                 f"{unit}: {data['unit'] or '—'} · {person}: {data['responsible'] or '—'}"]
        for step in data["steps"]:
            kind = str(StepKind(step["kind"]).label) if step["kind"] in StepKind.values \
                else step["kind"]
            lines.append(f"  {short_time(step['at'])}  {kind} · {step['person'] or '—'}"
                         + (f": {step['text']}" if step["text"] else ""))
        for v in data["violations"]:
            lines.append(f"  {violation} {v['id']}: {v['kind']} · {v['responsible']} · "
                         f"{v['outcome']}")
        return "\n".join(lines)

    def add_explain_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("finding", type=int, metavar="ID", help=gettext(
            "the finding's number"))
        parser.add_argument("--text", required=True, help=gettext("the explanation"))

    def do_explain(self, *, as_user, finding, text, **options):
        subject = subject_for(as_user)
        with refusals():
            found = workflow.explain(subject, workflow.finding_for(subject, finding), text)
        return _shown(found)

    def render_explain(self, data):
        return gettext("Finding %(id)s is explained; the unit head is notified.") % data

    def add_decide_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("finding", type=int, metavar="ID", help=gettext(
            "the finding's number"))
        choice = parser.add_mutually_exclusive_group(required=True)
        choice.add_argument("--accept", action="store_true", help=gettext(
            "accept the explanation"))
        choice.add_argument("--reject", action="store_true", help=gettext(
            "reject the explanation"))
        parser.add_argument("--reason", default="", help=gettext(
            "the reason; required to reject"))

    def do_decide(self, *, as_user, finding, accept, reason, **options):
        subject = subject_for(as_user)
        with refusals():
            found = workflow.decide(subject, workflow.finding_for(subject, finding),
                                    accept=accept, reason=reason)
        return _shown(found)

    def render_decide(self, data):
        return gettext("Finding %(id)s: %(status)s.") % {**data,
                                                        "status": _status(data["status"])}

    def add_escalate_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("finding", type=int, metavar="ID", help=gettext(
            "the finding's number"))
        parser.add_argument("--kind", required=True, choices=ViolationKind.values,
                            help=gettext("the kind of violation (A18, B26)"))
        parser.add_argument("--description", required=True, help=gettext(
            "what the violation was"))
        parser.add_argument("--person", metavar="BADGE", help=gettext(
            "the badge number of the person responsible, if not the finding's"))

    def do_escalate(self, *, as_user, finding, kind, description, person=None, **options):
        subject = subject_for(as_user)
        with refusals():
            found = workflow.finding_for(subject, finding)
            named = None
            if person:
                named = Person.objects.filter(badge_number=person).first()
                if named is None:
                    raise NotFound(_("There is no person with the badge number %(badge)s."),
                                   badge=person)
            violation = workflow.escalate(subject, found, kind=kind, description=description,
                                          person=named)
        return workflow.violation_json(violation)

    def render_escalate(self, data):
        return gettext("Violation %(id)s is registered against %(responsible)s.") % data
