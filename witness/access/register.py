"""The viewing register (查阅登记簿, EVD-2): every registration by the custodian — viewer,
reason and time — with the recordings and the period granted, as a page, CSV (UTF-8 with a
BOM so that Excel reads the Chinese) and PDF (Typst, Noto CJK, as the custody report).

Every export is audited (``register.export``) in its own transaction.
"""

from __future__ import annotations

import csv
import io

from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from witness.access.models import ApprovalStep, Grant, RequestItem, Step, StepState
from witness.audit import services as audit
from witness.core import pdf
from witness.core.cli_args import short_time
from witness.core.errors import WitnessError

# A PDF of more rows than this is refused: narrow the dates (CSV has no limit).
PDF_MAX_ROWS = 2000

COLUMNS = [
    ("registered_at", _("registered at")),
    ("viewer", _("viewer")),
    ("badge", _("badge number")),
    ("unit", _("unit")),
    ("reason", _("reason (查阅事由)")),
    ("recordings", _("recordings")),
    ("valid_from", _("valid from")),
    ("valid_until", _("valid until")),
    ("download", _("may download")),
    ("registered_by", _("registered by")),
    ("request", _("request")),
    ("kind", _("kind")),
    ("grant", _("grant")),
]


def entries(scope_q: Q | None = None, *, since=None, until=None):
    """Registrations (approved custodian steps), newest first; ``scope_q`` is a Q on
    AccessRequest (chain.register_scope_q) — None: every agency (the CLI)."""
    qs = (ApprovalStep.objects.filter(step=Step.CUSTODIAN_REGISTRATION,
                                      state=StepState.APPROVED)
          .select_related("request__requester__unit", "decided_by"))
    if scope_q is not None:
        from witness.access.models import AccessRequest

        qs = qs.filter(request__in=AccessRequest.objects.filter(scope_q))
    if since is not None:
        qs = qs.filter(decided_at__gte=since)
    if until is not None:
        qs = qs.filter(decided_at__lt=until)
    return qs


def with_details(steps) -> list:
    """Give each registration its items' recordings and its grants, two queries for all."""
    steps = list(steps)
    ids = [s.request_id for s in steps]
    items: dict[int, list] = {}
    for item in (RequestItem.objects.filter(request_id__in=ids).select_related("recording")
                 .order_by("recording_id")):
        items.setdefault(item.request_id, []).append(item.recording)
    grants: dict[int, list] = {}
    for grant in Grant.objects.filter(request_id__in=ids).order_by("id"):
        grants.setdefault(grant.request_id, []).append(grant)
    now = timezone.now()
    for s in steps:
        s.recordings = items.get(s.request_id, [])
        s.grants = grants.get(s.request_id, [])
        s.grant_state = _grant_state(s.grants, now)
        s.valid_from = s.grants[0].valid_from if s.grants else None
        s.valid_until = s.grants[0].valid_until if s.grants else None
    return steps


def _grant_state(grants, now):
    if not grants:
        return _("none")
    if all(g.revoked_at for g in grants):
        return _("revoked")
    if any(g.revoked_at for g in grants):
        return _("partly revoked")
    if grants[0].valid_until <= now:
        return _("expired")
    if grants[0].valid_from > now:
        return _("not yet valid")
    return _("in force")


def row(step) -> dict[str, str]:
    """One registration as plain text (the active language), for CSV, PDF and JSON."""
    request = step.request
    viewer = request.requester.name
    if request.kind == "disclosure":
        viewer = f"{request.recipient_name}（{request.recipient_org}）" \
            if request.recipient_org else request.recipient_name
    return {
        "registered_at": short_time(step.decided_at),
        "viewer": viewer,
        "badge": request.requester.badge_number or "" if request.kind == "viewing" else "",
        "unit": request.requester.unit.name,
        "reason": step.details.get("reason", request.reason),
        "recordings": "; ".join(f"#{r.pk} {r.source_path}" for r in step.recordings),
        "valid_from": short_time(step.valid_from),
        "valid_until": short_time(step.valid_until),
        "download": str(_("yes") if request.may_download else _("no")),
        "registered_by": step.decided_by.name if step.decided_by else "",
        "request": f"#{request.pk}",
        "kind": str(request.get_kind_display()),
        "grant": str(step.grant_state),
    }


def rows(steps) -> list[dict[str, str]]:
    return [row(s) for s in with_details(steps)]


def to_csv(data: list[dict[str, str]]) -> bytes:
    """UTF-8 with a BOM (Excel opens it as Unicode), a header row in the active language."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(label) for _key, label in COLUMNS])
    for r in data:
        writer.writerow([r[key] for key, _label in COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


WIDTHS = [1.3, 1.2, 1.1, 1, 2.4, 3, 1.3, 1.3, 0.7, 1, 0.7, 1, 0.9]


def render_pdf(data: list[dict[str, str]], *, agency: str, since: str, until: str) -> bytes:
    """The register as an A4 landscape PDF/A (Chinese labels; data as plain text inputs,
    never as markup)."""
    if len(data) > PDF_MAX_ROWS:
        raise WitnessError(_("%(count)s registrations are too many for one PDF (at most "
                             "%(max)s); choose a shorter period, or export CSV."),
                           code="too_many_rows", count=len(data), max=PDF_MAX_ROWS)
    return pdf.tables_pdf(
        title=_("Viewing register"), agency=agency,
        facts=[pdf.fact(_("agency"), agency),
               pdf.fact(_("period"), f"{since or '…'} — {until or '…'}"),
               pdf.fact(_("generated at"), short_time(timezone.now())),
               pdf.fact(_("registrations"), str(len(data)))],
        sections=[pdf.section("", [label for _key, label in COLUMNS], WIDTHS,
                              [[r[key] for key, _label in COLUMNS] for r in data])],
        empty=_("No registrations in this period."))


def export(actor, fmt: str, steps, *, agency: str, since=None, until=None) -> bytes:
    """The registrations ``steps`` (see :func:`entries`) as ``csv`` or ``pdf`` bytes, in
    Chinese; the export is audited."""
    since_text, until_text = short_time(since), short_time(until)
    with translation.override("zh-hans"):
        data = rows(steps)
        content = to_csv(data) if fmt == "csv" else render_pdf(
            data, agency=agency, since=since_text, until=until_text)
    with transaction.atomic():
        audit.append(actor, "register.export", None, details={
            "format": fmt, "rows": len(data), "from": since_text, "to": until_text})
    return content
