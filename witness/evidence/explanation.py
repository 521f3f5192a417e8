"""The written explanation (文字说明材料) of an evidence package (issue 7 item 5; EVD-1): in
Chinese, naming the producing unit, the producers (the holders of the devices), the
extractor, the extraction time, the method, and each file with its size and digests;
lines for the signatures at the end. Typeset by ``witness.core.pdf`` (Typst, Noto CJK,
PDF/A-3b); the data reaches the fixed template only as JSON."""

from __future__ import annotations

import json

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.activities.models import Activity, Case
from witness.core import pdf
from witness.core.errors import both

NAMES = {"sha256": "SHA-256", "sm3": "SM3"}

LABELS = {
    "title": _("Written explanation of the extracted electronic data"),
    "object": _("Object extracted"),
    "agency": _("Producing agency"),
    "unit": _("Producing unit"),
    "producer": _("Producer (holder of the recording device)"),
    "extractor": _("Extractor"),
    "time": _("Extraction time"),
    "method": _("Extraction method"),
    "digests": _("Integrity check values"),
    "count": _("Files"),
    "files": _("List of the files"),
    "name": _("File name"),
    "kind": _("Category"),
    "size": _("Size"),
    "bytes": _("bytes"),
    "recorded": _("Recorded"),
    "device": _("Device"),
    "ingested": _("Ingested at"),
    "original": _("original (byte for byte)"),
    "playback": _("playback copy (a converted copy, not the original)"),
    "statement": _(
        "The files listed below were copied by the extractor from the original store of the "
        "Witness audio and video enforcement record system, where each original is kept "
        "write-once under its SHA-256. While each file was copied, its check values were "
        "computed from the bytes copied and compared with those recorded when the original "
        "was ingested from the recording device; they were identical. The package is a "
        "BagIt bag: manifest-*.txt list every file's check values, and the tag manifest is "
        "signed with the agency's key (witness-signature.json, witness-public-key.pem)."),
    "signature": _("Extractor (signature)"),
    "witness": _("Witness (signature)"),
    "date": _("Date"),
}

TEMPLATE = r"""
#let d = json(bytes(sys.inputs.view))
#let l = d.labels
#set document(title: d.title, author: d.agency)
#set text(font: ("Noto Sans CJK SC",), lang: "zh", region: "cn", size: 9pt)
#set page(paper: "a4", margin: (x: 1.8cm, top: 1.8cm, bottom: 1.8cm),
  footer: context align(center, text(size: 7.5pt,
    [#d.title · #counter(page).display("1 / 1", both: true)])))
#let mono(s) = text(font: ("Noto Sans Mono CJK SC", "DejaVu Sans Mono"), size: 7.5pt, s)
#align(center, block(below: 1.2em)[
  #text(size: 16pt, weight: "bold", d.title) \
  #text(size: 9pt, d.subtitle)
])
#for f in d.facts [
  #block(below: 0.5em)[#text(weight: "bold", f.at(0))：#f.at(1)]
]
#v(0.4em)
#par(justify: true, d.statement)
#v(0.6em)
#text(size: 11pt, weight: "bold", l.files)
#for (i, f) in d.files.enumerate() [
  #block(breakable: false, above: 0.8em, inset: (left: 0.4em), stroke: (left: 0.6pt + luma(150)))[
    #text(weight: "bold")[#(i + 1). #f.name] \
    #for line in f.lines [#line.at(0)：#line.at(1) \ ]
    #for g in f.digests [#g.at(0)：#mono(g.at(1)) \ ]
  ]
]
#v(2.2em)
#grid(columns: (1fr, 1fr), gutter: 1em,
  [#l.signature：#box(width: 4cm, repeat[\_])],
  [#l.witness：#box(width: 4cm, repeat[\_])])
#v(1.2em)
#l.date：#box(width: 4cm, repeat[\_])
"""


def zh(text) -> str:
    return both(text)["zh"]


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _object(obj) -> str:
    if isinstance(obj, Case):
        return f"{obj.number} {obj.name}"
    if isinstance(obj, Activity):
        case = f"（{obj.case.number} {obj.case.name}）" if obj.case_id else ""
        return (f"activity:{obj.pk} {obj.activity_type} {obj.place} "
                f"{local(obj.arrived_at)}{case}")
    return f"recording:{obj.pk} {obj.source_path}"


def _person(p) -> str:
    return f"{p.name}（{p.badge_number}）" if p.badge_number else p.name


def _unit_of(recording) -> str:
    if recording.activity_id:
        return recording.activity.unit.name
    if recording.holder_id and recording.holder.unit_id:
        return recording.holder.unit.name
    return ""


def _distinct(values) -> str:
    seen = []
    for v in values:
        if v and v not in seen:
            seen.append(v)
    return "、".join(seen) or "—"


def explanation_view(obj, agency, extractor: dict, when, items, algorithms,
                     extra_facts=()) -> dict:
    """The data of the explanation (what the PDF shows, all in Chinese)."""
    labels = {k: zh(v) for k, v in LABELS.items()}
    recordings = [i.recording for i in items if i.kind == "original"]
    who = extractor["name"] + (f"（{extractor['badge_number']}）"
                               if extractor["badge_number"] else "")
    if extractor["unit"]:
        who += f"，{extractor['unit']}"
    facts = [
        (labels["object"], _object(obj)),
        (labels["agency"], agency.name if agency else "—"),
        (labels["unit"], _distinct(_unit_of(r) for r in recordings)),
        (labels["producer"], _distinct(_person(r.holder) for r in recordings if r.holder_id)),
        (labels["extractor"], who),
        (labels["time"], local(when)),
        (labels["method"], zh(_("Copied byte for byte from the Witness original store, "
                                "addressed by content, and verified"))),
        (labels["digests"], "、".join(NAMES.get(a, a.upper()) for a in algorithms)),
        (labels["count"], f"{len(items)}，{sum(i.size for i in items)} {labels['bytes']}"),
        *((zh(label), value) for label, value in extra_facts),
    ]
    files = []
    for item in items:
        r = item.recording
        lines = [(labels["kind"], labels[item.kind]),
                 (labels["size"], f"{item.size} {labels['bytes']}"),
                 (labels["producer"], _person(r.holder) if r.holder_id else "—"),
                 (labels["unit"], _unit_of(r) or "—"),
                 (labels["device"], f"{r.device.serial}（{r.device.model}）".replace("（）", "")
                  if r.device_id else "—"),
                 (labels["recorded"], f"{local(r.started_at)} – {local(r.ended_at)}"),
                 (labels["ingested"], local(r.ingested_at))]
        digests = [(NAMES.get(a, a.upper()), item.digests[a]) for a in algorithms]
        files.append({"name": item.path, "lines": lines, "digests": digests})
    names = both(LABELS["title"])
    return {"title": names["zh"], "subtitle": names["en"],
            "agency": agency.name if agency else "", "labels": labels,
            "statement": labels["statement"], "facts": facts, "files": files}


def render_explanation(obj, agency, extractor: dict, when, items, algorithms,
                       extra_facts=()) -> bytes:
    view = explanation_view(obj, agency, extractor, when, items, algorithms, extra_facts)
    return pdf.compile_pdf(TEMPLATE, {"view": json.dumps(view, ensure_ascii=False)},
                           timestamp=when)
