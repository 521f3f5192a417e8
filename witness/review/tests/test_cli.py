"""``witness review …`` (SUP-1, SUP-3): the whole campaign from the command line, as the
person ``--as`` names; refusals are bilingual errors."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from witness.review.models import Campaign, CampaignItem, Score

pytestmark = pytest.mark.django_db


def cli(*args) -> dict | list:
    out = io.StringIO()
    call_command("review", *[str(a) for a in args], "--json", stdout=out)
    return json.loads(out.getvalue())


def test_SUP1_a_campaign_from_the_command_line(review_world, tmp_path):
    ns = review_world()
    legal = ns.people["legal"].user.username
    until = timezone.localtime() + timedelta(days=10)
    created = cli("create", "--as", legal, "--name", "2025年度评查", "--from", "2025-01-01",
                  "--to", "2025-12-31", "--unit", ns.field.code, "--unit", ns.field2.code,
                  "--reviewer", ns.reviewer.badge_number, "--per-unit", 2, "--seed", 123,
                  "--valid-until", until.strftime("%Y-%m-%dT%H:%M"))
    campaign = Campaign.objects.get(pk=created["id"])
    assert (campaign.seed, campaign.per_unit) == (123, 2)
    with pytest.raises(CommandError) as refused:
        cli("approve", "--as", ns.people["leader"].user.username, campaign.pk)
    assert "Draw the sample" in str(refused.value)
    sampled = cli("sample", "--as", legal, campaign.pk)
    assert sampled["items"] == CampaignItem.objects.filter(campaign=campaign).count() > 0
    cli("approve", "--as", ns.people["leader"].user.username, campaign.pk)
    reviewer = ns.reviewer.user.username
    shown = cli("show", "--as", reviewer, campaign.pk)
    assert [i["activity"] for i in shown["sample"]] == list(
        CampaignItem.objects.filter(campaign=campaign).order_by("position")
        .values_list("activity_id", flat=True))
    item = shown["sample"][0]["id"]
    cli("score", "--as", reviewer, item, "--result", "civil_conduct=fail",
        "--note", "语言不文明")
    assert Score.objects.get(item_id=item).result == "fail"
    assert cli("show", "--as", reviewer, campaign.pk)["sample"][0]["criteria_scored"] == 1
    assert [c["id"] for c in cli("list", "--as", reviewer)] == [campaign.pk]
    for args in (("show", "--as", reviewer, campaign.pk), ("list", "--as", reviewer)):
        out = io.StringIO()  # the tables for people
        call_command("review", *[str(a) for a in args], stdout=out)
        assert "2025年度评查" in out.getvalue()
    assert cli("list", "--as", ns.people["officer"].user.username) == []
    out = tmp_path / "report.csv"
    cli("report", "--as", legal, campaign.pk, "--csv", out)
    assert ns.field2.name in out.read_bytes().decode("utf-8-sig")
    cli("close", "--as", legal, campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == "closed"


def test_SUP1_the_command_refuses_the_wrong_role(review_world):
    ns = review_world()
    until = timezone.localtime() + timedelta(days=10)
    with pytest.raises(CommandError):
        cli("create", "--as", ns.people["officer"].user.username, "--name", "x", "--from",
            "2025-01-01", "--to", "2025-12-31", "--unit", ns.field.code, "--reviewer",
            ns.reviewer.badge_number, "--valid-until", until.strftime("%Y-%m-%dT%H:%M"))
    assert not Campaign.objects.exists()
