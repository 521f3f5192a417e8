"""Pages of the findings workflow and the violation register (issue 6 item 2; ACT-5 B16,
SUP-2 A18 B26).

Every check is :mod:`witness.findings.workflow`'s; the views turn refusals into pages: a
finding or violation outside the user's scope answers 404 (its existence is not
revealed) with a ``denied`` audit entry, a refused role 403, a refused step 409 and bad
input 422 — each with the reason in Chinese and English. The forms of a finding's page
post with HTMX and get the workflow panel back; without HTMX they redirect.
"""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from witness.access import authz
from witness.audit import services as audit
from witness.core.errors import WitnessError
from witness.findings import workflow
from witness.findings.forms import (
    EscalateForm,
    ExplainForm,
    FindingFilterForm,
    OutcomeForm,
    ViolationFilterForm,
)
from witness.findings.models import KIND_ARTICLES, Finding, Violation, ViolationKind
from witness.web.views.common import (
    audit_denied,
    error_lines,
    error_status,
    keyset,
    roles_required,
    scoped,
)

SUBJECT_PAGES = {("activities", "activity"): "activity_detail",
                 ("activities", "case"): "case_detail",
                 ("devices", "device"): "device_detail"}


def rule_title(rule_id: str) -> str:
    """The rule's title from the compliance registry, or nothing for a rule not there."""
    try:
        from witness.compliance.rules import get
    except ImportError:  # pragma: no cover - the registry is part of the project
        return ""
    rule = get(rule_id)
    return str(rule.title) if rule is not None else ""


def subject_of(finding: Finding) -> tuple[str, str | None]:
    """What the finding is about, as text, and its page where it has one."""
    ct = finding.content_type
    model = ct.model_class()
    name = str(model._meta.verbose_name) if model is not None else ct.model
    url = None
    page = SUBJECT_PAGES.get((ct.app_label, ct.model))
    if page is not None:
        try:
            url = reverse(page, args=[finding.object_id])
        except NoReverseMatch:  # pragma: no cover
            url = None
    return f"{name} #{finding.object_id}", url


def _with_titles(findings):
    titles: dict[str, str] = {}
    for finding in findings:
        if finding.rule_id not in titles:
            titles[finding.rule_id] = rule_title(finding.rule_id)
        finding.title = titles[finding.rule_id]
        finding.subject_text, finding.subject_url = subject_of(finding)
    return findings


def _findings_qs():
    return Finding.objects.select_related("unit", "responsible", "content_type")


@roles_required("finding_list")
def finding_list(request):
    form = FindingFilterForm(request.agency, request.GET or None)
    qs = workflow.filtered(workflow.findings(request.subject), **form.filters())
    page = keyset(request, qs, "raised_at", descending=True)
    _with_titles(page.rows)
    return render(request, "findings/list.html", {"form": form, "page": page})


def _panel_context(request, finding: Finding, **extra) -> dict:
    subject = request.subject
    steps = list(workflow.steps_of(finding))
    violations = list(finding.violations.order_by("registered_at", "id")
                      .prefetch_related("responsible"))
    can = {
        "explain": workflow.allowed(workflow.check_may_explain, subject, finding),
        "decide": workflow.allowed(workflow.check_may_decide, subject, finding),
        "escalate": workflow.allowed(workflow.check_may_escalate, subject, finding),
    }
    outcome_for = {v.pk for v in violations
                   if workflow.allowed(workflow.check_may_record_outcome, subject, v)}
    for v in violations:
        v.can_decide = v.pk in outcome_for
    return {"finding": finding, "steps": steps, "violations": violations, "can": can,
            "explain_form": extra.pop("explain_form", None) or ExplainForm(),
            "escalate_form": extra.pop("escalate_form", None) or EscalateForm(request.agency),
            "outcome_form": OutcomeForm(), **extra}


@roles_required("finding_detail")
def finding_detail(request, pk):
    finding = scoped(request, _findings_qs(), pk, "finding.view", authz.visible_findings)
    _with_titles([finding])
    return render(request, "findings/detail.html", _panel_context(request, finding))


def _answer(request, finding, *, error=None, status=200, notice=None, **extra):
    """HTMX: the workflow panel (with the error or the notice); otherwise a redirect to
    the finding's page with a message."""
    if request.headers.get("HX-Request") != "true":
        if error:
            messages.error(request, "\n".join(error))
        elif notice:
            messages.success(request, notice)
        return redirect("finding_detail", pk=finding.pk)
    finding = _findings_qs().get(pk=finding.pk)
    html = render_to_string("findings/_workflow.html", _panel_context(
        request, finding, error_lines=error, notice=notice, **extra), request=request)
    return HttpResponse(html, status=status)


def _step_view(request, pk, action: str, run):
    if request.method != "POST":
        return redirect("finding_detail", pk=pk)
    finding = scoped(request, _findings_qs(), pk, action, authz.visible_findings)
    try:
        notice, extra = run(finding)
    except WitnessError as exc:
        return _answer(request, finding, error=error_lines(exc), status=error_status(exc))
    except authz.Denied as exc:
        audit_denied(request, action, finding, exc=exc)
        return _answer(request, finding, error=error_lines(exc.error), status=403)
    if extra.get("error_lines"):
        return _answer(request, finding, status=400 if extra.pop("bad_form", False) else 422,
                       error=extra.pop("error_lines"), **extra)
    return _answer(request, finding, notice=notice)


@roles_required("finding_explain")
def finding_explain(request, pk):
    """POST text=…: the responsible person's explanation (ACT-5 B16)."""
    def run(finding):
        workflow.explain(request.subject, finding, request.POST.get("text", ""))
        return _("The explanation is recorded; the unit head is notified."), {}

    return _step_view(request, pk, "finding.explain", run)


