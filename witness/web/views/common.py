"""What every view needs: the role gate, the agency, WitnessError as text, keyset paging.

The gate (:func:`roles_required`) asks :mod:`witness.access.authz` (issue 5 item 1): the
role check is the policy table's, object scope is the views' through the authz helpers
(:func:`scoped`), and every refusal under the gate is written to the audit log as one
``denied`` entry (:func:`audit_denied`, GB/T 22239-2019 security audit of failures).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models, transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.audit import services as audit
from witness.audit.models import Outcome
from witness.core.errors import NotFound, Refused, WitnessError
from witness.org import services as org
from witness.web.access import PAGES

PAGE_SIZE = 50

# Service errors that say the object is not in a state for the action (409 Conflict);
# the other WitnessErrors are input the rules reject (422 Unprocessable Content).
CONFLICT_CODES = frozenset({
    "already_issued", "not_issued", "ledger_overlap", "not_in_service", "not_checkable",
    "not_lost", "duplicate_serial", "duplicate_case", "case_not_open",
})

NO_AGENCY = _("No agency is set up yet. Run 'witness demo' or import your own data.")


def person_of(user):
    try:
        return user.person
    except (ObjectDoesNotExist, AttributeError):
        return None


def agency_for(request):
    """The agency of the user's own record, else the installation's default agency;
    None when none is set up yet."""
    person = person_of(request.user)
    if person is not None:
        return person.agency
    try:
        return org.default_agency()
    except NotFound:
        return None


def error_lines(exc: WitnessError) -> list[str]:
    """The error in Chinese, then in English (one line where both read the same)."""
    zh, en = exc.zh, exc.en
    return [zh] if zh == en else [zh, en]


def error_status(exc: WitnessError) -> int:
    return 409 if isinstance(exc, Refused) or exc.code in CONFLICT_CODES else 422


def add_error(form, exc: WitnessError) -> int:
    """Show a service's refusal above the form, in both languages; returns the status."""
    for line in error_lines(exc):
        form.add_error(None, line)
    return error_status(exc)


def form_status(form, status: int | None = None) -> int:
    """200 for a blank form, 400 for a form with input errors, else ``status``."""
    if status is not None:
        return status
    return 400 if form.is_bound and form.errors else 200


def roles_required(page: str):
    """Login required; the policy action of the page (witness.web.access.PAGES) must be
    allowed to a role the user holds now (``authz.require``), else 403. Sets
    ``request.subject`` (authz.Subject), ``request.agency`` and ``request.roles``.

    A refusal — of the role here, or of the object's scope or grant inside the view
    (PermissionDenied, authz.Denied) — writes one ``denied`` audit entry for the request
    (issue 5; GB/T 22239-2019 audit of failures) and answers 403."""
    if page not in PAGES:
        raise ValueError(f"No access rule for the page {page!r}")
    action = PAGES[page]

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            subject = authz.subject_of(request.user)
            request.subject = subject
            try:
                authz.require(subject, action)
                agency = subject.agency
                if agency is None:
                    return no_agency(request)
                request.agency, request.roles = agency, subject.roles
                return view(request, *args, **kwargs)
            except PermissionDenied as exc:
                audit_denied(request, action, exc=exc)
                raise

        return wrapped

    return decorator


def audit_denied(request, action: str, obj=None, *, exc: Exception | None = None) -> None:
    """Write the one ``denied`` audit entry of a refused request: the policy ``action``,
    the object if known, and ``{path, method}`` (and the refusal's code), in a transaction
    of its own so that it stays whatever the view rolled back. A second call for the same
    request writes nothing (one entry per refused request)."""
    if getattr(request, "_witness_denied_audited", False):
        return
    request._witness_denied_audited = True
    details = {"path": request.path[:500], "method": request.method}
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        details["reason"] = code
    user = request.user if getattr(request.user, "is_authenticated", False) else None
    with transaction.atomic():
        audit.append(user, action, obj, outcome=Outcome.DENIED, details=details)


def scoped(request, qs, pk, action: str, visible):
    """The object ``pk`` of ``qs`` if ``visible(subject, qs)`` holds it, else 404.

    An object that exists but lies outside the subject's scope answers 404 like one that
    does not exist — its existence is not revealed — and writes a ``denied`` audit entry
    (reason ``scope``) so that probing for other people's objects is on record."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    found = visible(request.subject, qs).filter(pk=pk).first()
    if found is not None:
        return found
    hidden = qs.filter(pk=pk).first()
    if hidden is not None:
        audit_denied(request, action, hidden, exc=authz.Denied(code="scope"))
    raise Http404


def no_agency(request):
    """A friendly page instead of an error while nothing is set up."""
    error = NotFound(NO_AGENCY, code="no_agency")
    return render(request, "web/no_agency.html", {"error_lines": error_lines(error)})


@dataclass
class Page:
    rows: list
    next_cursor: str | None
    is_first: bool


def _encode(value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def keyset(request, qs, field: str, *, descending: bool, size: int = PAGE_SIZE) -> Page:
    """One page ordered by (``field``, id), starting after the ``?after=`` cursor:
    LIMIT size + 1 tells whether there is a next page; no COUNT over the table."""
    order = [f"-{field}", "-id"] if descending else [field, "id"]
    qs = qs.order_by(*order)
    cursor = request.GET.get("after", "")
    value, sep, pk = cursor.rpartition("~")
    if sep and pk.isdigit():
        model_field = qs.model._meta.get_field(field)
        try:
            if isinstance(model_field, models.DateTimeField):
                value = datetime.fromisoformat(value)
                if timezone.is_naive(value):
                    value = timezone.make_aware(value)
            before = "lt" if descending else "gt"
            qs = qs.filter(Q(**{f"{field}__{before}": value})
                           | Q(**{field: value, f"id__{before}": int(pk)}))
        except ValueError:
            cursor = ""
    else:
        cursor = ""
    rows = list(qs[: size + 1])
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = f"{_encode(getattr(last, field))}~{last.pk}"
    return Page(rows=rows, next_cursor=next_cursor, is_first=not cursor)
