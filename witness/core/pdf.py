"""Chinese PDFs with typst (the compiler is in the Python wheel) and Debian's Noto CJK
fonts, embedded, as PDF/A-3b: the fonts, one compile call with its error handling, and the
tabular report layout the viewing register (查阅登记簿) and the review report share.

Data reaches typst only as JSON in ``sys.inputs`` (read with ``json(bytes(…))``), never as
markup, so no text of a user can change the document's structure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError, both

FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk",
             "/usr/share/fonts/google-noto-cjk")
FONT_FILE = "NotoSansCJK-Regular.ttc"


def fonts(error=WitnessError):
    import typst

    for folder in FONT_DIRS:
        if (Path(folder) / FONT_FILE).is_file():
            return typst.Fonts(include_system_fonts=False, include_embedded_fonts=True,
                               font_paths=[folder])
    raise error(_("The Noto CJK fonts are not installed (Debian: fonts-noto-cjk); "
                  "looked in %(dirs)s."), code="no_cjk_fonts", dirs=", ".join(FONT_DIRS))


def compile_pdf(template: str, inputs: dict[str, str], *, timestamp: datetime | None = None,
                error=WitnessError) -> bytes:
    """Typeset ``template`` with ``inputs`` as ``sys.inputs`` into PDF/A-3b bytes."""
    import typst

    compiler = typst.Compiler(template.encode(), font_paths=fonts(error),
                              ignore_system_fonts=True, sys_inputs=inputs)
    try:
        return compiler.compile(format="pdf", pdf_standards="a-3b",
                                timestamp=(timestamp or datetime.now(UTC)).replace(
                                    microsecond=0))
    except typst.TypstError as exc:  # a bug here, not bad input: data is never markup
        raise error(_("The PDF could not be typeset: %(error)s"), code="pdf_failed",
                    error=exc.message) from exc


# A4 landscape: title (zh) and subtitle (en), facts, then sections of one table each; a
# section with an empty title has no heading.
TABLES = r"""
#let d = json(bytes(sys.inputs.view))
#set document(title: d.title, author: d.agency)
#set text(font: ("Noto Sans CJK SC",), lang: "zh", region: "cn", size: 7.5pt)
#set page(paper: "a4", flipped: true, margin: (x: 1.2cm, top: 1.4cm, bottom: 1.6cm),
  footer: context align(center, text(size: 7pt,
    [#d.title · #counter(page).display("1 / 1", both: true)])))
#align(center, block(below: 1em)[
  #text(size: 15pt, weight: "bold", d.title) \
  #text(size: 8.5pt, d.subtitle)
])
#for f in d.facts [#f \ ]
#for s in d.sections [
  #v(0.6em)
  #if s.title != "" [#text(size: 10pt, weight: "bold", s.title) #v(0.3em)]
  #if s.rows.len() == 0 { d.empty } else {
    table(columns: s.widths.map(w => w * 1fr), inset: 3pt,
      stroke: 0.4pt + luma(160), fill: (_, y) => if y == 0 { luma(232) },
      table.header(..s.header.map(h => text(weight: "bold", h))),
      ..s.rows.flatten())
  }
]
"""


def fact(label, value: str) -> str:
    """One line of facts under the title: the label in Chinese, then the value."""
    return f"{both(label)['zh']}：{value}"


def section(title, header: list, widths: list[float], rows: list[list[str]]) -> dict:
    return {"title": both(title)["zh"] if title else "",
            "header": [both(h)["zh"] for h in header], "widths": widths,
            "rows": [["" if v is None else str(v) for v in r] for r in rows]}


def tables_pdf(*, title, agency: str, facts: list[str], sections: list[dict], empty,
               heading: str | None = None) -> bytes:
    """A tabular report: ``title`` (a msgid: Chinese title, English subtitle) or
    ``heading`` before the Chinese title, the facts, then the sections."""
    names = both(title)
    view = {"title": f"{heading} {names['zh']}" if heading else names["zh"],
            "subtitle": names["en"], "agency": agency, "facts": facts,
            "empty": both(empty)["zh"], "sections": sections}
    return compile_pdf(TABLES, {"view": json.dumps(view, ensure_ascii=False)})
