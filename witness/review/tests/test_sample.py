"""SUP-1: the review sample is reproducible from its stored seed, stratified per unit and
per officer, and covers every unit of the campaign that has activities in the period."""

from __future__ import annotations

import random
from datetime import date

import pytest

from witness.audit.models import AuditEntry
from witness.core.errors import Refused, WitnessError
from witness.review import services
from witness.review.models import CampaignItem, CampaignStatus, Stratum
from witness.testing import factories as f

from .conftest import make_campaign

pytestmark = pytest.mark.django_db


def sampled(campaign):
    return list(CampaignItem.objects.filter(campaign=campaign).order_by("position")
                .values_list("activity_id", "stratum", "unit_id", "officer_id"))


@pytest.mark.parametrize("profile", ["lushan-2019", "full-process-b"])
def test_SUP1_sample_is_reproducible_from_its_seed_and_covers_every_unit(review_world,
                                                                         profile):
    ns = review_world(profile)
    first = make_campaign(ns, seed=20250101)
    services.sample(ns.legal, first)
    again = make_campaign(ns, seed=20250101)
    services.sample(ns.legal, again)
    assert sampled(first) == sampled(again)
    # the stored items are what the seed draws, and draw() is pure
    assert [(p.activity_id, p.stratum, p.unit_id, p.officer_id)
            for p in services.draw(first)] == sampled(first)
    units = {unit for _a, _s, unit, _o in sampled(first)}
    assert units == {ns.field.pk, ns.field2.pk}
    assert first.seed == 20250101
    # the outside-the-period activity is never a candidate
    assert ns.outside.pk not in {a for a, *_ in sampled(first)}


def test_SUP1_the_unit_stratum_is_random_sample_of_the_ordered_unit_pool(review_world):
    """The documented algorithm, computed by hand: rng.sample over each unit's
    activities ordered by id, units in id order, one generator."""
    ns = review_world()
    campaign = make_campaign(ns, seed=7, per_unit=3, per_officer=0)
    services.sample(ns.legal, campaign)
    rng = random.Random(7)
    expected = []
    for unit_id in sorted([ns.field.pk, ns.field2.pk]):
        pool = sorted(a.pk for a in ns.acts[unit_id])
        expected += [(a, Stratum.UNIT, unit_id, None) for a in rng.sample(pool, 3)]
    assert sampled(campaign) == expected


def test_SUP1_another_seed_draws_another_sample(review_world):
    ns = review_world()
    one, two = make_campaign(ns, seed=1, per_unit=3), make_campaign(ns, seed=2, per_unit=3)
    services.sample(ns.legal, one)
    services.sample(ns.legal, two)
    assert sampled(one) != sampled(two)


def test_SUP1_every_officer_is_on_at_least_per_officer_sampled_activities(review_world):
    ns = review_world()
    campaign = make_campaign(ns, seed=3, per_unit=1, per_officer=2)
    services.sample(ns.legal, campaign)
    from witness.activities.models import ActivityOfficer

    picked = {a for a, *_ in sampled(campaign)}
    for person in (ns.a, ns.b, ns.c):
        on = ActivityOfficer.objects.filter(person=person, activity_id__in=picked).count()
        assert on >= 2, person
    officer_items = [row for row in sampled(campaign) if row[1] == Stratum.OFFICER]
    assert officer_items and all(row[3] is not None for row in officer_items)


def test_SUP1_a_unit_without_activities_gets_no_item_and_others_still_do(review_world):
    ns = review_world()
    campaign = make_campaign(ns, units=[ns.field, ns.field2, ns.office])
    services.sample(ns.legal, campaign)
    assert {u for _a, _s, u, _o in sampled(campaign)} == {ns.field.pk, ns.field2.pk}


def test_SUP1_sample_is_drawn_once_and_audited(review_world):
    ns = review_world()
    campaign = make_campaign(ns)
    services.sample(ns.legal, campaign)
    entry = AuditEntry.objects.filter(action="review.campaign.sample").get()
    assert entry.details["seed"] == 42
    assert entry.details["activities"] == [a for a, *_ in sampled(campaign)]
    with pytest.raises(Refused):
        services.sample(ns.legal, campaign)


def test_SUP1_nothing_to_sample_is_refused(review_world):
    ns = review_world()
    campaign = make_campaign(ns, period=(date(2020, 1, 1), date(2020, 12, 31)))
    with pytest.raises(Refused):
        services.sample(ns.legal, campaign)
    assert not CampaignItem.objects.filter(campaign=campaign).exists()


def test_SUP1_only_the_legal_role_creates_and_samples(review_world):
    from witness.access.authz import Denied

    ns = review_world()
    legal = ns.legal
    ns.legal = ns.leader
    with pytest.raises(Denied):
        make_campaign(ns)
    ns.legal = legal
    campaign = make_campaign(ns)
    with pytest.raises(Denied):
        services.sample(ns.leader, campaign)
    assert campaign.status == CampaignStatus.DRAFT


def test_SUP1_create_checks_its_input(review_world):
    ns = review_world()
    with pytest.raises(WitnessError):
        make_campaign(ns, period=(date(2025, 12, 31), date(2025, 1, 1)))
    with pytest.raises(WitnessError):
        make_campaign(ns, per_unit=0)
    nobody = f.PersonFactory(unit=ns.field)  # no role, no account
    with pytest.raises(WitnessError):
        make_campaign(ns, reviewers=[nobody])
    other = f.UnitFactory()  # another agency's unit
    with pytest.raises(WitnessError):
        make_campaign(ns, units=[other])
