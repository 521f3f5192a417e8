"""SUP-1 (A17: 每年应当至少组织一次音像记录资料评查): a finding on the agency for each completed
calendar year since its first activity without an approved and closed annual review whose
period covers some of that year."""

from __future__ import annotations

from datetime import date

import pytest

from witness.compliance import engine
from witness.compliance.rules import get
from witness.compliance.rules.review import NO_ANNUAL_REVIEW
from witness.findings.models import Finding, FindingStatus
from witness.review import services
from witness.testing import factories as f

from .conftest import local, make_campaign, subject

pytestmark = pytest.mark.django_db
NOW = local(2026, 6, 1)


@pytest.fixture
def world(site):
    def build(profile):
        ns = site(profile)
        ns.reviewer = ns.people["officer"]
        ns.legal = subject(ns.people["legal"])
        ns.leader = subject(ns.people["leader"])
        for year in (2023, 2024, 2025):
            act = f.ActivityFactory(unit=ns.field, arrived_at=local(year, 5, 1))
            f.ActivityOfficerFactory(activity=act, person=ns.people["unit_head"])
        return ns

    return build


def years_found(agency) -> dict[str, str]:
    return dict(Finding.objects.filter(rule_id=NO_ANNUAL_REVIEW.id, object_id=agency.pk)
                .values_list("key", "status"))


def run(ns):
    return engine.run(ns.agency, rules=[NO_ANNUAL_REVIEW], now=NOW)


def campaign(ns, year, *, kind="annual", upto="closed", to_year=None):
    c = make_campaign(ns, kind=kind, units=[ns.field],
                      period=(date(year, 1, 1), date(to_year or year, 12, 31)))
    services.sample(ns.legal, c)
    if upto in ("approved", "closed"):
        services.approve(ns.leader, c)
    if upto == "closed":
        services.close(ns.legal, c)
    return c


def test_SUP1_rule_is_registered():
    rule = get("SUP-1.no_annual_review")
    assert rule is NO_ANNUAL_REVIEW
    assert (rule.requirement, rule.subject, rule.by_activity_time, rule.touched) == (
        "SUP-1", "org.agency", False, None)


@pytest.mark.parametrize("profile", ["lushan-2019", "full-process-b"])
def test_SUP1_each_completed_year_without_a_closed_annual_review_is_a_finding(world,
                                                                              profile):
    ns = world(profile)
    campaign(ns, 2024)  # reviewed
    campaign(ns, 2023, upto="approved")  # approved, never closed: not done
    campaign(ns, 2025, kind="inspection")  # an inspection is not the annual review
    run(ns)
    assert years_found(ns.agency) == {"2023": FindingStatus.OPEN,
                                      "2025": FindingStatus.OPEN}
    finding = Finding.objects.get(rule_id=NO_ANNUAL_REVIEW.id, key="2023")
    assert finding.details["year"] == 2023 and finding.details["requirement"] == "SUP-1"


@pytest.mark.parametrize("profile", ["lushan-2019", "full-process-b"])
def test_SUP1_every_year_reviewed_raises_nothing_and_resolves_what_was_raised(world,
                                                                              profile):
    ns = world(profile)
    run(ns)
    assert set(years_found(ns.agency)) == {"2023", "2024", "2025"}
    campaign(ns, 2023, to_year=2024)  # one campaign over two years covers both
    campaign(ns, 2025)
    run(ns)
    assert set(years_found(ns.agency).values()) == {FindingStatus.RESOLVED}


def test_SUP1_the_current_year_and_an_agency_without_activities_raise_nothing(site):
    ns = site()
    run(ns)
    f.ActivityFactory(unit=ns.field, arrived_at=local(2026, 1, 5))
    run(ns)
    assert years_found(ns.agency) == {}


def test_SUP1_one_agencys_run_leaves_another_agencys_findings_alone(world):
    """The engine decides only the running agency's findings: A's nightly run must not take
    B's open SUP-1 findings for gone (nor B's run A's), and B's leaders do not see A's."""
    from witness.access import authz
    a, b = world("lushan-2019"), world("full-process-b")
    run(a)
    run(b)
    run(a)
    assert set(years_found(a.agency).values()) == {FindingStatus.OPEN}
    assert set(years_found(b.agency).values()) == {FindingStatus.OPEN}
    a_finding = Finding.objects.filter(rule_id=NO_ANNUAL_REVIEW.id, object_id=a.agency.pk)
    leader_b = authz.subject_of(b.people["leader"].user)
    assert not authz.visible_findings(leader_b).filter(pk__in=a_finding).exists()
    leader_a = authz.subject_of(a.people["leader"].user)
    assert authz.visible_findings(leader_a).filter(pk__in=a_finding).count() == 3
