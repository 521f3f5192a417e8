"""The global search page (issue 8 item 1): ``/search/?q=&kind=&date_from=&date_to=&unit=
&type=&label=&finding=&after=``.

All kinds: the first few of each kind the user may search, each with a link to its own
paged list. One kind: a page of rows by keyset (``after``), and on PostgreSQL the planner's
estimate of how many match, shown as "about" — never a COUNT over the tables. Bad
parameters answer 400 with the reason in Chinese and English."""

from __future__ import annotations

from django.shortcuts import render

from witness.access.labels import Label
from witness.org.models import Unit
from witness.web.views import search_kinds as kinds
from witness.web.views.common import error_lines, roles_required

PAGE_SIZE = 50
PREVIEW = 5  # rows of each kind when searching them all


def _sections(subject, p: kinds.Params) -> list[dict]:
    names = [p.kind] if p.kind else list(kinds.KINDS)
    sections = []
    for name in names:
        spec = kinds.SPECS[name]
        if not kinds.may_search(subject, name) or not kinds.applies(spec, p):
            continue
        size = PAGE_SIZE if p.kind else PREVIEW
        rows, cursor = kinds.page(subject, name, p, size)
        sections.append({"kind": name, "rows": rows, "next_cursor": cursor,
                         "about": kinds.estimate(subject, name, p) if p.kind else None})
    return sections


@roles_required("search")
def search(request):
    subject = request.subject
    context = {"kinds": [k for k in kinds.KINDS if kinds.may_search(subject, k)],
               "labels": Label.choices, "params": request.GET,
               "units": list(Unit.objects.filter(agency=request.agency)
                             .order_by("code").values("id", "name"))}
    try:
        p = kinds.parse(request.GET)
    except kinds.BadSearch as exc:
        context["error_lines"] = error_lines(exc)
        return render(request, "web/search/search.html", context, status=400)
    context["p"] = p
    context["searched"] = p.filtered or bool(p.kind)
    if context["searched"]:
        context["sections"] = _sections(subject, p)
    return render(request, "web/search/search.html", context)
