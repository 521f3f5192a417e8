"""The chain-of-custody report as a PDF (issue 4 item 5): Chinese first, with the English
beneath, typeset by Typst with Debian's Noto CJK fonts embedded (subset).

No user text is ever written into Typst markup: the page template below is fixed, and the
data — already translated and formatted here — reaches it as JSON through ``sys.inputs``,
where Typst treats every value as plain text. The full JSON report is attached to the PDF
(``custody.json``), so the file carries what is needed to verify it.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime

from django.apps import apps
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from witness.core import pdf
from witness.core.errors import both

from .custody import CustodyError
from .models import Outcome

ATTACHMENT = "custody.json"

LABELS = {
    "title": _("Chain-of-custody report of audio and video enforcement records"),
    "subject": _("Object"),
    "agency": _("Producing agency"),
    "generated": _("Generated at"),
    "checkpoint": _("Signed checkpoint"),
    "tree_size": _("Tree size"),
    "root": _("Root hash"),
    "signed_at": _("Signed at"),
    "key": _("Signing key"),
    "originals": _("Digests of the originals"),
    "entries": _("Audit entries"),
    "time": _("Time"),
    "actor": _("Actor"),
    "action": _("Action"),
    "object": _("Object"),
    "outcome": _("Outcome"),
    "leaf": _("Leaf"),
    "leaf_hash": _("Leaf hash"),
    "none": _("No audit entry touches this object."),
    "verify": _("How to verify"),
    "verify_text": _(
        "This PDF carries the whole report as the attachment custody.json. For each entry, "
        "the SHA-256 of 0x00 followed by its canonical JSON is its leaf hash; the inclusion "
        "proof leads from that leaf to the root of the checkpoint above (RFC 6962), and the "
        "checkpoint's signature verifies with the agency's public key, printed below. "
        "Compare each original's SHA-256 with the file you hold (sha256sum). docs/custody.md "
        "describes each step; docs/audit_verify.py does them without Witness."),
    "public_key": _("Public key"),
    "device": _("Device"),
    "holder": _("Holder"),
    "issued": _("issued"),
    "returned": _("returned"),
    "not_returned": _("not returned yet"),
}

# What the audit actions mean, for the table (the code is shown beside the label); an action
# without a label shows its code alone. The audit pages may reuse these.
ACTION_LABELS = {
    "device.register": _("device registered"),
    "device.issue": _("device issued"),
    "device.return": _("device returned"),
    "device.check": _("pre-use check of the device"),
    "device.event": _("device event"),
    "ingest.start": _("ingest started"),
    "ingest.file": _("a file could not be ingested"),
    "ingest.finish": _("ingest finished"),
    "ingest.interrupted": _("ingest interrupted"),
    "ingest.wipe": _("deleted from the device after ingest"),
    "blob.store": _("original stored"),
    "blob.verify": _("original read back and verified"),
    "blob.replicate": _("second copy stored"),
    "blob.fixity": _("fixity check failed"),
    "blob.repair": _("damaged copy repaired"),
    "recording.ingest": _("recording ingested"),
    "recording.duplicate": _("the same file offered again"),
    "recording.assign": _("recording assigned"),
    "recording.view": _("recording viewed"),
    "recording.play": _("recording played"),
    "recording.download": _("recording downloaded"),
    "recording.export": _("recording exported"),
    "evidence.export": _("evidence package exported"),
    "derivative.make": _("viewing copy made"),
    "derivative.skip": _("no viewing copy needed"),
    "finding.raise": _("finding raised"),
    "activity.create": _("activity recorded"),
    "activity.update": _("activity edited"),
    "case.create": _("case opened"),
    "case.close": _("case closed"),
    "custody.report": _("chain-of-custody report made"),
    "recording.read_failed": _("the original could not be read"),
    "request.submit": _("viewing request submitted"),
    "request.step_open": _("approval step opened"),
    "request.step_add": _("approval step added"),
    "request.decide": _("approval step decided"),
    "request.register": _("viewing registered by the custodian"),
    "request.withdraw": _("request withdrawn"),
    "grant.create": _("viewing granted"),
    "grant.revoke": _("grant revoked"),
    "disclosure.link_issue": _("disclosure link issued"),
    "disclosure.link_revoke": _("disclosure link revoked"),
    "disclosure.play": _("played through a disclosure link"),
    "label.request": _("label change requested"),
    "label.approve": _("label change approved"),
    "label.reject": _("label change rejected"),
    "label.set": _("confidentiality label changed"),
    "secret.mark": _("marked as a state secret"),
    "secret.cancel": _("state-secret hand-off cancelled"),
    "secret.export": _("offline export recorded"),
    "secret.approve_removal": _("removal of the content approved"),
    "secret.remove_start": _("removal of the content started"),
    "secret.remove": _("content removed from this system"),
}

KIND_MODELS = {"recording": "recordings.recording", "activity": "activities.activity",
               "case": "activities.case"}

TEMPLATE = r"""
#let d = json(bytes(sys.inputs.view))
#let l = d.labels
#set document(title: d.title_plain, author: d.agency)
#set text(font: ("Noto Sans CJK SC",), lang: "zh", region: "cn", size: 8.5pt)
#show raw: set text(font: ("Noto Sans Mono CJK SC", "DejaVu Sans Mono"), size: 7.5pt)
#set page(paper: "a4", margin: (x: 1.5cm, top: 1.6cm, bottom: 1.8cm),
  footer: context align(center, text(size: 7.5pt,
    [#d.title_plain · #counter(page).display("1 / 1", both: true)])))
#pdf.attach(sys.inputs.name, bytes(sys.inputs.report), relationship: "data",
  mime-type: "application/json", description: d.title_plain)
#let both(x) = if x.en == x.zh { x.zh } else [#x.zh #text(size: 0.8em, fill: luma(90), x.en)]
#let head(x) = block(above: 1.3em, below: 0.6em, text(size: 11pt, weight: "bold", both(x)))
#let hex(s) = raw(s)

#align(center, block(below: 1.2em)[
  #text(size: 16pt, weight: "bold", l.title.zh) \
  #if l.title.en != l.title.zh { text(size: 9pt, l.title.en) }
])
#table(columns: (auto, 1fr), stroke: none, inset: (x: 0pt, y: 3pt), column-gutter: 1em,
  ..d.facts.map(f => (both(f.label), f.value)).flatten())

