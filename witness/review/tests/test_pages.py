"""The review pages (SUP-1, SUP-3): the legal role's campaigns, the leader's approval, the
reviewer's sample list and score form — through the real views, with their scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from witness.review import services
from witness.review.models import Campaign, CampaignItem, CampaignStatus, Criterion, Score

from .conftest import make_campaign

pytestmark = pytest.mark.django_db


def test_SUP1_the_whole_campaign_through_the_pages(review_world, login):
    ns = review_world()
    client = login(ns.people["legal"])
    assert client.get(reverse("review_new")).status_code == 200
    until = timezone.localtime() + timedelta(days=20)
    response = client.post(reverse("review_new"), {
        "name": "2025年度评查", "kind": "annual", "period_from": "2025-01-01",
        "period_to": "2025-12-31", "units": [ns.field.pk, ns.field2.pk], "per_unit": 2,
        "per_officer": 1, "seed": 99, "reviewers": [ns.reviewer.pk],
        "valid_until": until.strftime("%Y-%m-%dT%H:%M"), "note": ""})
    assert response.status_code == 302, response.content.decode()[-2000:]
    campaign = Campaign.objects.get()
    assert campaign.seed == 99 and campaign.created_by == ns.people["legal"]
    assert client.post(reverse("review_sample", args=[campaign.pk])).status_code == 302
    assert CampaignItem.objects.filter(campaign=campaign).exists()
    # the legal role may not approve; the leader may
    assert client.post(reverse("review_approve", args=[campaign.pk])).status_code == 403
    leader = login(ns.people["leader"])
    assert leader.post(reverse("review_approve", args=[campaign.pk])).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED

    reviewer = login(ns.reviewer)
    page = reviewer.get(reverse("review_detail", args=[campaign.pk]))
    assert page.status_code == 200
    item = CampaignItem.objects.filter(campaign=campaign).order_by("position").first()
    assert reverse("review_score", args=[item.pk]) in page.content.decode()
    assert reverse("recording_play", args=[ns.recordings[item.activity_id].pk]) in \
        page.content.decode()
    form = reviewer.get(reverse("review_score", args=[item.pk]))
    assert form.status_code == 200
    data = {f"result_{c.value}": "pass" for c in Criterion}
    data["result_civil_conduct"] = "fail"
    refused = reviewer.post(reverse("review_score", args=[item.pk]), data)
    assert refused.status_code == 422  # a fail without a note
    assert not Score.objects.exists()
    data["note_civil_conduct"] = "态度生硬"
    assert reviewer.post(reverse("review_score", args=[item.pk]), data).status_code == 302
    assert Score.objects.filter(item=item).count() == len(Criterion)

    client = login(ns.people["legal"])  # one test client: each login replaces the last
    csv = client.get(reverse("review_report_csv", args=[campaign.pk]))
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert ns.field.name in csv.content.decode("utf-8-sig")
    pdf = client.get(reverse("review_report_pdf", args=[campaign.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.post(reverse("review_close", args=[campaign.pk])).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CLOSED


def test_SUP1_a_reviewer_sees_only_the_approved_campaigns_they_review(review_world,
                                                                      login):
    ns = review_world()
    campaign = make_campaign(ns)
    services.sample(ns.legal, campaign)
    item = CampaignItem.objects.filter(campaign=campaign).first()
    reviewer = login(ns.reviewer)
    assert reviewer.get(reverse("review_detail", args=[campaign.pk])).status_code == 404
    services.approve(ns.leader, campaign)
    assert reviewer.get(reverse("review_detail", args=[campaign.pk])).status_code == 200
    assert f"#{campaign.pk}" in reviewer.get(reverse("review_list")).content.decode()
    # another officer: not theirs (the fixture's one client: each login replaces the last)
    other = login(ns.people["officer"])
    assert other.get(reverse("review_detail", args=[campaign.pk])).status_code == 404
    assert other.get(reverse("review_score", args=[item.pk])).status_code == 404
    assert f"#{campaign.pk}" not in other.get(reverse("review_list")).content.decode()
    # the legal role sees the campaign, but scoring is for its reviewers
    legal = login(ns.people["legal"])
    assert legal.get(reverse("review_score", args=[item.pk])).status_code == 403


def test_SUP1_list_and_detail_pages_keep_their_query_count(review_world, login,
                                                           django_assert_max_num_queries):
    ns = review_world()
    for seed in range(6):
        c = make_campaign(ns, seed=seed)
        services.sample(ns.legal, c)
    services.approve(ns.leader, c)
    legal = login(ns.people["legal"])
    with django_assert_max_num_queries(15):
        assert legal.get(reverse("review_list")).status_code == 200
    reviewer = login(ns.reviewer)
    with django_assert_max_num_queries(20):
        assert reviewer.get(reverse("review_detail", args=[c.pk])).status_code == 200
