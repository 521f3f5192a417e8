"""Pages of retention (RET-1) and preservation holds (RET-2): purge batches with their
proposal and decision, holds with their decision and release, complaint registration.

Every check is the services' (witness.retention.purge / holds, which ask witness.access);
the views turn refusals into pages: outside the scope 404 with a ``denied`` entry, a
refused role or person 403, a refused step 409, bad input 400/422.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from witness.access.authz import Denied
from witness.core.errors import NotFound, WitnessError
from witness.retention import holds, purge
from witness.retention.forms import ComplaintForm, HoldForm, ProposeForm
from witness.retention.models import Hold, PurgeBatch
from witness.web.views.common import (
    add_error,
    audit_denied,
    error_lines,
    error_status,
    form_status,
    keyset,
    roles_required,
)

PLAN_ROWS = 200


def _plan(request):
    rows = (purge.purgeable(request.agency).select_related("retention__profile_version",
                                                        "device")
            .order_by("retention__keep_until", "pk")[:PLAN_ROWS])
    return list(rows)


@roles_required("retention_batches")
def retention_batches(request):
    subject = request.subject
    can_propose = subject.may("retention.propose")
    to_decide = []
    if subject.may("retention.decide"):
        to_decide = list(purge.visible_batches(subject).filter(state="proposed")
                         .exclude(proposed_by=subject.person))
    page = keyset(request, purge.visible_batches(subject), "proposed_at", descending=True)
    plan = _plan(request)
    return render(request, "retention/batches.html", {
        "page": page, "plan": plan, "can_propose": can_propose, "to_decide": to_decide,
        "form": ProposeForm([r.pk for r in plan])})


@roles_required("retention_propose")
def retention_propose(request):
    if request.method != "POST":
        return redirect("retention_batches")
    plan = _plan(request)
    form = ProposeForm([r.pk for r in plan], request.POST)
    status = None
    if form.is_valid():
        ids = None if form.cleaned_data["all_expired"] else form.cleaned_data["recording"]
        try:
            out = purge.propose(request.subject, ids, note=form.cleaned_data["note"])
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Purge batch proposed; it waits for approval."))
            return redirect("retention_batch", pk=out.batch.pk)
    page = keyset(request, purge.visible_batches(request.subject), "proposed_at",
                  descending=True)
    return render(request, "retention/batches.html", {
        "page": page, "plan": plan, "can_propose": True, "to_decide": [], "form": form},
        status=form_status(form, status))


def _batch(request, pk, action):
    batch = purge.visible_batches(request.subject).filter(pk=pk).first()
    if batch is None:
        hidden = PurgeBatch.objects.filter(pk=pk).first()
        if hidden is not None:
            audit_denied(request, action, hidden, exc=Denied(code="scope"))
        raise Http404
    return batch


@roles_required("retention_batch")
def retention_batch(request, pk):
    batch = _batch(request, pk, "retention.view")
    items = batch.items.select_related("recording").order_by("pk")
    return render(request, "retention/batch.html", {"batch": batch, "items": items})


@roles_required("retention_decide")
def retention_decide(request, pk):
    """POST decision=approve|reject and note (required to reject); from HTMX the row."""
    if request.method != "POST":
        return redirect("retention_batches")
    batch = _batch(request, pk, "retention.decide")
    decision = request.POST.get("decision", "")
    error, status, notice = None, 200, None
    try:
        if decision not in ("approve", "reject"):
            raise WitnessError(_("Choose to approve or to reject."), code="bad_decision")
        purge.decide(request.subject, batch, approve=decision == "approve",
                     note=request.POST.get("note", ""))
        notice = (_("Approved; the purge runs in the background.") if decision == "approve"
                  else _("Rejected."))
    except WitnessError as exc:
        error, status = error_lines(exc), error_status(exc)
    except Denied as exc:
        audit_denied(request, "retention.decide", batch, exc=exc)
        error, status = error_lines(exc.error), 403
    if request.headers.get("HX-Request") != "true":
        (messages.error(request, "\n".join(error)) if error
         else messages.success(request, notice))
        return redirect("retention_batch", pk=batch.pk)
    batch = PurgeBatch.objects.select_related("proposed_by", "approver").get(pk=batch.pk)
    html = render_to_string("retention/_batch_row.html", {
        "b": batch, "error_lines": error, "notice": notice, "done": error is None},
        request=request)
    return HttpResponse(html, status=status)


@roles_required("hold_list")
def hold_list(request):
    subject = request.subject
    page = keyset(request, holds.visible_holds(subject), "proposed_at", descending=True)
    complaints = list(holds.visible_complaints(subject)[:50])
    return render(request, "retention/holds.html", {
        "page": page, "complaints": complaints, "can_decide": subject.may("hold.decide")})


def _target(request):
    data = request.POST if any(request.POST.get(k) for k in holds.KINDS) else request.GET
    named = [k for k in holds.KINDS if data.get(k)]
    if len(named) != 1:
        raise Http404
    try:
        return named[0], holds.target_for(request.subject, named[0], data[named[0]])
    except NotFound:
        audit_denied(request, "hold.propose", exc=Denied(code="scope"))
        raise Http404 from None


@roles_required("hold_new")
def hold_new(request):
    kind, target = _target(request)
    form = HoldForm(request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            holds.propose(request.subject, target, form.cleaned_data["reason"],
                          form.cleaned_data["note"])
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Preservation hold proposed; it protects the records "
                                        "already and waits for approval."))
            return redirect("hold_list")
    return render(request, "retention/hold_form.html", {
        "form": form, "kind": kind, "target": target}, status=form_status(form, status))


@roles_required("hold_decide")
def hold_decide(request, pk):
    """POST decision=approve|reject|release and note; from HTMX the row."""
    if request.method != "POST":
        return redirect("hold_list")
    hold = holds.visible_holds(request.subject).filter(pk=pk).first()
    if hold is None:
        hidden = Hold.objects.filter(pk=pk).first()
        if hidden is not None:
            audit_denied(request, "hold.decide", hidden, exc=Denied(code="scope"))
        raise Http404
    decision, note = request.POST.get("decision", ""), request.POST.get("note", "")
    error, status, notice = None, 200, None
    try:
        if decision == "release":
            hold = holds.release(request.subject, hold, note)
        elif decision in ("approve", "reject"):
            hold = holds.decide(request.subject, hold, approve=decision == "approve",
                                note=note)
        else:
            raise WitnessError(_("Choose to approve, reject or release."), code="bad_decision")
        notice = hold.get_state_display()
    except WitnessError as exc:
        error, status = error_lines(exc), error_status(exc)
    except Denied as exc:
        audit_denied(request, "hold.decide", hold, exc=exc)
        error, status = error_lines(exc.error), 403
    if request.headers.get("HX-Request") != "true":
        (messages.error(request, "\n".join(error)) if error
         else messages.success(request, notice))
        return redirect("hold_list")
    hold = holds.visible_holds(request.subject).get(pk=hold.pk)
    html = render_to_string("retention/_hold_row.html", {
        "h": hold, "can_decide": True, "error_lines": error, "notice": notice},
        request=request)
    return HttpResponse(html, status=status)


@roles_required("complaint_new")
def complaint_new(request):
    kind, activity = _target(request)
    if kind != "activity":
        raise Http404
    form = ComplaintForm(request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            holds.register_complaint(request.subject, activity, **form.cleaned_data)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Complaint registered; a preservation hold on the "
                                        "activity is proposed."))
            return redirect("hold_list")
    return render(request, "retention/complaint_form.html", {
        "form": form, "activity": activity}, status=form_status(form, status))

