"""``witness check``: run the compliance rules and print what they found (issue 6).

Without options every rule runs for every agency with a profile (what the nightly job
does); ``--activity ID …`` re-decides only what those activities touch (what runs after an
ingest); ``--rule ID …`` runs only the rules named; ``--list-rules`` lists the rules and
runs nothing. Per rule it prints the breaches found, the findings raised, resolved and
reopened and the time taken, then the open findings. Exit status 0 unless the check
failed to run (findings are the check's result, not a failure).
"""

from __future__ import annotations

import contextlib
import json
import sys

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.access import authz
from witness.activities.models import Activity
from witness.core.commands import WitnessCommand
from witness.core.errors import NotFound, WitnessError
from witness.core.tables import table
from witness.findings.models import Finding, FindingStatus
from witness.recordings.models import Recording

from ... import checks, engine
from ...rules import all_rules, get

SHOWN = 500  # open findings listed per agency (the count says how many there are)


def describe(rule) -> dict:
    return {"id": rule.id, "requirement": rule.requirement, "articles": rule.articles,
            "title": str(rule.title), "subject": rule.subject, "severity": rule.severity,
            "incremental": rule.touched is not None,
            "by_activity_time": rule.by_activity_time}


def short(details: dict, width: int = 80) -> str:
    shown = {k: v for k, v in details.items()
             if k not in ("requirement", "articles", "for_roles")}
    text = json.dumps(shown, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[:width - 1] + "…"


class Command(WitnessCommand):
    help = gettext_lazy(
        "Run the compliance rules (all agencies with a profile, or only what some "
        "activities touch) and print the findings. Exit status 0 unless the check failed "
        "to run.")

    def add_command_arguments(self, parser):
        parser.add_argument("--activity", type=int, nargs="+", action="extend",
                            metavar="ID", help=str(gettext_lazy(
                                "check only what these activities touch (incremental)")))
        parser.add_argument("--rule", nargs="+", action="extend", metavar="ID",
                            help=str(gettext_lazy("run only these rules")))
        parser.add_argument("--list-rules", action="store_true",
                            help=str(gettext_lazy("list the rules and run nothing")))
        # `witness check` takes the name of Django's system check; that check stays here
        parser.add_argument("--system", action="store_true", help=str(gettext_lazy(
            "run Django's system checks instead (configuration), as `manage.py check`")))
        parser.add_argument("--deploy", action="store_true", help=str(gettext_lazy(
            "with --system: also the checks for a production deployment")))

    # -- running ---------------------------------------------------------------------------

    def selected_rules(self, names):
        if not names:
            return all_rules()
        unknown = [n for n in names if get(n) is None]
        if unknown:
            raise NotFound(gettext_lazy("No rule named %(names)s; see witness check "
                                        "--list-rules."), code="no_rule",
                           names=", ".join(unknown))
        return [get(n) for n in dict.fromkeys(names)]

    def system_checks(self, deploy: bool) -> dict:
        from django.core.management import call_command
        from django.core.management.base import SystemCheckError
        from django.core.management.commands.check import Command as DjangoCheck

        try:
            call_command(DjangoCheck(stdout=self.stderr._out), deploy=deploy)
        except SystemCheckError as exc:
            raise WitnessError(gettext_lazy("Django's system checks found problems:\n%(problems)s"),
                               code="system_check_failed", problems=str(exc)) from exc
        return {"ok": True, "system_checks": "passed", "deploy": deploy}

    def run(self, activity=None, rule=None, list_rules=False, system=False, deploy=False,
            **options):
        if system:
            return self.system_checks(deploy)
        if deploy:
            raise WitnessError(gettext_lazy("--deploy goes with --system."),
                               code="bad_arguments")
        rules = self.selected_rules(rule)
        if list_rules:
            return {"rules": [describe(r) for r in rules]}
        if activity:
            grouped = checks.by_agency(activity)  # unknown ids: an error, before any run
            agencies = list(checks.agencies_with_profile().filter(pk__in=grouped))
            if not agencies:
                raise NotFound(gettext_lazy("None of these activities belongs to an agency "
                                            "with a profile."), code="no_profile")
        else:
            agencies = list(checks.agencies_with_profile())
            if not agencies:
                raise NotFound(gettext_lazy("No agency has a profile yet; apply one with "
                                            "'witness profile apply NAME'."),
                               code="no_profile")
        out = []
        steps = len([r for r in rules if not activity or r.touched is not None])
        with self.display(len(agencies) * steps) as progress:
            for agency in agencies:
                ids = grouped[agency.pk] if activity else None
                try:
                    check = engine.run(agency, activity_ids=ids, rules=rules,
                                       actor=self.actor, progress=progress(agency))
                except WitnessError:
                    raise
                except Exception as exc:  # recorded as failed in its CheckRun
                    raise WitnessError(gettext_lazy(
                        "The check of %(agency)s failed to run: %(error)s"),
                        code="check_failed", agency=agency.name,
                        error=f"{type(exc).__name__}: {exc}") from exc
                out.append(self.report(agency, check, rules, ids))
        return {"ok": True, "agencies": out}

    def display(self, total: int):
        """A rich progress bar, one step per rule and agency, on a terminal; else none."""
        if self.as_json or not sys.stderr.isatty():
            return contextlib.nullcontext(lambda agency: None)
        return _Display(total)

    def report(self, agency, check, rules, activity_ids) -> dict:
        by_id = {r.id: r for r in rules}
        rows = []
        for rule_id, counts in check.per_rule.items():
            rule = by_id[rule_id]
            rows.append({"id": rule_id, "requirement": rule.requirement,
                         "title": str(rule.title), **counts})
        findings = self.open_findings(agency, check, list(check.per_rule), activity_ids)
        total = findings.count()
        shown = list(findings.select_related("unit", "responsible", "content_type")
                     [:SHOWN])
        return {
            "agency": agency.code, "agency_name": agency.name, "check_run": check.pk,
            "kind": check.kind, "status": check.status, "activities": check.activity_ids,
            "rules": rows, "open_total": total,
            "open_findings": [{
                "id": f.pk, "rule": f.rule_id,
                "object": f"{f.content_type.app_label}.{f.content_type.model}",
                "object_id": f.object_id, "key": f.key, "severity": f.severity,
                "unit": f.unit.name if f.unit else None,
                "responsible": f.responsible.name if f.responsible else None,
                "occurred_at": f.occurred_at, "details": f.details} for f in shown],
        }

    def open_findings(self, agency, check, rule_ids, activity_ids):
        """Open findings of the rules run: the agency's (or of no unit) on a full check;
        on an incremental one, those on the activities and their recordings, and those the
        run raised or reopened."""
        findings = Finding.objects.filter(rule_id__in=rule_ids, status=FindingStatus.OPEN)
        if activity_ids is None:
            return findings.filter(authz.agency_findings_q(agency))
        results = getattr(check, "results", {}).values()
        touched = [pk for r in results for pk in (*r.raised_ids, *r.reopened_ids)]
        activity_type = ContentType.objects.get_for_model(Activity)
        recording_type = ContentType.objects.get_for_model(Recording)
        return findings.filter(
            Q(pk__in=touched)
            | Q(content_type=activity_type, object_id__in=activity_ids)
            | Q(content_type=recording_type, object_id__in=Recording.objects.filter(
                activity_id__in=activity_ids).values("pk")))

    # -- showing ---------------------------------------------------------------------------

    def render(self, data):
        from rich.console import Group

        if "system_checks" in data:
            return _("Django's system checks found no problems.")
        if "rules" in data:
            return table(_("Compliance rules"),
                         [_("rule"), _("requirement"), _("articles"), _("subject"),
                          _("title")],
                         [[r["id"], r["requirement"], r["articles"], r["subject"],
                           r["title"]] for r in data["rules"]])
        parts = []
        for agency in data["agencies"]:
            parts.append(table(
                _("%(agency)s: check %(run)s") % {"agency": agency["agency_name"],
                                                  "run": agency["check_run"]},
                [_("rule"), _("requirement"), _("title"), _("found"), _("raised"),
                 _("resolved"), _("reopened"), _("seconds")],
                [[r["id"], r["requirement"], r["title"], r["found"], r["raised"],
                  r["resolved"], r["reopened"], f"{r['seconds']:.3f}"]
                 for r in agency["rules"]]))
            if agency["open_findings"]:
                parts.append(table(
                    _("Open findings (%(shown)s of %(total)s)") % {
                        "shown": len(agency["open_findings"]),
                        "total": agency["open_total"]},
                    [_("rule"), _("object"), _("key"), _("unit"), _("person responsible"),
                     _("details")],
                    [[f["rule"], f"{f['object']}#{f['object_id']}", f["key"], f["unit"],
                      f["responsible"], short(f["details"])]
                     for f in agency["open_findings"]]))
            else:
                parts.append(_("No open findings."))
        return Group(*parts)


class _Display:
    """One rich bar across all rules of all agencies; the rule running is its label."""

    def __init__(self, total: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
        self.task = self.bar.add_task(_("Checking"), total=total)

    def __enter__(self):
        self.bar.__enter__()
        return self.for_agency

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def for_agency(self, agency):
        def step(rule, result):
            if result is None:
                self.bar.update(self.task, description=f"{agency.code} · {rule.id}")
            else:
                self.bar.advance(self.task)
                self.bar.console.print(
                    f"{agency.code} {rule.id}: {result.found} / +{result.raised} "
                    f"-{result.resolved} ↺{result.reopened} ({result.seconds:.2f} s)",
                    highlight=False, markup=False)
        return step
