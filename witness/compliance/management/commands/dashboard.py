"""``witness dashboard``: the compliance figures per unit and month (issue 6 item 4) as a
table, JSON or CSV — the data the web dashboards chart. Reading only: no audit entry, except
that writing the CSV to a file is audited like any export (``compliance.dashboard.export``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.audit import services as audit
from witness.compliance import dashboard
from witness.core.cli_args import resolve_unit
from witness.core.commands import WitnessCommand
from witness.core.errors import WitnessError
from witness.core.tables import table
from witness.org.services import default_agency


def parse_month(text: str) -> datetime:
    """``2026-11`` → local midnight of 1 November 2026."""
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        if not 1900 <= year <= 9998:
            raise ValueError(year)
        moment = datetime(year, month, 1)
    except ValueError:
        raise WitnessError(gettext_lazy("%(text)s is not a month; write it as 2026-11."),
                           code="bad_month", text=text) from None
    return timezone.make_aware(moment, timezone.get_default_timezone())


def next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return timezone.make_aware(datetime(year, month, 1), timezone.get_default_timezone())


class Command(WitnessCommand):
    help = gettext_lazy("Compliance figures per unit and month: must-record activities, "
                        "recorded, recordings uploaded on time, open findings, violations.")

    def add_command_arguments(self, parser):
        parser.add_argument("--from", dest="start", metavar="YYYY-MM",
                            help=str(gettext_lazy("first month (default: all)")))
        parser.add_argument("--to", dest="end", metavar="YYYY-MM",
                            help=str(gettext_lazy("last month, included (default: all)")))
        parser.add_argument("--unit", action="append", metavar="UNIT",
                            help=str(gettext_lazy("only this unit (code or name); repeatable")))
        parser.add_argument("--csv", metavar="FILE",
                            help=str(gettext_lazy("write the rows to a CSV file")))

    def run(self, start=None, end=None, unit=None, csv=None, **options):
        agency = default_agency()
        units = [resolve_unit(agency, u).pk for u in unit] if unit else None
        rows = dashboard.monthly(agency, start=parse_month(start) if start else None,
                                 end=next_month(parse_month(end)) if end else None,
                                 unit_ids=units)
        data = {"rows": [r.as_dict() for r in rows]}
        if csv:
            path = Path(csv)
            try:
                path.write_text(dashboard.to_csv(rows), encoding="utf-8-sig")
            except OSError as exc:
                raise WitnessError(gettext_lazy("Cannot write %(path)s: %(reason)s"),
                                   code="cannot_write", path=str(path),
                                   reason=exc.strerror or str(exc)) from exc
            with transaction.atomic():
                audit.append(self.actor, "compliance.dashboard.export", None,
                             details={"path": str(path.resolve()), "rows": len(rows)})
            data["csv"] = str(path)
        return data

    def render(self, data):
        rows = [[r["unit_name"], r["month"], r["must_record"], r["recorded"],
                 "" if r["recorded_percent"] is None else f"{r['recorded_percent']}%",
                 r["recordings"],
                 "" if r["on_time_percent"] is None else f"{r['on_time_percent']}%",
                 r["open_findings"], r["violations"]] for r in data["rows"]]
        out = table(_("Compliance per unit and month"),
                    [_("unit"), _("month"), _("must record"), _("recorded"), _("share recorded"),
                     _("recordings"), _("share on time"), _("open findings"), _("violations")],
                    rows)
        if data.get("csv"):
            from rich.console import Group
            return Group(out, _("Written to %(path)s") % {"path": data["csv"]})
        return out
