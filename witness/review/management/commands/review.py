"""``witness review create|sample|approve|score|close|report|show|list``: review campaigns
(评查, SUP-1; inspections, SUP-3), as the person ``--as`` names (their roles decide)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.confidentiality.cli import add_as_argument, refusals, subject_for
from witness.core.cli_args import (
    choice_label,
    parse_local_datetime,
    resolve_person,
    resolve_unit,
    short_time,
)
from witness.core.commands import WitnessCommand
from witness.core.errors import WitnessError
from witness.core.tables import table
from witness.review import report, services
from witness.review.models import CampaignKind, CampaignStatus, Criterion, Result, Stratum

HELP = _("Annual review (评查) and inspections: campaigns, their reproducible samples, the "
         "leader's approval (viewing for the reviewers), checklist scores, the report.")
SUBCOMMANDS = {
    "create": _("Create a review campaign (legal and supervision role)."),
    "sample": _("Draw the campaign's sample from its seed (once, while a draft)."),
    "approve": _("Approve a campaign: its reviewers may view the sampled recordings "
                 "(bureau leader)."),
    "score": _("Score a sampled activity against the checklist (a reviewer)."),
    "close": _("Close a campaign; the reviewers' viewing ends."),
    "report": _("Write the campaign report to a CSV or PDF file."),
    "show": _("Show a campaign and its sample."),
    "list": _("List the campaigns you may see."),
}


def _date(text: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise WitnessError(_("%(text)s is not a date; write it as 2026-01-31."),
                           code="bad_date", text=text) from None


def _results(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        criterion, sep, result = pair.partition("=")
        if not sep:
            raise WitnessError(_("Write each result as CRITERION=RESULT, such as "
                                 "civil_conduct=pass."), code="bad_result_arg")
        out[criterion.strip()] = result.strip()
    return out


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    # --- create ---------------------------------------------------------------------------

    def add_create_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("--name", required=True, help=gettext("the campaign's name"))
        parser.add_argument("--kind", choices=CampaignKind.values, default=CampaignKind.ANNUAL,
                            help=gettext("annual review or ad-hoc inspection"))
        parser.add_argument("--from", dest="period_from", required=True, metavar="DATE",
                            help=gettext("first day of the period (2026-01-01)"))
        parser.add_argument("--to", dest="period_to", required=True, metavar="DATE",
                            help=gettext("last day of the period (2026-12-31)"))
        parser.add_argument("--unit", dest="units", action="append", required=True,
                            metavar="CODE", help=gettext("a unit (code or name); repeat"))
        parser.add_argument("--reviewer", dest="reviewers", action="append", required=True,
                            metavar="PERSON",
                            help=gettext("a reviewer (badge number or name); repeat"))
        parser.add_argument("--valid-until", required=True, metavar="ISO",
                            help=gettext("the reviewers' viewing ends then (local time)"))
        parser.add_argument("--per-unit", type=int, default=3,
                            help=gettext("activities drawn per unit (default 3)"))
        parser.add_argument("--per-officer", type=int, default=1,
                            help=gettext("activities each officer is on, at least "
                                         "(default 1)"))
        parser.add_argument("--seed", type=int, help=gettext(
            "the random seed (default: chosen at random and stored)"))
        parser.add_argument("--note", default="", help=gettext("a note"))

    def do_create(self, *, as_user, name, kind, period_from, period_to, units, reviewers,
                  valid_until, per_unit, per_officer, seed=None, note="", **options):
        subject = subject_for(as_user)
        with refusals():
            agency = subject.agency
            if agency is None:
                raise WitnessError(_("Your account is not linked to a person of the agency."),
                                   code="no_person")
            campaign = services.create_campaign(
                subject, name=name, kind=kind, period_from=_date(period_from),
                period_to=_date(period_to),
                units=[resolve_unit(agency, u) for u in units],
                reviewers=[resolve_person(agency, r) for r in reviewers],
                valid_until=parse_local_datetime(valid_until), per_unit=per_unit,
                per_officer=per_officer, seed=seed, note=note)
        return services.campaign_json(campaign)

    def render_create(self, data):
        return gettext("Campaign %(id)s created (seed %(seed)s); draw its sample with "
                       "`witness review sample %(id)s`.") % data

    # --- sample / approve / close ----------------------------------------------------------

    def _campaign_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("campaign", type=int, metavar="CAMPAIGN",
                            help=gettext("the campaign's number"))

    add_sample_arguments = _campaign_arguments
    add_approve_arguments = _campaign_arguments
    add_show_arguments = _campaign_arguments

    def add_close_arguments(self, parser):
        self._campaign_arguments(parser)
        parser.add_argument("--note", default="", help=gettext("a note"))

    def do_sample(self, *, as_user, campaign, **options):
        subject = subject_for(as_user)
        with refusals():
            found = services.campaign_for(subject, campaign)
            items = services.sample(subject, found)
        return {"campaign": found.pk, "seed": found.seed, "items": len(items)}

    def render_sample(self, data):
        return gettext("%(items)s activities drawn for campaign %(campaign)s "
                       "(seed %(seed)s).") % data

    def do_approve(self, *, as_user, campaign, **options):
        subject = subject_for(as_user)
        with refusals():
            found = services.approve(subject, services.campaign_for(subject, campaign))
        return services.campaign_json(found)

    def render_approve(self, data):
        return gettext("Campaign %(id)s approved; its reviewers may view the sampled "
                       "recordings until %(until)s.") % {
            **data, "until": short_time(data["valid_until"])}

    def do_close(self, *, as_user, campaign, note="", **options):
        subject = subject_for(as_user)
        with refusals():
            found = services.close(subject, services.campaign_for(subject, campaign), note)
        return services.campaign_json(found)

    def render_close(self, data):
        return gettext("Campaign %(id)s closed.") % data

    # --- score ----------------------------------------------------------------------------

    def add_score_arguments(self, parser):
        add_as_argument(parser)
        parser.add_argument("item", type=int, metavar="ITEM",
                            help=gettext("the sampled activity's number (see `show`)"))
        parser.add_argument("--result", dest="results", action="append", required=True,
                            metavar="CRITERION=RESULT", help=gettext(
                                "a result; criteria: %(criteria)s; results: %(results)s")
                            % {"criteria": ", ".join(Criterion.values),
                               "results": ", ".join(Result.values)})
        parser.add_argument("--note", default="", help=gettext(
            "a note for every criterion given (required for a fail)"))

    def do_score(self, *, as_user, item, results, note="", **options):
        subject = subject_for(as_user)
        with refusals():
            found = services.item_for(subject, item)
            given = _results(results)
            rows = services.score(subject, found, given, {c: note for c in given})
        return {"item": found.pk, "campaign": found.campaign_id,
                "scores": [{"criterion": s.criterion, "result": s.result, "note": s.note}
                           for s in rows]}

    def render_score(self, data):
        rows = [[choice_label(Criterion, s["criterion"]), choice_label(Result, s["result"]),
                 s["note"]] for s in data["scores"]]
        return table(gettext("Scores of item %(item)s") % data,
                     [gettext("Criterion"), gettext("Result"), gettext("Note")], rows)

    # --- report ---------------------------------------------------------------------------

    def add_report_arguments(self, parser):
        self._campaign_arguments(parser)
        out = parser.add_mutually_exclusive_group(required=True)
        out.add_argument("--csv", type=Path, metavar="FILE",
                         help=gettext("write CSV (UTF-8 with BOM)"))
        out.add_argument("--pdf", type=Path, metavar="FILE", help=gettext("write PDF"))

    def do_report(self, *, as_user, campaign, csv=None, pdf=None, **options):
        subject = subject_for(as_user)
        target, fmt = (csv, "csv") if csv else (pdf, "pdf")
        if not target.parent.is_dir():
            raise WitnessError(_("The folder %(folder)s does not exist."), code="no_folder",
                               folder=str(target.parent))
        with refusals():
            found = services.campaign_for(subject, campaign)
            content = report.export(subject, found, fmt)
        target.write_bytes(content)
        return {"file": str(target), "format": fmt, "bytes": len(content)}

    def render_report(self, data):
        return gettext("Report written to %(file)s (%(format)s, %(bytes)s bytes).") % data

    # --- show / list ----------------------------------------------------------------------

    def do_show(self, *, as_user, campaign, **options):
        subject = subject_for(as_user)
        with refusals():
            found = services.campaign_for(subject, campaign)
        scored = services.scored_counts(found)
        data = services.campaign_json(found)
        data["sample"] = [services.item_json(i, scored) for i in services.items_of(found)]
        return data

    def render_show(self, data):
        head = gettext("Campaign %(id)s %(name)s: %(status)s, %(from)s — %(to)s, seed "
                       "%(seed)s, reviewers %(reviewers)s") % {
            **data, "status": choice_label(CampaignStatus, data["status"]),
            "from": data["period_from"], "to": data["period_to"],
            "reviewers": "、".join(data["reviewers"])}
        rows = [[i["id"], i["position"], f"#{i['activity']}", i["unit"],
                 choice_label(Stratum, i["stratum"]), i["officer"] or "",
                 short_time(i["arrived_at"]), i["place"],
                 f"{i['criteria_scored']}/{len(Criterion)}"] for i in data["sample"]]
        self.print(head)
        return table(gettext("Sample"), [
            gettext("Item"), gettext("Position"), gettext("Activity"), gettext("Unit"),
            gettext("Stratum"), gettext("Officer"), gettext("Arrival"), gettext("Place"),
            gettext("Criteria scored")], rows)

    def add_list_arguments(self, parser):
        add_as_argument(parser)

    def do_list(self, *, as_user, **options):
        subject = subject_for(as_user)
        with refusals():
            from witness.access import authz

            authz.require(subject, "review.score")
            campaigns = (services.visible_campaigns(subject)
                         .select_related("created_by", "approved_by")
                         .order_by("-created_at", "-id")[:200])
            return [services.campaign_json(c) for c in campaigns]

    def render_list(self, data):
        rows = [[c["id"], c["name"], choice_label(CampaignKind, c["kind"]),
                 choice_label(CampaignStatus, c["status"]),
                 f"{c['period_from']} — {c['period_to']}", c["items"],
                 "、".join(c["reviewers"])] for c in data]
        return table(gettext("Review campaigns"), [
            gettext("Number"), gettext("Name"), gettext("Kind"), gettext("Status"),
            gettext("Period"), gettext("Sample"), gettext("Reviewers")], rows)
