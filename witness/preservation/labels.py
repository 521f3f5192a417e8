"""Disc labels (A16: 一式两份, two copies, each labelled): one PDF per copy, one page (a 120
mm square, for the disc's case) per disc, naming the producing unit, the producer, the
production time, the activity or case with its number, copy 1/2, disc k/n and the image's
SHA-256. Typeset by ``witness.core.pdf`` (Typst, Noto CJK embedded)."""

from __future__ import annotations

import json

from django.utils.translation import gettext_lazy as _

from witness.activities.models import Activity, Case
from witness.core import pdf
from witness.evidence.explanation import local, zh
from witness.recordings.models import Recording

LABELS = {
    "title": _("Audio and video enforcement record — preservation disc"),
    "unit": _("Producing unit"),
    "producer": _("Producer"),
    "time": _("Production time"),
    "object": _("Activity or case (name and number)"),
    "copy": _("Copy"),
    "disc": _("Disc"),
    "sha256": _("SHA-256 of the image"),
    "volume": _("Volume"),
}

TEMPLATE = r"""
#let d = json(bytes(sys.inputs.view))
#set document(title: d.title, author: d.unit)
#set text(font: ("Noto Sans CJK SC",), lang: "zh", region: "cn", size: 8pt)
#set page(width: 120mm, height: 120mm, margin: 8mm)
#for (i, disc) in d.discs.enumerate() [
  #if i > 0 { pagebreak() }
  #align(center, text(size: 11pt, weight: "bold", d.title))
  #v(0.6em)
  #for f in d.facts [#block(below: 0.55em)[#text(weight: "bold", f.at(0))：#f.at(1)]]
  #block(below: 0.55em)[#text(weight: "bold", d.labels.copy)：#d.copy]
  #block(below: 0.55em)[#text(weight: "bold", d.labels.disc)：#disc.disc]
  #block(below: 0.55em)[#text(weight: "bold", d.labels.volume)：#disc.volume]
  #block(below: 0.55em)[#text(weight: "bold", d.labels.sha256)： \
    #text(font: ("Noto Sans Mono CJK SC",), size: 7.5pt, disc.sha256)]
]
"""


def object_text(obj) -> str:
    """The activity or case with its name and number, as the label names it."""
    if isinstance(obj, Recording):
        if obj.activity_id:
            return object_text(obj.activity) + f"；recording:{obj.pk}"
        return f"recording:{obj.pk} {obj.source_path}"
    if isinstance(obj, Activity):
        text = f"{obj.activity_type} {obj.place}（activity:{obj.pk}，{local(obj.arrived_at)}）"
        if obj.case_id:
            text = f"{obj.case.name}（{obj.case.number}）；" + text
        return text
    if isinstance(obj, Case):
        return f"{obj.name}（{obj.number}）"
    return str(obj)


def view(obj, agency, extractor: dict, when, layout: list[dict], copy: int) -> dict:
    labels = {k: zh(v) for k, v in LABELS.items()}
    producer = extractor["name"] + (f"（{extractor['badge_number']}）"
                                    if extractor["badge_number"] else "")
    unit = extractor["unit"] or (agency.name if agency else "—")
    if agency is not None and extractor["unit"] and agency.name not in unit:
        unit = f"{agency.name} {unit}"
    n = len(layout)
    return {"title": labels["title"], "unit": unit, "labels": labels,
            "copy": f"第 {copy} 份，共 2 份（copy {copy} of 2）",
            "facts": [(labels["unit"], unit), (labels["producer"], producer),
                      (labels["time"], local(when)), (labels["object"], object_text(obj))],
            "discs": [{"disc": f"第 {e['disc']} 张，共 {n} 张（disc {e['disc']} of {n}）",
                       "volume": e["volume_id"], "sha256": e["sha256"]} for e in layout]}


def render(obj, agency, extractor: dict, when, layout: list[dict], copy: int) -> bytes:
    return pdf.compile_pdf(TEMPLATE, {"view": json.dumps(
        view(obj, agency, extractor, when, layout, copy), ensure_ascii=False)},
        timestamp=when)