#head(l.checkpoint)
#table(columns: (auto, 1fr), stroke: none, inset: (x: 0pt, y: 3pt), column-gutter: 1em,
  both(l.tree_size), str(d.checkpoint.tree_size),
  both(l.root), hex(d.checkpoint.root),
  both(l.signed_at), d.checkpoint.time,
  both(l.key), [#d.checkpoint.algorithm #hex(d.checkpoint.key_id)])

#head(l.originals)
#for r in d.originals [
  #block(below: 0.6em, breakable: false)[*#r.label* #h(0.5em) #r.size \
    #if r.custody != "" [#r.custody \ ]
    #for g in r.digests [#hex(g.algorithm + ": " + g.hex) \ ]]
]

#head((zh: l.entries.zh + " (" + str(d.rows.len()) + ")", en: l.entries.en))
#if d.rows.len() == 0 { both(l.none) } else {
  table(columns: (auto, auto, 1fr, auto, auto, auto, auto), inset: 3pt,
    stroke: 0.4pt + luma(160), fill: (_, y) => if y == 0 { luma(232) },
    table.header(..(l.time, l.actor, l.action, l.object, l.outcome, l.leaf, l.leaf_hash)
      .map(x => text(weight: "bold", both(x)))),
    ..d.rows.map(r => (r.time, r.actor, [#r.action \ #hex(r.code)], r.object, r.outcome,
      str(r.index), hex(r.leaf_hash))).flatten())
}

#head(l.verify)
#par(justify: true, l.verify_text.zh)
#if l.verify_text.en != l.verify_text.zh {
  par(justify: true, text(size: 0.85em, fill: luma(90), l.verify_text.en)) }
