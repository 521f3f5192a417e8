"""Printable forms that agencies sign on paper (issue 8 item 5): each is one *sheet* — a
title, the agency, facts, tables, paragraphs and signature lines (签名 / 日期) — shown as a
print-styled page (``web/forms/sheet.html``, ``static/witness/print.css``) and typeset by
``witness.core.pdf`` (Typst, embedded Noto CJK, PDF/A-3b) from the same data.

The sheets here: the device issue register (设备领用登记表, DEV-3, DEV-4), the work record
(工作记录, ACT-4) and the review score sheet (评查评分表, SUP-1). The viewing register
(查阅登记簿, EVD-2) and the written explanation (文字说明材料, EVD-1) reuse the PDFs of
``witness.access.register`` and ``witness.evidence.explanation``.

Data reaches Typst only as JSON in ``sys.inputs``, never as markup."""

from __future__ import annotations

import json

from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.core import pdf
from witness.core.cli_args import short_time
from witness.core.errors import both
from witness.web.templatetags.witness import drift

# A4, portrait or landscape: title (zh) and subtitle (en), facts, sections of one table
# each, paragraphs, then the signature lines; the footer numbers the pages.
FORM = r"""
#let d = json(bytes(sys.inputs.view))
#set document(title: d.title, author: d.agency)
#set text(font: ("Noto Sans CJK SC",), lang: "zh", region: "cn", size: 8pt)
#set page(paper: "a4", flipped: d.landscape, margin: (x: 1.4cm, top: 1.4cm, bottom: 1.6cm),
  footer: context align(center, text(size: 7pt,
    [#d.agency · #d.title · #counter(page).display("1 / 1", both: true)])))
#align(center, block(below: 1em)[
  #text(size: 10pt, d.agency) \
  #text(size: 15pt, weight: "bold", d.title) \
  #text(size: 8.5pt, d.subtitle)
])
#for f in d.facts [
  #block(below: 0.45em)[#text(weight: "bold", f.at(0))：#f.at(1)]
]
#for s in d.sections [
  #v(0.6em)
  #if s.title != "" [#text(size: 10pt, weight: "bold", s.title) #v(0.3em)]
  #if s.rows.len() == 0 { d.empty } else {
    table(columns: s.widths.map(w => w * 1fr), inset: 3pt,
      stroke: 0.4pt + luma(140), fill: (_, y) => if y == 0 { luma(232) },
      table.header(..s.header.map(h => text(weight: "bold", h))),
      ..s.rows.flatten())
  }
]
#for p in d.paragraphs [
  #v(0.5em)
  #text(weight: "bold", p.at(0)) \
  #block(width: 100%, inset: 6pt, stroke: 0.4pt + luma(160), par(justify: true, p.at(1)))
]
#v(1.8em)
#block(breakable: false)[
  #grid(columns: (1fr, 1fr), row-gutter: 1.6em, column-gutter: 1.5em,
    ..d.signatures.map(s => [#s：#box(width: 3.6cm, repeat[\_]) #h(0.6em)
      #d.date：#box(width: 2.6cm, repeat[\_])]))
]
#v(1em)
#text(size: 7pt, fill: luma(90), d.generated)
"""


NONE = _("None.")


def names(title) -> tuple[str, str]:
    """(title, subtitle) of a form: the active language first, the other below it."""
    pair = both(title)
    if translation.get_language() == "en":
        return pair["en"], pair["zh"]
    return pair["zh"], pair["en"]


def sheet(title, *, agency: str, facts=(), sections=(), paragraphs=(), signatures=(),
          landscape=False, empty=None) -> dict:
    """One form as plain strings in the active language (the page and the PDF alike)."""
    main, sub = names(title)
    return {"title": main, "subtitle": sub, "agency": agency, "landscape": landscape,
            "facts": [[str(k), "" if v is None else str(v)] for k, v in facts],
            "sections": list(sections),
            "paragraphs": [[str(k), str(v)] for k, v in paragraphs],
            "signatures": [str(s) for s in signatures], "date": gettext("Date"),
            "empty": str(empty if empty is not None else NONE),
            "generated": "{}：{} · 见证 Witness".format(gettext("generated at"),
                                                     short_time(timezone.now()))}


def table(title, header: list, widths: list[float], rows: list[list]) -> dict:
    return {"title": str(title) if title else "", "header": [str(h) for h in header],
            "widths": widths, "rows": [["" if v is None else str(v) for v in r] for r in rows]}


def render(data: dict) -> bytes:
    """The sheet as an A4 PDF/A (fonts embedded)."""
    return pdf.compile_pdf(FORM, {"view": json.dumps(data, ensure_ascii=False)})


def person(p) -> str:
    if p is None:
        return ""
    return f"{p.name}（{p.badge_number}）" if getattr(p, "badge_number", "") else p.name


def user_name(user) -> str:
    if user is None:
        return ""
    p = getattr(user, "person", None)
    return p.name if p is not None else user.get_username()


# -- 设备领用登记表 (DEV-3, DEV-4) ------------------------------------------------------------

def check_text(check, tolerance) -> str:
    """A pre-use check in a line: battery, free storage, clock drift, works."""
    if check is None:
        return gettext("no pre-use check")
    battery = gettext("battery %")
    parts = [f"{battery} {check.battery_percent}",
             f"{check.free_storage_mb} MB",
             str(drift(check.drift_seconds)),
             gettext("device works") if check.working else gettext("device faulty")]
    if tolerance is not None and abs(check.drift_seconds) > tolerance:
        parts.append(gettext("clock beyond tolerance"))
    return "，".join(parts)


