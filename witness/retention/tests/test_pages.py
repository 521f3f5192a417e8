"""The retention, hold and complaint pages (issue 7 items 1-3; issue 8 item 4): propose a
batch, approve it with HTMX, propose and decide holds, register a complaint; list pages'
query counts do not grow with their rows; outside the agency is 404 with a denied entry."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.retention import holds, keep, purge
from witness.retention.models import BatchState, Complaint, Hold, HoldState, PurgeBatch

pytestmark = pytest.mark.django_db


def count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_RET1_custodian_proposes_and_the_leader_approves_from_the_pages(world, login,
                                                                       django_capture_on_commit_callbacks):
    rec = world.recording()
    keep.recompute(actor="test")
    client = login(world.custodian)
    page = client.get(reverse("retention_batches"))
    assert rec.source_path in page.content.decode()
    bad = client.post(reverse("retention_propose"), {"note": "x"})
    assert bad.status_code == 400 and not PurgeBatch.objects.exists()
    done = client.post(reverse("retention_propose"), {"recording": [rec.pk], "note": "到期"})
    batch = PurgeBatch.objects.get()
    assert done.status_code == 302 and batch.items.get().recording == rec
    # the proposer is no approver: 403 on the decision
    client.logout()
    leader = login(world.leader)
    assert f'batch-{batch.pk}' in leader.get(reverse("retention_batches")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        row = leader.post(reverse("retention_decide", args=[batch.pk]),
                          {"decision": "approve"}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and "<tr" in row.content.decode()
    batch.refresh_from_db()
    assert batch.state in (BatchState.APPROVED, BatchState.EXECUTED)


def test_RET1_the_batch_list_and_plan_do_not_grow_in_queries(world, login):
    client = login(world.custodian)
    for _ in range(2):
        world.recording()
    keep.recompute(actor="test")
    purge.propose(world.subject(world.custodian), None)
    url = reverse("retention_batches")
    few = count(client, url)
    for _ in range(4):
        world.recording()
    keep.recompute(actor="test")
    purge.propose(world.subject(world.custodian), None)
    assert count(client, url) == few
    detail = reverse("retention_batch", args=[PurgeBatch.objects.first().pk])
    assert client.get(detail).status_code == 200


def test_RET2_holds_from_the_pages_and_the_list_query_count(world, login):
    officer = login(world.officer)
    url = reverse("hold_new") + f"?activity={world.loose.pk}"
    assert officer.get(url).status_code == 200
    assert officer.post(url, {"reason": "dispute", "note": ""}).status_code == 400
    assert officer.post(url, {"reason": "dispute", "note": "当事人不服"}).status_code == 302
    hold = Hold.objects.get()
    officer.logout()
    leader = login(world.leader)
    few = count(leader, reverse("hold_list"))
    for _ in range(3):
        holds.propose(world.subject(world.officer), world.act, "major", "敏感")
    assert count(leader, reverse("hold_list")) == few
    row = leader.post(reverse("hold_decide", args=[hold.pk]), {"decision": "approve"},
                      HTTP_HX_REQUEST="true")
    assert row.status_code == 200
    hold.refresh_from_db()
    assert hold.state == HoldState.ACTIVE
    refused = leader.post(reverse("hold_decide", args=[hold.pk]),
                          {"decision": "release", "note": ""}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422


def test_RET2_a_complaint_from_the_page_proposes_a_hold(world, login):
    client = login(world.p["legal"])
    url = reverse("complaint_new") + f"?activity={world.loose.pk}"
    assert client.get(url).status_code == 200
    response = client.post(url, {"kind": "complaint", "complainant": "李某",
                                 "received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
                                 "summary": "执法人员态度"})
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.holds.get().activity == world.loose


def test_RET1_another_agencys_batch_is_404_with_a_denied_entry(world, site, login):
    rec = world.recording()
    keep.recompute(actor="test")
    batch = purge.propose(world.subject(world.custodian), [rec.pk]).batch
    other = site()
    client = login(other.people["leader"])
    response = client.post(reverse("retention_decide", args=[batch.pk]),
                           {"decision": "approve"})
    assert response.status_code == 404
    assert AuditEntry.objects.filter(outcome="denied", object_type="retention.purgebatch",
                                     object_id=str(batch.pk)).exists()
