"""The findings pages, the violation register and its CSV, and the CLI (issue 6 item 2;
ACT-5 B16, SUP-2): through the real views with HTMX, scope as 404, query counts."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from witness.audit.models import AuditEntry, Outcome
from witness.findings.models import FindingStatus, Violation, ViolationOutcome

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_ACT5_SUP2_the_whole_workflow_through_the_pages(world, client, login):
    finding = world.finding
    login(world.officer)
    page = client.get(reverse("finding_detail", args=[finding.pk]))
    assert page.status_code == 200 and reverse("finding_explain", args=[finding.pk]) in \
        page.content.decode()
    answer = client.post(reverse("finding_explain", args=[finding.pk]),
                         {"text": "设备电量耗尽，约2分钟后恢复录制"}, **HTMX)
    assert answer.status_code == 200
    assert "设备电量耗尽，约2分钟后恢复录制" in answer.content.decode()
    # the officer gets no decide form
    assert reverse("finding_decide", args=[finding.pk]) not in answer.content.decode()

    login(world.head)
    refused = client.post(reverse("finding_decide", args=[finding.pk]),
                          {"decision": "reject", "reason": ""}, **HTMX)
    assert refused.status_code == 422
    answer = client.post(reverse("finding_decide", args=[finding.pk]),
                         {"decision": "accept"}, **HTMX)
    assert answer.status_code == 200
    finding.refresh_from_db()
    assert finding.status == FindingStatus.ACCEPTED

    login(world.legal)
    answer = client.post(reverse("finding_escalate", args=[finding.pk]),
                         {"kind": "not_recorded", "description": "未全程录制"}, **HTMX)
    assert answer.status_code == 200, answer.content.decode()[-2000:]
    violation = Violation.objects.get(finding=finding)
    assert violation.responsible == world.officer

    login(world.leader)
    answer = client.post(reverse("violation_decide", args=[violation.pk]),
                         {"outcome": "circulated", "note": "通报批评"}, **HTMX)
    assert answer.status_code == 200
    violation.refresh_from_db()
    assert violation.outcome == ViolationOutcome.CIRCULATED
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED

    page = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    for text in ("设备电量耗尽", "未全程录制", "通报批评"):
        assert text in page
    actions = set(AuditEntry.objects.filter(outcome=Outcome.SUCCESS).values_list(
        "action", flat=True))
    assert {"finding.explain", "finding.accept", "finding.escalate", "violation.register",
            "violation.decide"} <= actions


def test_ACT5_an_officer_cannot_see_or_explain_another_officers_finding(world, client, login,
                                                                       more):
    login(world.colleague)
    detail = client.get(reverse("finding_detail", args=[world.finding.pk]))
    assert detail.status_code == 404
    post = client.post(reverse("finding_explain", args=[world.finding.pk]), {"text": "x"})
    assert post.status_code == 404
    world.finding.refresh_from_db()
    assert world.finding.status == FindingStatus.OPEN
    denied = AuditEntry.objects.filter(outcome=Outcome.DENIED, object_id=str(world.finding.pk),
                                       object_type="findings.finding")
    assert denied.count() == 2
    listing = client.get(reverse("finding_list")).content.decode()
    assert reverse("finding_detail", args=[world.finding.pk]) not in listing


def test_ACT5_a_unit_head_cannot_decide_outside_the_unit(world, client, login):
    login(world.officer)
    client.post(reverse("finding_explain", args=[world.finding.pk]), {"text": "原因"})
    login(world.other_head)
    answer = client.post(reverse("finding_decide", args=[world.finding.pk]),
                         {"decision": "accept"}, **HTMX)
    assert answer.status_code == 404  # outside the head's scope: not revealed
    world.finding.refresh_from_db()
    assert world.finding.status == FindingStatus.EXPLAINED


def test_ACT5_the_list_filters_and_its_query_count_does_not_grow(world, client, login, more,
                                                               django_assert_num_queries):
    login(world.head)
    url = reverse("finding_list")
    client.get(url)  # warm caches (content types, the session)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(20):
        more.raise_on(world.activity, f"bulk-{n}", unit=world.field, responsible=world.officer)
    with django_assert_num_queries(len(few)):
        page = client.get(url)
    assert page.content.decode().count('<tr id="finding-') == 21
    filtered = client.get(url, {"status": "explained"}).content.decode()
    assert filtered.count('<tr id="finding-') == 0
    by_rule = client.get(url, {"rule": "ACT-5"}).content.decode()
    assert by_rule.count('<tr id="finding-') == 21
    assert client.get(url, {"rule": "ACT-50"}).content.decode().count('<tr id="finding-') == 0
    other_unit = client.get(url, {"unit": world.field2.pk}).content.decode()
    assert other_unit.count('<tr id="finding-') == 0


def test_SUP2_the_violation_register_and_its_csv(world, client, login, as_subject):
    from witness.findings import workflow

    violation = workflow.escalate(as_subject(world.head), world.finding,
                                  kind="not_recorded", description="执法过程中未按规定录制")
    login(world.legal)
    page = client.get(reverse("violation_register"))
    assert page.status_code == 200 and "执法过程中未按规定录制" in page.content.decode()
    response = client.get(reverse("violation_csv"), {"kind": "not_recorded"})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 2
    row = rows[1]
    assert row[0] == str(violation.pk) and world.officer.name in row
    assert "执法过程中未按规定录制" in row and "A18(1) B26(3)" in row
    assert str(world.finding.pk) in row and "ACT-5.gap" in row
    assert AuditEntry.objects.filter(action="violation.export", actor_id=str(
        world.legal.user_id)).count() == 1
    none = client.get(reverse("violation_csv"), {"kind": "loss"}).content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(none)))) == 1
    # officers have no register
    login(world.officer)
    assert client.get(reverse("violation_register")).status_code == 403
    assert client.get(reverse("violation_csv")).status_code == 403


def run(*args):
    out = io.StringIO()
    call_command(*[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_ACT5_SUP2_the_cli_workflow(world, more):
    other = more.raise_on(world.activity, "gap-9", unit=world.field2)
    listed = json.loads(run("finding", "list", "--json", "--unit", world.field.code))
    assert [f["id"] for f in listed] == [world.finding.pk]
    mine = json.loads(run("finding", "list", "--json", "--as", world.colleague.user.username))
    assert mine == []
    assert {f["id"] for f in json.loads(run("finding", "list", "--json", "--rule", "ACT-5"))} \
        == {world.finding.pk, other.pk}

    officer, head = world.officer.user.username, world.head.user.username
    with pytest.raises(CommandError) as caught:  # someone else's finding: not even seen
        run("finding", "explain", world.finding.pk, "--as", world.colleague.user.username,
            "--text", "x")
    assert str(world.finding.pk) in str(caught.value)
    run("finding", "explain", world.finding.pk, "--as", officer, "--text", "中断原因")
    with pytest.raises(CommandError):
        run("finding", "decide", world.finding.pk, "--as", head, "--reject")  # no reason
    shown = json.loads(run("finding", "decide", world.finding.pk, "--as", head, "--reject",
                           "--reason", "理由不充分", "--json"))
    assert shown["status"] == "rejected"
    assert [s["kind"] for s in shown["steps"]] == ["explain", "reject"]
    violation = json.loads(run("finding", "escalate", world.finding.pk, "--as", head,
                               "--kind", "not_recorded", "--description", "未录制", "--json"))
    assert violation["responsible"] == world.officer.name
    decided = json.loads(run("violation", "decide", violation["id"], "--as",
                             world.leader.user.username, "--outcome", "criticism", "--json"))
    assert decided["outcome"] == "criticism"
    assert [v["id"] for v in json.loads(run("violation", "list", "--json"))] == [
        violation["id"]]
    assert "中断原因" in run("finding", "show", world.finding.pk)
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {
        "finding.explain", "finding.reject", "finding.escalate", "violation.decide"}


@pytest.mark.django_db(transaction=True)
def test_SUP2_the_csv_export_commits_its_entry_outside_a_test_transaction(world, client,
                                                                         login):
    """As on a real server, where no transaction wraps the request: the export's audit
    entry is written in a transaction of its own (it used to fail with a 500 there)."""
    login(world.legal)
    response = client.get(reverse("violation_csv"))
    assert response.status_code == 200
    assert AuditEntry.objects.filter(action="violation.export").count() == 1