#block(above: 0.8em, breakable: false)[#both(l.public_key) \ #hex(d.public_key)]
"""


@functools.cache
def _local(text: str | None, seconds: bool = True) -> str:
    if not text:
        return ""
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S" if seconds else
                                               "%Y-%m-%d %H:%M")


def _zh(text) -> str:
    with translation.override("zh-hans"):
        return str(text)


@functools.cache
def _kind_label(object_type: str) -> str:
    try:
        return _zh(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


def _row(item: dict) -> dict:
    entry = item["entry"]
    label = ACTION_LABELS.get(entry["action"])
    try:
        outcome = _zh(Outcome(entry["outcome"]).label)
    except ValueError:
        outcome = entry["outcome"]
    thing = (f"{_kind_label(entry['object_type'])} #{entry['object_id']}"
             if entry["object_type"] else "")
    return {"time": _local(entry["created_at"]), "actor": entry["actor_label"],
            "action": _zh(label) if label else entry["action"], "code": entry["action"],
            "object": thing, "outcome": outcome, "index": item["index"],
            "leaf_hash": item["leaf_hash"][:16] + "…"}


def _size(size: int) -> str:
    return f"{size:,} B" if size < 1 << 20 else f"{size / (1 << 20):,.1f} MiB ({size:,} B)"


def _custody_line(recording: dict) -> str:
    """Device, holder and ledger period of a recording, in Chinese."""
    parts = []
    if recording["device"]:
        parts.append(f"{_zh(LABELS['device'])} {recording['device']['serial']}")
    ledger = recording["ledger"]
    if ledger:
        badge = f"（{ledger['holder_badge']}）" if ledger["holder_badge"] else ""
        back = (f"{_zh(LABELS['returned'])} {_local(ledger['returned_at'], seconds=False)}"
                if ledger["returned_at"] else _zh(LABELS["not_returned"]))
        parts += [f"{_zh(LABELS['holder'])} {ledger['holder']}{badge}",
                  f"{_zh(LABELS['issued'])} {_local(ledger['issued_at'], seconds=False)} — "
                  f"{back}"]
    return " · ".join(parts)


def view(report: dict) -> dict:
    """What the template shows, translated and formatted (plain data, no markup)."""
    subject = report["subject"]
    generated = f"{_local(report['generated_at'])} ({report['time_zone']})"
    cp = report["checkpoint"]
    facts = [
        (LABELS["subject"], f"{_kind_label(KIND_MODELS[subject['kind']])} "
                            f"{subject['ref']} {subject['label']}"),
        (LABELS["agency"], (report["agency"] or {}).get("name", "")),
        (LABELS["generated"], generated),
    ]
    return {
        "title_plain": _zh(LABELS["title"]),
        "agency": (report["agency"] or {}).get("name", ""),
        "labels": {key: both(text) for key, text in LABELS.items()},
        "facts": [{"label": both(label), "value": value} for label, value in facts],
        "checkpoint": {"tree_size": cp["tree_size"], "root": cp["root"],
                       "time": f"{_local(cp['time'])} ({cp['time']})",
                       "algorithm": cp["algorithm"], "key_id": cp["key_id"]},
        "originals": [{"label": f"{r['ref']} {r['source_path']}",
                       "size": _size(r["original"]["size"]), "custody": _custody_line(r),
                       "digests": [{"algorithm": d["algorithm"].upper(), "hex": d["hex"]}
                                   for d in r["original"]["digests"]]}
                      for r in report["recordings"]],
        "rows": [_row(item) for item in report["entries"]],
        "public_key": report["public_key"]["pem"].strip(),
    }


def render_pdf(report: dict) -> bytes:
    inputs = {"view": json.dumps(view(report), ensure_ascii=False),
              "report": json.dumps(report, ensure_ascii=False, indent=2),
              "name": ATTACHMENT}
    generated = datetime.strptime(report["generated_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return pdf.compile_pdf(TEMPLATE, inputs, timestamp=generated.replace(tzinfo=UTC),
                           error=CustodyError)


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
