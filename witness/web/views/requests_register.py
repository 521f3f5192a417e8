"""The viewing register (查阅登记簿, EVD-2): a page (keyset pages, no COUNT) and its CSV and
PDF exports, each export audited (``register.export``). Custodians, bureau leaders and the
legal role read the agency's register; a unit head the registrations of their units'
people (witness.access.chain.register_scope_q)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from witness.access import chain
from witness.access import register as book
from witness.core.errors import WitnessError
from witness.web.views.common import error_lines, keyset, roles_required
from witness.web.views.requests_forms import RegisterFilterForm


def _entries(request):
    form = RegisterFilterForm(request.GET or None)
    since, until = form.bounds() if form.is_bound else (None, None)
    qs = book.entries(chain.register_scope_q(request.subject), since=since, until=until)
    return form, qs, since, until


@roles_required("register")
def register(request):
    form, qs, _since, _until = _entries(request)
    page = keyset(request, qs, "decided_at", descending=True)
    page.rows = book.with_details(page.rows)
    query = request.GET.urlencode()
    return render(request, "web/requests/register.html", {
        "form": form, "page": page, "export_query": f"?{query}" if query else ""})


def _download(content: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _export(request, fmt: str):
    _form, qs, since, until = _entries(request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    try:
        content = book.export(request.user, fmt, qs.order_by("-decided_at", "-id"),
                              agency=request.agency.name, since=since, until=until)
    except WitnessError as exc:
        return HttpResponse("\n".join(error_lines(exc)), status=422,
                            content_type="text/plain; charset=utf-8")
    if fmt == "csv":
        return _download(content, "text/csv; charset=utf-8", f"viewing-register-{stamp}.csv")
    return _download(content, "application/pdf", f"viewing-register-{stamp}.pdf")


@roles_required("register_csv")
def register_csv(request):
    return _export(request, "csv")


@roles_required("register_pdf")
def register_pdf(request):
    return _export(request, "pdf")
