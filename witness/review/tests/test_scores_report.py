"""SUP-3 (A11, B18, B19): reviewers score the sampled activities against the checklist;
the campaign report (CSV, PDF in Chinese) gives the results per unit and per officer and
the findings raised on the sampled activities (SUP-1)."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.contenttypes.models import ContentType

from witness.access.authz import Denied
from witness.audit.models import AuditEntry
from witness.core.errors import Refused, WitnessError
from witness.findings.models import Finding
from witness.review import report, services
from witness.review.models import CampaignItem, Criterion, Result, Score

from .conftest import make_campaign

pytestmark = pytest.mark.django_db

ALL_PASS = {c.value: Result.PASS for c in Criterion}


@pytest.fixture
def approved(review_world):
    ns = review_world()
    ns.campaign = make_campaign(ns, per_unit=2, per_officer=0)
    services.sample(ns.legal, ns.campaign)
    services.approve(ns.leader, ns.campaign)
    ns.items = list(CampaignItem.objects.filter(campaign=ns.campaign).order_by("position"))
    return ns


def test_SUP3_a_reviewer_scores_every_criterion_and_a_new_score_supersedes(approved):
    ns = approved
    item = ns.items[0]
    services.score(ns.rev, item, ALL_PASS)
    services.score(ns.rev, item, {"civil_conduct": "fail"}, {"civil_conduct": "语言生硬"})
    current = {s.criterion: s.result for s in services.current_scores(
        Score.objects.filter(item=item))}
    assert current == {**ALL_PASS, "civil_conduct": "fail"}
    assert Score.objects.filter(item=item).count() == len(Criterion) + 1  # nothing lost
    entries = AuditEntry.objects.filter(action="review.score", object_id=str(item.pk))
    assert entries.count() == 2
    assert entries.order_by("id").last().details["results"] == {"civil_conduct": "fail"}


def test_SUP3_scores_are_for_the_campaigns_reviewers_only(approved):
    ns = approved
    with pytest.raises(Denied):
        services.score(ns.legal, ns.items[0], ALL_PASS)  # legal, but not a reviewer
    assert not Score.objects.exists()


def test_SUP3_a_fail_needs_a_note_and_criteria_are_the_checklists(approved):
    ns = approved
    with pytest.raises(WitnessError):
        services.score(ns.rev, ns.items[0], {"civil_conduct": "fail"})
    with pytest.raises(WitnessError):
        services.score(ns.rev, ns.items[0], {"speed": "pass"})
    assert not Score.objects.exists()


def test_SUP3_no_scores_before_approval_or_after_closing(review_world):
    ns = review_world()
    campaign = make_campaign(ns)
    services.sample(ns.legal, campaign)
    item = CampaignItem.objects.filter(campaign=campaign).first()
    with pytest.raises(Refused):
        services.score(ns.rev, item, ALL_PASS)
    services.approve(ns.leader, campaign)
    services.score(ns.rev, item, ALL_PASS)
    services.close(ns.legal, campaign)
    with pytest.raises(Refused):
        services.score(ns.rev, item, ALL_PASS)
    assert Score.objects.count() == len(Criterion)


def _rows(content: bytes):
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_SUP1_report_csv_gives_results_per_unit_and_officer_and_the_findings(approved):
    ns = approved
    unit1 = [i for i in ns.items if i.unit_id == ns.field.pk]
    unit2 = [i for i in ns.items if i.unit_id == ns.field2.pk]
    assert len(unit1) == len(unit2) == 2
    services.score(ns.rev, unit1[0], ALL_PASS)
    services.score(ns.rev, unit1[1], {**ALL_PASS, "camera_placement": "fail"},
                   {"camera_placement": "只拍到天花板"})
    services.score(ns.rev, unit2[0], {**ALL_PASS, "opening": "na"})
    # a finding on a sampled activity and one on a recording of another sampled one; one
    # on an activity outside the sample is not reported
    from witness.activities.models import Activity
    from witness.recordings.models import Recording

    act_ct = ContentType.objects.get_for_model(Activity)
    rec_ct = ContentType.objects.get_for_model(Recording)
    Finding.objects.create(rule_id="ACT-1.not_recorded", content_type=act_ct,
                           object_id=unit1[0].activity_id, unit=ns.field,
                           details={"requirement": "ACT-1"})
    Finding.objects.create(rule_id="ACT-5.gap", content_type=rec_ct,
                           object_id=ns.recordings[unit2[0].activity_id].pk, unit=ns.field2,
                           details={"requirement": "ACT-5"})
    Finding.objects.create(rule_id="ACT-1.not_recorded", content_type=act_ct,
                           object_id=ns.outside.pk, unit=ns.field)

    content = report.export(ns.legal, ns.campaign, "csv")
    rows = _rows(content)
    header = rows[0]
    assert header[:4] == ["层级", "名称", "执法证号", "部门"]  # Chinese
    by_name = {r[1]: dict(zip(header, r, strict=False)) for r in rows[1:] if len(r) > 2}
    u1, u2 = by_name[ns.field.name], by_name[ns.field2.name]
    col = {key: header[i] for i, (key, _l) in enumerate(report.SUMMARY_COLUMNS)}
    assert (u1[col["items"]], u1[col["scored"]], u1[col["passed"]], u1[col["failed"]]) == (
        "2", "2", str(2 * len(Criterion) - 1), "1")
    assert u1[col["rate"]] == f"{100 * 11 / 12:.1f}%"
    assert u1[col["c:camera_placement"]] == "1/2"
    assert u1[col["findings"]] == "1"
    assert (u2[col["items"]], u2[col["scored"]], u2[col["passed"]], u2[col["na"]],
            u2[col["findings"]]) == ("2", "1", str(len(Criterion) - 1), "1", "1")
    assert u2[col["c:opening"]] == "—"
    # officers: each is credited with the results of the activities they were on
    from witness.activities.models import ActivityOfficer

    officers = ActivityOfficer.objects.filter(activity=unit1[1].activity)
    for ao in officers:
        row = by_name[ao.person.name]
        assert int(row[col["failed"]]) >= 1
    # the findings table: the two on the sample, not the third
    split = rows.index([])
    findings = rows[split + 2:]
    assert sorted(r[0] for r in findings) == ["ACT-1.not_recorded", "ACT-5.gap"]
    assert {r[2] for r in findings} == {f"#{unit1[0].activity_id}",
                                        f"#{unit2[0].activity_id}"}
    entry = AuditEntry.objects.get(action="review.report")
    assert entry.details["format"] == "csv" and entry.details["findings"] == 2


def test_SUP1_report_pdf_renders(approved):
    ns = approved
    services.score(ns.rev, ns.items[0], ALL_PASS)
    content = report.export(ns.legal, ns.campaign, "pdf")
    assert content.startswith(b"%PDF")
    assert len(content) > 5000


def test_SUP1_the_report_is_the_legal_roles(approved):
    ns = approved
    with pytest.raises(Denied):
        report.export(ns.leader, ns.campaign, "csv")
    with pytest.raises(Denied):
        report.export(ns.rev, ns.campaign, "pdf")  # a reviewer (an officer)
    assert not AuditEntry.objects.filter(action="review.report").exists()
