"""Pages for confidentiality labels and the state-secret hand-off (issue 5 item 4; EVD-4).

Every check is :mod:`witness.confidentiality.services`' (which asks witness.access.authz);
the views only turn refusals into pages: an item outside the user's scope answers 404 (its
existence is not revealed) with a ``denied`` audit entry, a refused role 403, a refused
step 409 and bad input 422 — each with the reason in Chinese and English.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from witness.access.authz import Denied
from witness.confidentiality import services
from witness.confidentiality.forms import ApproveRemovalForm, ExportForm, LabelChangeForm
from witness.confidentiality.models import HandoffState, LabelChange
from witness.core.errors import NotFound, WitnessError
from witness.web.views.common import (
    add_error,
    audit_denied,
    error_lines,
    error_status,
    form_status,
    keyset,
    roles_required,
)


def _target(request):
    """The recording, activity or case named by ``?recording=`` / ``activity=`` /
    ``case=`` (GET or POST), if the user may ask to change its label."""
    data = request.POST if request.method == "POST" else request.GET
    named = [k for k in services.KINDS if data.get(k)]
    if len(named) != 1:
        raise Http404
    try:
        target = services.target_for(named[0], data[named[0]])
    except NotFound:
        raise Http404 from None
    if not services.can_see(request.subject, target):
        audit_denied(request, "recording.label", target, exc=Denied(code="scope"))
        raise Http404
    return named[0], target


@roles_required("label_change_new")
def label_change_new(request):
    kind, target = _target(request)
    services.check_may_request(request.subject, target)
    form = LabelChangeForm(target.label, request.POST or None)
    status = None
    pending = services.pending_for_target(target)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.request_change(request.subject, target,
                                             form.cleaned_data["label"],
                                             form.cleaned_data["reason"])
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Label change asked for; it waits for %(approver)s.")
                             % {"approver": change.approver.name})
            return redirect("label_changes")
    return render(request, "confidentiality/label_change_form.html", {
        "form": form, "kind": kind, "target": target, "pending": pending},
        status=form_status(form, status))


@roles_required("label_changes")
def label_changes(request):
    subject = request.subject
    to_decide = services.to_decide(subject)
    page = keyset(request, services.visible_changes(subject), "requested_at", descending=True)
    return render(request, "confidentiality/label_changes.html", {
        "to_decide": to_decide, "page": page})


@roles_required("label_change_decide")
def label_change_decide(request, pk):
    """POST decision=approve|reject and note (required to reject). From HTMX the answer is
    the row: decided, or with the error (403/409/422) otherwise."""
    if request.method != "POST":
        return redirect("label_changes")
    change = services.visible_changes(request.subject).filter(pk=pk).first()
    if change is None:
        hidden = LabelChange.objects.filter(pk=pk).first()
        if hidden is not None:
            audit_denied(request, "label.decide", hidden, exc=Denied(code="scope"))
        raise Http404
    decision = request.POST.get("decision", "")
    error, status, notice = None, 200, None
    try:
        if decision not in ("approve", "reject"):
            raise WitnessError(_("Choose to approve or to reject."), code="bad_decision")
        change = services.decide(request.subject, change, approve=decision == "approve",
                                 note=request.POST.get("note", ""))
        notice = _("Approved.") if decision == "approve" else _("Rejected.")
    except WitnessError as exc:
        error, status = error_lines(exc), error_status(exc)
    except Denied as exc:
        audit_denied(request, "label.decide", change, exc=exc)
        error, status = error_lines(exc.error), 403
    if request.headers.get("HX-Request") != "true":
        if error:
            messages.error(request, "\n".join(error))
        else:
            messages.success(request, notice)
        return redirect("label_changes")
    change = LabelChange.objects.select_related(
        "recording", "activity", "case", "requested_by", "approver").get(pk=change.pk)
    html = render_to_string("confidentiality/_decide_row.html", {
        "c": change, "error_lines": error, "notice": notice, "done": error is None},
        request=request)
    return HttpResponse(html, status=status)


@roles_required("secret_handoffs")
def secret_handoffs(request):
    page = keyset(request, services.visible_handoffs(request.subject), "marked_at",
                  descending=True)
    for handoff in page.rows:
        handoff.next_step = services.next_step_text(handoff)
    return render(request, "confidentiality/handoffs.html", {"page": page})


def _allowed(check, subject, handoff) -> bool:
    try:
        check(subject, handoff)
    except (Denied, WitnessError):
        return False
    return True


@roles_required("secret_handoff")
def secret_handoff(request, pk):
    subject = request.subject
    try:
        handoff = services.handoff_for(subject, pk)
    except NotFound:
        raise Http404 from None
    step = request.POST.get("step", "") if request.method == "POST" else ""
    export_form = ExportForm(request.POST if step == "export" else None)
    approve_form = ApproveRemovalForm(request.POST if step == "approve" else None)
    status, step_error, plan = None, None, None
    if request.method == "POST":
        try:
            if step == "export":
                if export_form.is_valid():
                    services.record_export(subject, handoff, **export_form.cleaned_data)
                    messages.success(request, _("The offline export is recorded."))
                    return redirect("secret_handoff", pk=handoff.pk)
                status = 400
            elif step == "approve":
                if approve_form.is_valid():
                    services.approve_removal(subject, handoff,
                                             approve_form.cleaned_data["reason"])
                    messages.success(request, _("The removal is approved."))
                    return redirect("secret_handoff", pk=handoff.pk)
                status = 400
            elif step == "remove":
                result = services.remove(subject, handoff)
                messages.success(request, _("The content is removed from this system; its "
                                            "metadata and the record of the offline copy "
                                            "stay."))
                return redirect("secret_handoff", pk=result.handoff.pk)
            else:
                raise WitnessError(_("Unknown step."), code="bad_step")
        except Denied:
            raise
        except WitnessError as exc:
            step_error, status = error_lines(exc), error_status(exc)
        handoff = services.handoff_for(subject, pk)
    can_export = handoff.state == HandoffState.MARKED and _allowed(
        services.check_custodian_step, subject, handoff)
    can_approve = handoff.state == HandoffState.EXPORTED and _allowed(
        services.check_approver_step, subject, handoff)
    can_remove = handoff.state in (HandoffState.REMOVAL_APPROVED, HandoffState.REMOVING) \
        and _allowed(services.check_custodian_step, subject, handoff)
    if can_remove:
        try:
            plan = services.remove(subject, handoff, dry_run=True).objects
        except WitnessError as exc:
            step_error = step_error or error_lines(exc)
    return render(request, "confidentiality/handoff.html", {
        "handoff": handoff, "recording": handoff.recording,
        "next_step": services.next_step_text(handoff),
        "export_form": export_form, "approve_form": approve_form,
        "can_export": can_export, "can_approve": can_approve, "can_remove": can_remove,
        "plan": plan, "step_error": step_error,
        "approver": _approver_or_none(handoff)}, status=status or 200)


def _approver_or_none(handoff):
    try:
        return services.approver_for(handoff.recording)
    except WitnessError:
        return None
