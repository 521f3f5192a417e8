"""The inbox (待办): steps the signed-in person may decide, approved or rejected in place
(HTMX, a reason required to reject), the custodian's registration form (登记: viewer,
reason and time), and the person's notifications (issue 5 item 3, EVD-2)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from witness.access import authz, chain
from witness.access.models import ApprovalStep, Step, StepState
from witness.core.errors import WitnessError
from witness.web.views.common import (
    audit_denied,
    error_lines,
    error_status,
    keyset,
    roles_required,
)
from witness.web.views.requests_forms import NoteForm

INBOX_STEPS = 200


def _step_rows(person):
    return list(chain.open_steps_for(person).order_by("request__created_at", "id")
                [:INBOX_STEPS])


@roles_required("inbox")
def inbox(request):
    person = request.subject.person
    steps = _step_rows(person) if person is not None else []
    notes = keyset(request, chain.notifications_for(person) if person is not None
                   else chain.Notification.objects.none(), "created_at", descending=True)
    for n in notes.rows:
        n.text = chain.notice_text(n)
    return render(request, "web/requests/inbox.html", {
        "steps": steps, "notes": notes, "page": notes,
        "unread": any(n.read_at is None for n in notes.rows)})


@roles_required("notification_read")
def notification_read(request):
    """POST: mark the person's notifications as read (all, or ``id``)."""
    if request.method != "POST":
        return redirect("inbox")
    person = request.subject.person
    if person is not None:
        ids = [int(v) for v in request.POST.getlist("id") if v.isdigit()] or None
        chain.mark_read(person, ids)
    return redirect("inbox")


def _open_step(request, pk, action: str) -> ApprovalStep:
    """The step ``pk`` of the agency, if the subject may decide it; else 404 (and a
    ``denied`` entry where it exists)."""
    step = (ApprovalStep.objects.filter(request__agency=request.agency, pk=pk)
            .select_related("request__requester__unit", "unit", "approver").first())
    if step is None:
        raise Http404
    if not chain.may_decide(step, request.subject.person):
        audit_denied(request, action, step.request, exc=authz.Denied(code="not_approver"))
        raise Http404
    return step


@roles_required("step_decide")
def step_decide(request, pk):
    """POST decision=approve|reject, note=…: decide a step from the inbox. From HTMX the
    answer is the inbox row: the outcome, or the row again with the error (409/422)."""
    if request.method != "POST":
        return redirect("inbox")
    step = _open_step(request, pk, "request.decide")
    if step.step == Step.CUSTODIAN_REGISTRATION and request.POST.get("decision") == "approve":
        return redirect("step_register", pk=step.pk)  # registration has its own form
    decision = request.POST.get("decision")
    error, status, notice = None, 200, None
    if decision not in ("approve", "reject"):
        error, status = [_("Choose to approve or to reject.")], 422
    else:
        try:
            chain.decide(step, request.subject.person, decision == "approve",
                         request.POST.get("note", ""), actor=request.user)
        except WitnessError as exc:
            error, status = error_lines(exc), error_status(exc)
        else:
            notice = (_("Approved: request #%(id)s goes on.") if decision == "approve"
                      else _("Rejected: request #%(id)s ends.")) % {"id": step.request_id}
    if request.headers.get("HX-Request") != "true":
        if error:
            messages.error(request, "\n".join(error))
        else:
            messages.success(request, notice)
        return redirect("inbox")
    step.refresh_from_db()
    html = render_to_string("web/requests/_step_row.html", {
        "step": step, "error_lines": error, "notice": notice, "done": error is None,
        "note": request.POST.get("note", "")}, request=request)
    return HttpResponse(html, status=status)


@roles_required("step_register")
def step_register(request, pk):
    """The custodian registers viewer, reason and time (登记), which grants the items; or
    rejects with a reason."""
    step = _open_step(request, pk, "request.decide")
    if step.step != Step.CUSTODIAN_REGISTRATION:
        raise Http404
    req = step.request
    form = NoteForm(request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        approve = request.POST.get("decision") != "reject"
        try:
            result = chain.decide(step, request.subject.person, approve,
                                  form.cleaned_data["note"], actor=request.user)
        except WitnessError as exc:
            status = error_status(exc)
            for line in error_lines(exc):
                form.add_error(None, line)
        else:
            if result.state == StepState.WAITING:
                messages.warning(request, _("An item was labelled meanwhile: the approver "
                                            "for labelled items decides before the "
                                            "registration."))
            elif approve:
                messages.success(request, _("Registered; the grant is in force."))
            else:
                messages.success(request, _("Rejected: request #%(id)s ends.")
                                 % {"id": req.pk})
            return redirect("request_detail", pk=req.pk)
    items = list(req.items.select_related("recording").order_by("recording_id"))
    return render(request, "web/requests/register_step.html", {
        "step": step, "req": req, "items": items, "form": form, "now": timezone.now()},
        status=status or (400 if form.is_bound and form.errors else 200))
