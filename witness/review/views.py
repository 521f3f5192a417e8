"""Pages of the annual review (评查, SUP-1) and inspections (SUP-3).

* the legal and supervision role: the campaigns, a new campaign, drawing the sample,
  closing, the report (CSV, PDF);
* the bureau leader: approving a campaign (which opens the sampled recordings to its
  reviewers, through the grants of witness.access);
* a reviewer: the campaigns they review, the sample list with the player's links, and the
  score form of an item.

Every rule is :mod:`witness.review.services`'; a campaign outside the user's scope answers
404 (with a ``denied`` entry), a refused role 403, a refused step 409, bad input 422.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from witness.access import authz
from witness.core.errors import NotFound, WitnessError
from witness.recordings.models import Recording
from witness.review import report, services
from witness.review.forms import CampaignForm, ScoreForm
from witness.review.models import Campaign, CampaignItem, CampaignStatus, Criterion
from witness.web.views.common import (
    add_error,
    audit_denied,
    error_lines,
    error_status,
    form_status,
    keyset,
    roles_required,
)


def _campaign(request, pk, action: str) -> Campaign:
    try:
        return services.campaign_for(request.subject, pk)
    except NotFound:
        hidden = Campaign.objects.filter(pk=pk).first()
        if hidden is not None:
            audit_denied(request, action, hidden, exc=authz.Denied(code="scope"))
        raise Http404 from None


@roles_required("review_list")
def review_list(request):
    qs = services.visible_campaigns(request.subject).select_related("created_by",
                                                                     "approved_by")
    page = keyset(request, qs, "created_at", descending=True)
    return render(request, "review/list.html", {"page": page})


@roles_required("review_new")
def review_new(request):
    form = CampaignForm(request.agency, request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.create_campaign(
                request.subject, name=data["name"], kind=data["kind"],
                period_from=data["period_from"], period_to=data["period_to"],
                units=data["units"], reviewers=data["reviewers"],
                valid_until=data["valid_until"], per_unit=data["per_unit"],
                per_officer=data["per_officer"], seed=data["seed"], note=data["note"])
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Campaign created; draw its sample next."))
            return redirect("review_detail", pk=campaign.pk)
    return render(request, "review/form.html", {"form": form},
                  status=form_status(form, status))


def _detail(request, campaign: Campaign, *, error=None, status: int = 200):
    subject = request.subject
    recordings = Recording.objects.only("pk", "source_path", "activity_id", "label",
                                        "started_at").order_by("started_at", "pk")
    items = list(services.items_of(campaign).prefetch_related(
        Prefetch("activity__recordings", queryset=recordings)))
    reviewer = services.is_reviewer(subject, campaign)
    mine = services.scored_counts(campaign, subject.person) if reviewer else {}
    everyone = services.scored_counts(campaign)
    per_unit: dict[str, int] = defaultdict(int)
    for item in items:
        item.mine = mine.get(item.pk, 0)
        item.scored = everyone.get(item.pk, 0)
        per_unit[item.unit.name] += 1
    draft = campaign.status == CampaignStatus.DRAFT
    return render(request, "review/detail.html", {
        "campaign": campaign, "items": items, "per_unit": sorted(per_unit.items()),
        "criteria_count": len(Criterion), "reviewer": reviewer,
        "reviewers": list(campaign.reviewers.select_related("unit").order_by("pk")),
        "units": list(campaign.units.order_by("name")),
        "can_sample": draft and not items and subject.may("review.manage"),
        "can_approve": draft and bool(items) and subject.may("review.approve"),
        "can_close": campaign.status == CampaignStatus.APPROVED
        and subject.may("review.manage"),
        "can_report": subject.may("review.manage"),
        "open": campaign.status == CampaignStatus.APPROVED
        and campaign.valid_until > timezone.now(),
        "error_lines": error}, status=status)


@roles_required("review_detail")
def review_detail(request, pk):
    return _detail(request, _campaign(request, pk, "review.score"))


def _step(request, pk, page: str, action: str, run, done: str):
    campaign = _campaign(request, pk, action)
    try:
        run(request.subject, campaign)
    except WitnessError as exc:
        campaign.refresh_from_db()
        return _detail(request, campaign, error=error_lines(exc), status=error_status(exc))
    messages.success(request, done)
    return redirect("review_detail", pk=campaign.pk)


@roles_required("review_sample")
@require_POST
def review_sample(request, pk):
    return _step(request, pk, "review_sample", "review.manage", services.sample,
                 _("The sample is drawn."))


@roles_required("review_approve")
@require_POST
def review_approve(request, pk):
    return _step(request, pk, "review_approve", "review.approve", services.approve,
                 _("The campaign is approved; its reviewers may view the sampled "
                   "recordings."))


@roles_required("review_close")
@require_POST
def review_close(request, pk):
    return _step(request, pk, "review_close", "review.manage",
                 lambda subject, c: services.close(subject, c, request.POST.get("note", "")),
                 _("The campaign is closed; the reviewers' viewing has ended."))


@roles_required("review_score")
def review_score(request, pk):
    """A reviewer's score form for one sampled activity."""
    subject = request.subject
    try:
        item = services.item_for(subject, pk)
    except NotFound:
        hidden = CampaignItem.objects.filter(pk=pk).first()
        if hidden is not None:
            audit_denied(request, "review.score", hidden, exc=authz.Denied(code="scope"))
        raise Http404 from None
    if not services.is_reviewer(subject, item.campaign):
        raise authz.Denied(_("You are not a reviewer of this campaign."), code="not_reviewer")
    form = ScoreForm(request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            services.score(subject, item, form.results(), form.notes())
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Scores saved."))
            return redirect("review_detail", pk=item.campaign_id)
    current = {s.criterion: s for s in services.current_scores(
        item.scores.filter(reviewer=subject.person))}
    if not form.is_bound:
        for criterion, s in current.items():
            form.initial[f"result_{criterion}"] = s.result
            form.initial[f"note_{criterion}"] = s.note
    recordings = list(Recording.objects.filter(activity=item.activity).order_by(
        "started_at", "pk"))
    officers = list(item.activity.officers.select_related("person"))
    return render(request, "review/score.html", {
        "item": item, "campaign": item.campaign, "activity": item.activity, "form": form,
        "recordings": recordings, "officers": officers, "current": current},
        status=form_status(form, status))


def _report(request, pk, fmt: str, page: str):
    campaign = _campaign(request, pk, "review.manage")
    try:
        content = report.export(request.subject, campaign, fmt)
    except WitnessError as exc:
        return HttpResponse("\n".join(error_lines(exc)), status=422,
                            content_type="text/plain; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/pdf"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="review-{campaign.pk}-{stamp}.{fmt}"')
    return response


@roles_required("review_report_csv")
def review_report_csv(request, pk):
    return _report(request, pk, "csv", "review_report_csv")


@roles_required("review_report_pdf")
def review_report_pdf(request, pk):
    return _report(request, pk, "pdf", "review_report_pdf")