@roles_required("finding_decide")
def finding_decide(request, pk):
    """POST decision=accept|reject, reason=… (required to reject)."""
    def run(finding):
        decision = request.POST.get("decision", "")
        if decision not in ("accept", "reject"):
            raise WitnessError(_("Choose to accept or to reject."), code="bad_decision")
        workflow.decide(request.subject, finding, accept=decision == "accept",
                        reason=request.POST.get("reason", ""))
        return (_("The explanation is accepted.") if decision == "accept"
                else _("The explanation is rejected.")), {}

    return _step_view(request, pk, "finding.decide", run)


@roles_required("finding_escalate")
def finding_escalate(request, pk):
    """POST kind, description and optionally person: register a violation (SUP-2)."""
    def run(finding):
        form = EscalateForm(request.agency, request.POST)
        if not form.is_valid():
            lines = [f"{form.fields[name].label}: {' '.join(errs)}" if name in form.fields
                     else " ".join(errs) for name, errs in form.errors.items()]
            return None, {"error_lines": lines, "escalate_form": form, "bad_form": True}
        data = form.cleaned_data
        violation = workflow.escalate(request.subject, finding, kind=data["kind"],
                                      description=data["description"],
                                      person=data["person"])
        return _("Violation %(pk)s is registered.") % {"pk": violation.pk}, {}

    return _step_view(request, pk, "violation.register", run)


# --- the violation register (SUP-2) ----------------------------------------------------------

def _violations(request):
    form = ViolationFilterForm(request.GET or None)
    qs = workflow.violations(request.subject).filter(**form.filters())
    return form, qs


def _with_people(rows):
    for v in rows:
        v.articles = " ".join(KIND_ARTICLES.get(ViolationKind(v.kind), ()))
        if v.finding_id:
            v.subject_text, v.subject_url = subject_of(v.finding)
    return rows


@roles_required("violation_register")
def violation_register(request):
    form, qs = _violations(request)
    page = keyset(request, qs, "registered_at", descending=True)
    _with_people(page.rows)
    query = request.GET.urlencode()
    return render(request, "findings/violations.html", {
        "form": form, "page": page, "outcome_form": OutcomeForm(),
        "can_decide": request.subject.may("violation.decide"),
        "export_query": f"?{query}" if query else ""})


CSV_LIMIT = 100_000


def violations_csv(rows) -> bytes:
    """UTF-8 with a BOM (Excel opens it as Unicode), a header row in the active language."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("number"), _("registered at"), _("kind"), _("articles"),
                     _("person responsible"), _("badge number"), _("unit"), _("description"),
                     _("finding"), _("rule"), _("evidence"), _("outcome"), _("decided at"),
                     _("registered by")])
    for v in rows:
        person = v.responsible
        unit = getattr(getattr(person, "unit", None), "name", "")
        writer.writerow([
            v.pk, timezone.localtime(v.registered_at).strftime("%Y-%m-%d %H:%M"),
            v.get_kind_display(), " ".join(KIND_ARTICLES.get(ViolationKind(v.kind), ())),
            getattr(person, "name", str(person)), getattr(person, "badge_number", "") or "",
            unit, v.description, v.finding_id or "",
            v.finding.rule_id if v.finding_id else "",
            subject_of(v.finding)[0] if v.finding_id else "", v.get_outcome_display(),
            timezone.localtime(v.decided_at).strftime("%Y-%m-%d %H:%M") if v.decided_at else "",
            v.registered_by.get_username() if v.registered_by_id else ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@roles_required("violation_csv")
def violation_csv(request):
    """The register as CSV (the filters of the page apply); the export is audited."""
    form, qs = _violations(request)
    rows = list(qs.order_by("-registered_at", "-id")[:CSV_LIMIT])
    content = violations_csv(rows)
    with transaction.atomic():  # the entry commits with the answer (no request transaction)
        audit.append(request.user, "violation.export", None,
                     details={"rows": len(rows), "filters": form.filters() if form.is_bound
                              else {}})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="violations-{stamp}.csv"'
    return response


@roles_required("violation_decide")
def violation_decide(request, pk):
    """POST outcome, note: record the outcome of a violation (A18, B26)."""
    if request.method != "POST":
        return redirect("violation_register")
    violation = scoped(request, Violation.objects.all(), pk, "violation.decide",
                       lambda subject, qs: qs.filter(workflow.violations_q(subject)))
    form = OutcomeForm(request.POST)
    error, status = None, 200
    try:
        if not form.is_valid():
            raise WitnessError(_("Choose the outcome of the violation."), code="bad_outcome")
        workflow.record_outcome(request.subject, violation,
                                outcome=form.cleaned_data["outcome"],
                                note=form.cleaned_data["note"])
    except WitnessError as exc:
        error, status = error_lines(exc), error_status(exc)
    except authz.Denied as exc:
        audit_denied(request, "violation.decide", violation, exc=exc)
        error, status = error_lines(exc.error), 403
    notice = None if error else _("The outcome is recorded.")
    if request.headers.get("HX-Request") != "true":
        if error:
            messages.error(request, "\n".join(error))
        else:
            messages.success(request, notice)
        back = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(back, {request.get_host()},
                                           require_https=request.is_secure()):
            return redirect(back)
        return redirect("violation_register")
    row = workflow.violations(request.subject).filter(pk=violation.pk).first()
    if row is None:  # pragma: no cover - it was visible a moment ago
        raise Http404
    _with_people([row])
    html = render_to_string("findings/_violation_row.html", {
        "v": row, "error_lines": error, "notice": notice, "outcome_form": OutcomeForm(),
        "can_decide": request.subject.may("violation.decide")}, request=request)
    return HttpResponse(html, status=status)
