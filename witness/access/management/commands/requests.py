"""``witness requests list|register``: the viewing and disclosure requests (EVD-2, EVD-3)
of the agency, and the viewing register (查阅登记簿) as CSV or PDF (issue 5 item 3).

Requests are made and decided in the web application (each step by its approver); the
command reads. Grants expire by time: nothing needs to be run for that. Writing the
register to a file is audited (``register.export``)."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.access import register as book
from witness.access.models import AccessRequest, RequestStatus, StepState
from witness.core.cli_args import parse_local_datetime, short_time
from witness.core.commands import WitnessCommand
from witness.core.errors import WitnessError
from witness.core.tables import table
from witness.org.services import default_agency

HELP = _("Viewing and disclosure requests, and the viewing register (查阅登记簿).")
SUBCOMMANDS = {
    "list": _("List the agency's requests, newest first, with the step each waits for."),
    "register": _("Write the viewing register for a period to a CSV or PDF file."),
}
LIST_LIMIT = 200


def request_dict(r: AccessRequest) -> dict:
    waiting = next((s for s in r.steps.all() if s.state == StepState.OPEN), None)
    return {
        "id": r.pk, "kind": r.kind, "status": r.status, "requester": r.requester.name,
        "reason": r.reason, "wanted_from": r.wanted_from, "wanted_until": r.wanted_until,
        "may_download": r.may_download, "recordings": len(r.items.all()),
        "waiting_for": waiting.step if waiting else None, "recipient": r.recipient_name,
        "created_at": r.created_at,
    }


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def add_list_arguments(self, parser):
        parser.add_argument("--status", choices=RequestStatus.values,
                            help=gettext("only requests with this status"))

    def do_list(self, *, status=None, **options):
        qs = (AccessRequest.objects.filter(agency=default_agency())
              .select_related("requester").prefetch_related("steps", "items")
              .order_by("-created_at", "-id"))
        if status:
            qs = qs.filter(status=status)
        return [request_dict(r) for r in qs[:LIST_LIMIT]]

    def render_list(self, data):
        rows = [[f"#{r['id']}", r["kind"], r["status"], r["requester"], r["reason"][:40],
                 f"{short_time(r['wanted_from'])} — {short_time(r['wanted_until'])}",
                 r["recordings"], r["waiting_for"] or ""] for r in data]
        columns = [gettext("Request"), gettext("Kind"), gettext("Status"),
                   gettext("Requester"), gettext("Reason"), gettext("Period"),
                   gettext("Recordings"), gettext("Waiting for")]
        return table(gettext("Requests"), columns, rows)

    def add_register_arguments(self, parser):
        parser.add_argument("--from", dest="since", metavar="ISO",
                            help=gettext("registrations from this time, local (default: all)"))
        parser.add_argument("--to", dest="until", metavar="ISO",
                            help=gettext("registrations before this time, local"))
        out = parser.add_mutually_exclusive_group(required=True)
        out.add_argument("--csv", type=Path, metavar="FILE",
                         help=gettext("write CSV (UTF-8 with BOM)"))
        out.add_argument("--pdf", type=Path, metavar="FILE", help=gettext("write PDF"))

    def do_register(self, *, since=None, until=None, csv=None, pdf=None, **options):
        agency = default_agency()
        start = parse_local_datetime(since) if since else None
        end = parse_local_datetime(until) if until else None
        if start and end and end <= start:
            raise WitnessError(_("The end must be after the start."), code="period_order")
        target, fmt = (csv, "csv") if csv else (pdf, "pdf")
        if not target.parent.is_dir():
            raise WitnessError(_("The folder %(folder)s does not exist."), code="no_folder",
                               folder=str(target.parent))
        steps = book.entries(None, since=start, until=end).filter(
            request__agency=agency).order_by("-decided_at", "-id")
        content = book.export(self.actor, fmt, steps, agency=agency.name, since=start,
                              until=end)
        target.write_bytes(content)
        return {"file": str(target), "format": fmt, "bytes": len(content),
                "rows": steps.count()}

    def render_register(self, data):
        return gettext("%(rows)s registrations written to %(file)s (%(format)s).") % data