def device_register(issues, *, agency: str, unit: str, since: str, until: str,
                    tolerance) -> dict:
    header = [_("No."), _("device"), _("owning unit"), _("holder"), _("holder's unit at issue"),
              _("issued at"), _("issued by"), _("pre-use check"), _("returned at"),
              _("returned to"), _("holder's signature"), _("receiver's signature")]
    rows = []
    for n, issue in enumerate(issues, 1):
        checks = list(issue.checks.all())
        first = next((c for c in checks if c.kind == "at_issue"), checks[0] if checks else None)
        device = issue.device
        rows.append([n, f"{device.get_kind_display()} {device.serial}"
                     + (f"（{device.model}）" if device.model else ""),
                     device.unit.name, person(issue.holder), issue.holder_unit.name,
                     short_time(issue.issued_at), user_name(issue.issued_by),
                     check_text(first, tolerance),
                     short_time(issue.returned_at) if issue.returned_at else gettext("still out"),
                     user_name(issue.returned_to), "", ""])
    return sheet(
        _("Device issue register"), agency=agency, landscape=True,
        empty=_("No ledger lines."),
        facts=[(gettext("agency"), agency), (gettext("owning unit"), unit or gettext("All units")),
               (gettext("period"), f"{since or '…'} — {until or '…'}"),
               (gettext("ledger lines"), len(rows))],
        sections=[table("", header, [0.4, 1.8, 1, 1.2, 1, 1.1, 0.9, 2.2, 1.1, 0.9, 1, 1],
                        rows)],
        signatures=[gettext("Custodian (signature)"), gettext("Person in charge (signature)")])


# -- 工作记录 (ACT-4) -------------------------------------------------------------------------

REVIEWERS = {"principal_leader": _("the principal leader"),
             "unit_head": _("a head of the activity's unit"), "none": _("no review")}


def work_record(record, officers, review: str) -> dict:
    activity = record.activity
    case = f"{activity.case.number} {activity.case.name}" if activity.case_id else "—"
    facts = [
        (gettext("agency"), activity.agency.name), (gettext("unit"), activity.unit.name),
        (gettext("activity"), f"#{activity.pk} {activity.activity_type}"),
        (gettext("place"), activity.place),
        (gettext("time"),
         f"{short_time(activity.arrived_at)} — {short_time(activity.departed_at)}"),
        (gettext("case"), case), (gettext("party"), activity.party or "—"),
        (gettext("officers"), "、".join(person(p) for p in officers) or "—"),
        (gettext("kind of work record"), record.get_kind_display()),
        (gettext("reason"), record.get_reason_display()),
        (gettext("written by"), person(record.written_by)),
        (gettext("written at"), short_time(record.written_at)),
        (gettext("review by"), REVIEWERS.get(review, review)),
        (gettext("reviewed by"), person(record.reviewed_by) if record.reviewed_by_id
         else gettext("not reviewed yet")),
        (gettext("reviewed at"), short_time(record.reviewed_at) if record.reviewed_at else "—"),
    ]
    paragraphs = [(gettext("Reason and basis"), record.basis)]
    if record.review_note:
        paragraphs.append((gettext("Review note"), record.review_note))
    signatures = [gettext("Officer (signature)")]
    if review != "none":
        signatures.append(gettext("Reviewer (signature)"))
    return sheet(_("Work record"), agency=activity.agency.name, facts=facts,
                 paragraphs=paragraphs, signatures=signatures)


# -- 评查评分表 (SUP-1) -----------------------------------------------------------------------

def review_sheet(campaign, items, results: dict, criteria) -> dict:
    """``results``: (item id, criterion) -> the results in force, by any reviewer."""
    header = [_("No."), _("activity"), _("unit"), _("officer"), _("arrival"),
              *[c.label for c in criteria], _("score (by hand)"), _("remarks"),
              _("reviewer's signature")]
    rows = []
    for item in items:
        a = item.activity
        rows.append([item.position, f"#{a.pk} {a.activity_type} {a.place}", item.unit.name,
                     item.officer.name if item.officer_id else "—", short_time(a.arrived_at),
                     *["、".join(results.get((item.pk, c.value), [])) for c in criteria],
                     "", "", ""])
    facts = [(gettext("agency"), campaign.agency.name), (gettext("campaign"), campaign.name),
             (gettext("kind"), campaign.get_kind_display()),
             (gettext("period"), f"{campaign.period_from} — {campaign.period_to}"),
             (gettext("units"), "、".join(u.name for u in campaign.units.all())),
             (gettext("reviewers"), "、".join(p.name for p in campaign.reviewers.all())),
             (gettext("status"), campaign.get_status_display()),
             (gettext("sampled activities"), len(rows))]
    return sheet(_("Review score sheet"), agency=campaign.agency.name, landscape=True,
                 facts=facts, empty=_("No activities sampled yet."),
                 sections=[table(_("Checklist (results recorded in the system; blank "
                                   "columns for scoring by hand)"), header,
                                 [0.4, 2.2, 1, 0.9, 1.1, *[0.8] * len(criteria), 0.8, 1.4,
                                  1], rows)],
                 signatures=[gettext("Reviewer of the campaign (signature)"),
                             gettext("Person in charge (signature)")])
