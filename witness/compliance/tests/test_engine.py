"""The engine (issue 6 item 1): it raises, resolves and reopens findings as a rule's
breaches come and go, audited one entry per finding; leaves to people what people acted on;
decides on an incremental check only what the given activities touch; judges each thing
under the profile in force when it happened; records every run, a failed one as failed.

The rules here are small ones made for the test (not registered): what breaks them is a set
the test controls, and the engine is what is under test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from witness.activities.models import Activity
from witness.audit.models import AuditEntry, Outcome
from witness.compliance import engine
from witness.compliance.models import CheckKind, CheckRun, CheckStatus
from witness.compliance.rules import Match, Rule, all_rules
from witness.findings.models import Finding, FindingStatus
from witness.org.models import Unit
from witness.profiles import services as profiles
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def unit_rule(broken: set[int], rule_id: str = "TEST-1.unit", **kwargs) -> Rule:
    """Units whose id is in ``broken`` break the rule (one query)."""

    def evaluate(ctx, profile, window):
        return [Match(pk, details={"name": name}, unit_id=pk, at=ctx.now)
                for pk, name in Unit.objects.filter(agency=ctx.agency, pk__in=broken)
                .values_list("pk", "name")]

    return Rule(id=rule_id, requirement="TEST-1", articles="A0", title="test rule",
                subject="org.unit", evaluate=evaluate, by_activity_time=False, **kwargs)


def activity_rule(broken: set[int]) -> Rule:
    def evaluate(ctx, profile, window):
        return [Match(pk, unit_id=unit) for pk, unit in ctx.activities()
                .filter(window.q("arrived_at"), pk__in=broken).values_list("pk", "unit_id")]

    return Rule(id="TEST-2.activity", requirement="TEST-2", articles="A0", title="test",
                subject="activities.activity", evaluate=evaluate,
                touched=lambda ctx: ctx.activities())


def entries(action: str, since: int = 0):
    return AuditEntry.objects.filter(action=action, id__gt=since)


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_breach_raises_one_finding_each_with_its_audit_entry(make_agency):
    ns = make_agency()
    broken = {ns.field.pk, ns.field2.pk}
    rule = unit_rule(broken)
    since = last_id()
    check = engine.run(ns.agency, rules=[rule], actor="test:engine")
    findings = Finding.objects.filter(rule_id=rule.id)
    assert sorted(findings.values_list("object_id", flat=True)) == sorted(broken)
    assert all(fi.status == FindingStatus.OPEN and fi.unit_id == fi.object_id
               and fi.details["requirement"] == "TEST-1" for fi in findings)
    raised = entries("finding.raise", since)
    assert sorted(int(e.object_id) for e in raised) == sorted(fi.pk for fi in findings)
    assert {e.actor_label for e in raised} == {"test:engine"}
    assert check.per_rule[rule.id]["raised"] == 2
    # the same breaches again: nothing new, no new entry
    since = last_id()
    again = engine.run(ns.agency, rules=[rule])
    assert again.per_rule[rule.id] == {**again.per_rule[rule.id], "found": 2, "raised": 0,
                                       "resolved": 0, "reopened": 0}
    assert findings.count() == 2 and not entries("finding.raise", since).exists()


def test_a_finding_is_resolved_when_its_breach_is_gone_and_reopened_when_back(make_agency):
    ns = make_agency()
    broken = {ns.field.pk}
    rule = unit_rule(broken)
    engine.run(ns.agency, rules=[rule])
    finding = Finding.objects.get(rule_id=rule.id)
    broken.clear()
    since = last_id()
    check = engine.run(ns.agency, rules=[rule])
    finding.refresh_from_db()
    assert finding.status == FindingStatus.RESOLVED
    assert check.per_rule[rule.id]["resolved"] == 1
    assert [int(e.object_id) for e in entries("finding.resolve", since)] == [finding.pk]
    broken.add(ns.field.pk)
    since = last_id()
    check = engine.run(ns.agency, rules=[rule])
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN
    assert check.per_rule[rule.id]["reopened"] == 1
    assert [int(e.object_id) for e in entries("finding.reopen", since)] == [finding.pk]
    assert Finding.objects.filter(rule_id=rule.id).count() == 1


@pytest.mark.parametrize("status", [FindingStatus.EXPLAINED, FindingStatus.ACCEPTED,
                                    FindingStatus.REJECTED, FindingStatus.ESCALATED])
def test_a_finding_a_person_acted_on_is_left_alone(make_agency, status):
    ns = make_agency()
    broken = {ns.field.pk}
    rule = unit_rule(broken)
    engine.run(ns.agency, rules=[rule])
    Finding.objects.filter(rule_id=rule.id).update(status=status)
    broken.clear()
    since = last_id()
    check = engine.run(ns.agency, rules=[rule])
    assert Finding.objects.get(rule_id=rule.id).status == status
    assert check.per_rule[rule.id]["resolved"] == 0
    broken.add(ns.field.pk)
    check = engine.run(ns.agency, rules=[rule])
    assert Finding.objects.get(rule_id=rule.id).status == status
    assert check.per_rule[rule.id]["raised"] == check.per_rule[rule.id]["reopened"] == 0
    assert not entries("finding.resolve", since).exists()
    assert not entries("finding.reopen", since).exists()


def test_an_incremental_check_decides_only_what_the_activities_touch(make_agency):
    ns = make_agency()
    one, two = (f.ActivityFactory(unit=ns.field) for _ in range(2))
    broken = {one.pk, two.pk}
    rule = activity_rule(broken)
    full_only = unit_rule({ns.field.pk})
    check = engine.run(ns.agency, activity_ids=[one.pk], rules=[rule, full_only])
    assert check.kind == CheckKind.ACTIVITIES and check.activity_ids == [one.pk]
    assert list(Finding.objects.filter(rule_id=rule.id)
                .values_list("object_id", flat=True)) == [one.pk]
    assert full_only.id not in check.per_rule  # decided by full checks only
    assert not Finding.objects.filter(rule_id=full_only.id).exists()
    engine.run(ns.agency, rules=[rule])
    assert Finding.objects.filter(rule_id=rule.id, status=FindingStatus.OPEN).count() == 2
    broken.clear()
    engine.run(ns.agency, activity_ids=[one.pk], rules=[rule])
    status = dict(Finding.objects.filter(rule_id=rule.id).values_list("object_id", "status"))
    assert status == {one.pk: FindingStatus.RESOLVED, two.pk: FindingStatus.OPEN}


def test_a_run_for_one_agency_leaves_another_agencys_findings_alone(make_agency):
    first, second = make_agency(), make_agency()
    broken = {first.field.pk, second.field.pk}
    rule = unit_rule(broken)
    engine.run(first.agency, rules=[rule])
    engine.run(second.agency, rules=[rule])
    assert Finding.objects.filter(rule_id=rule.id, status=FindingStatus.OPEN).count() == 2
    check = engine.run(first.agency, rules=[rule])
    assert check.per_rule[rule.id]["resolved"] == 0
    assert Finding.objects.filter(rule_id=rule.id, status=FindingStatus.OPEN).count() == 2


def test_the_profile_in_force_when_the_activity_happened_decides(make_agency):
    """lushan-2019 (A: one officer suffices) until 100 days ago, then full-process-b
    (B12: two officers): a one-officer activity before the switch is judged by A and is
    fine, one after it by B and breaks the minimum."""
    ns = make_agency("lushan-2019")  # applied 400 days ago
    switch = timezone.now() - timedelta(days=100)
    profiles.apply(ns.agency, "full-process-b", effective_from=switch)
    before = f.ActivityFactory(unit=ns.field, arrived_at=switch - timedelta(days=10))
    after = f.ActivityFactory(unit=ns.field, arrived_at=switch + timedelta(days=10))
    for activity in (before, after):
        f.ActivityOfficerFactory(activity=activity, person=ns.people["officer"])

    def too_few_officers(ctx, profile, window):
        rows = (ctx.activities().filter(window.q("arrived_at"))
                .annotate(n=Count("officers")).filter(n__lt=profile.min_officers)
                .values_list("pk", "n"))
        return [Match(pk, details={"officers": n, "minimum": profile.min_officers,
                                   "profile": profile.name}) for pk, n in rows]

    rule = Rule(id="TEST-3.officers", requirement="ACT-2", articles="B12", title="test",
                subject="activities.activity", evaluate=too_few_officers,
                touched=lambda ctx: ctx.activities())
    engine.run(ns.agency, rules=[rule])
    finding = Finding.objects.get(rule_id=rule.id)
    assert finding.object_id == after.pk
    assert finding.details["minimum"] == 2 and finding.details["profile"] == "full-process-b"
    assert not Finding.objects.filter(rule_id=rule.id, object_id=before.pk).exists()


def test_a_rule_on_the_current_profile_ignores_a_change_scheduled_for_later(make_agency):
    ns = make_agency("lushan-2019")
    profiles.apply(ns.agency, "full-process-b",
                   effective_from=timezone.now() + timedelta(days=30))
    seen = []

    def evaluate(ctx, profile, window):
        seen.append((profile.name, window.start, window.end))
        return []

    rule = Rule(id="TEST-4.now", requirement="X", articles="", title="t",
                subject="org.unit", evaluate=evaluate, by_activity_time=False)
    engine.run(ns.agency, rules=[rule])
    assert seen == [("lushan-2019", None, None)]


def test_every_run_is_recorded_with_its_counts_and_audited(make_agency):
    ns = make_agency()
    rule = unit_rule({ns.field.pk})
    since = last_id()
    check = engine.run(ns.agency, rules=[rule], actor="test:engine")
    stored = CheckRun.objects.get(pk=check.pk)
    assert stored.status == CheckStatus.DONE and stored.finished_at is not None
    assert stored.kind == CheckKind.FULL and stored.actor == "test:engine"
    assert stored.per_rule[rule.id]["found"] == 1 and stored.per_rule[rule.id]["raised"] == 1
    assert stored.per_rule[rule.id]["seconds"] >= 0
    for action in ("compliance.check.start", "compliance.check.finish"):
        entry = entries(action, since).get()
        assert entry.object_id == str(check.pk) and entry.outcome == Outcome.SUCCESS


def test_a_run_that_fails_is_recorded_as_failed(make_agency):
    ns = make_agency()
    good = unit_rule({ns.field.pk})

    def broken(ctx, profile, window):
        raise RuntimeError("the query broke")

    bad = Rule(id="TEST-5.broken", requirement="X", articles="", title="t",
               subject="org.unit", evaluate=broken, by_activity_time=False)
    since = last_id()
    with pytest.raises(RuntimeError):
        engine.run(ns.agency, rules=[good, bad])
    stored = CheckRun.objects.get()
    assert stored.status == CheckStatus.FAILED and "the query broke" in stored.error
    assert good.id in stored.per_rule and bad.id not in stored.per_rule
    finish = entries("compliance.check.finish", since).get()
    assert finish.outcome == Outcome.FAILURE
    # what ran before the failure stays decided (each rule in its own transaction)
    assert Finding.objects.filter(rule_id=good.id).count() == 1


def test_an_agency_without_a_profile_finds_nothing(db):
    agency = f.AgencyFactory()
    unit = f.UnitFactory(agency=agency)
    rule = unit_rule({unit.pk})
    check = engine.run(agency, rules=[rule])
    assert check.per_rule[rule.id]["found"] == 0
    assert not Finding.objects.exists()


def test_every_registered_rule_names_its_requirement_and_articles():
    rules = all_rules()
    assert len({r.id for r in rules}) == len(rules)
    for rule in rules:
        assert rule.id.startswith(rule.requirement + "."), rule.id
        assert rule.articles and str(rule.title)
        assert "." in rule.subject


def test_activity_subjects_belong_to_their_agency(make_agency):
    ns = make_agency()
    q = engine.agency_q(Activity, ns.agency)
    assert q is not None
    mine = f.ActivityFactory(unit=ns.field)
    other = f.ActivityFactory()
    assert list(Activity.objects.filter(q)) == [mine]
    assert other.agency_id != ns.agency.pk
