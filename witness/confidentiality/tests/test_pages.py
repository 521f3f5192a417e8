"""The label and hand-off pages (EVD-4, issue 5 item 4): asking, deciding with HTMX (a
reason to reject), the hand-off steps by their roles, CSRF on every form, 404 outside
scope."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from witness.access.labels import Label
from witness.accounts.testing import verified_login
from witness.audit.models import AuditEntry, Outcome
from witness.confidentiality import services
from witness.confidentiality.models import ChangeState, HandoffState, LabelChange
from witness.storage.config import get_backend
from witness.testing import factories as f

HX = {"HTTP_HX_REQUEST": "true"}


def new_url(kind, pk):
    return f"{reverse('label_change_new')}?{kind}={pk}"


def test_EVD4_an_officer_asks_for_a_label_change_from_the_page(world, login):
    w = world
    client = login(w.officer)
    page = client.get(new_url("recording", w.rec.pk))
    assert page.status_code == 200
    assert 'name="reason"' in page.content.decode()
    bad = client.post(reverse("label_change_new"), {"recording": w.rec.pk, "label": "privacy",
                                                    "reason": ""})
    assert bad.status_code == 400 and not LabelChange.objects.exists()
    done = client.post(reverse("label_change_new"), {"recording": w.rec.pk,
                                                     "label": "privacy", "reason": "面部"})
    assert done.status_code == 302 and done["Location"] == reverse("label_changes")
    change = LabelChange.objects.get()
    assert (change.recording, change.new_label, change.requested_by) == (
        w.rec, "privacy", w.officer)
    again = client.get(new_url("recording", w.rec.pk))  # pending: no second form
    assert again.status_code == 200 and 'name="reason"' not in again.content.decode()
    listed = client.get(reverse("label_changes"))
    assert listed.status_code == 200 and w.rec.source_path in listed.content.decode()


def test_EVD4_an_item_outside_scope_answers_404_and_is_audited(world, login):
    w = world
    unit = f.UnitFactory(agency=w.agency, name="执法三科", code="x3")
    stranger = f.PersonFactory(unit=unit, roles=["officer"])
    stranger.user = f.UserFactory(username="stranger-page", password=f.PASSWORD)
    stranger.save(update_fields=["user"])
    client = login(stranger)
    assert client.get(new_url("recording", w.rec.pk)).status_code == 404
    assert client.get(new_url("recording", 999999)).status_code == 404
    assert client.get(reverse("label_change_new")).status_code == 404
    assert AuditEntry.objects.filter(action="recording.label", outcome=Outcome.DENIED,
                                     object_id=str(w.rec.pk)).exists()
    admin = login(w.p["sysadmin"])
    assert admin.get(new_url("recording", w.rec.pk)).status_code == 403


def test_EVD4_the_approver_decides_with_htmx_and_a_rejection_needs_a_reason(world, login):
    w = world
    first = services.request_change(w.subject(w.officer), w.rec, "privacy", "面部")
    second = services.request_change(w.subject(w.officer), w.loose, "internal", "内部")
    client = login(w.principal)
    page = client.get(reverse("label_changes")).content.decode()
    assert f'id="label-change-{first.pk}"' in page and f'id="label-change-{second.pk}"' in page
    url = reverse("label_change_decide", args=[first.pk])
    refused = client.post(url, {"decision": "reject", "note": ""}, **HX)
    assert refused.status_code == 422 and "field-error" in refused.content.decode()
    assert LabelChange.objects.get(pk=first.pk).state == ChangeState.PENDING
    rejected = client.post(url, {"decision": "reject", "note": "不涉及隐私"}, **HX)
    assert rejected.status_code == 200 and "inline-ok" in rejected.content.decode()
    assert LabelChange.objects.get(pk=first.pk).state == ChangeState.REJECTED
    approved = client.post(reverse("label_change_decide", args=[second.pk]),
                           {"decision": "approve"})
    assert approved.status_code == 302
    w.loose.refresh_from_db()
    assert w.loose.label == Label.INTERNAL


def test_EVD4_the_wrong_approver_is_refused_on_the_page(world, login):
    w = world
    change = services.request_change(w.subject(w.officer), w.rec, "privacy", "面部")
    client = login(w.in_charge)  # a leader, but not the one lushan-2019 names
    response = client.post(reverse("label_change_decide", args=[change.pk]),
                           {"decision": "approve"}, **HX)
    assert response.status_code == 403
    assert LabelChange.objects.get(pk=change.pk).state == ChangeState.PENDING
    officer = login(w.officer)  # no label.decide at all
    assert officer.post(reverse("label_change_decide", args=[change.pk]),
                        {"decision": "approve"}).status_code == 403


@pytest.mark.parametrize("name", ["label_change_new", "label_change_decide", "secret_handoff"])
def test_EVD4_every_form_needs_its_csrf_token(world, name):
    w = world
    change = services.request_change(w.subject(w.officer), w.rec, "state_secret", "涉密")
    services.decide(w.subject(w.principal), change, approve=True)
    handoff = w.rec.secret_handoffs.get()
    person = w.custodian if name == "secret_handoff" else w.principal
    client = verified_login(Client(enforce_csrf_checks=True), person.user)
    url = {"label_change_new": reverse("label_change_new"),
           "label_change_decide": reverse("label_change_decide", args=[change.pk]),
           "secret_handoff": reverse("secret_handoff", args=[handoff.pk])}[name]
    data = {"label_change_new": {"recording": w.loose_rec.pk,
                                 "label": "internal", "reason": "x"},
            "label_change_decide": {"decision": "approve"},
            "secret_handoff": {"step": "export", "medium": "DVD-R", "medium_id": "1",
                               "held_at": "x", "held_by": "y",
                               "exported_at": "2026-11-30T09:00"}}[name]
    assert client.post(url, data).status_code == 403
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.MARKED
    assert not LabelChange.objects.filter(recording=w.loose_rec).exists()


def test_EVD4_the_handoff_pages_walk_the_steps_by_role(world, login):
    w = world
    change = services.request_change(w.subject(w.officer), w.rec, "state_secret", "涉密")
    services.decide(w.subject(w.principal), change, approve=True)
    handoff = w.rec.secret_handoffs.get()
    url = reverse("secret_handoff", args=[handoff.pk])
    custodian = login(w.custodian)
    listed = custodian.get(reverse("secret_handoffs")).content.decode()
    assert url in listed
    page = custodian.get(url).content.decode()
    assert 'value="export"' in page and 'value="remove"' not in page
    early = custodian.post(url, {"step": "remove"})
    assert early.status_code == 409 and get_backend().exists(w.rec.blob.key)
    incomplete = custodian.post(url, {"step": "export", "medium": "DVD-R"})
    assert incomplete.status_code == 400
    done = custodian.post(url, {"step": "export", "medium": "DVD-R", "medium_id": "MM-9",
                                "held_at": "保密室", "held_by": "张保密",
                                "exported_at": "2026-11-30T09:00"})
    assert done.status_code == 302
    assert custodian.post(url, {"step": "approve", "reason": "同意"}).status_code == 403

    leader = verified_login(Client(), w.principal.user)
    got = leader.get(url)
    assert got.status_code == 200, (got.status_code, got.get("Location"))
    page = got.content.decode()
    assert 'value="approve"' in page and "MM-9" in page
    assert leader.post(url, {"step": "approve", "reason": ""}).status_code == 400
    assert leader.post(url, {"step": "approve", "reason": "同意移除"}).status_code == 302
    assert leader.post(url, {"step": "remove"}).status_code == 403
    assert get_backend().exists(w.rec.blob.key)

    page = custodian.get(url).content.decode()
    assert 'id="removal-plan"' in page and w.rec.blob.key in page
    assert custodian.post(url, {"step": "remove"}).status_code == 302
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.REMOVED
    assert not get_backend().exists(w.rec.blob.key)
    assert "MM-9" in custodian.get(url).content.decode()


def test_EVD4_a_handoff_outside_scope_or_role_is_not_shown(world, login):
    w = world
    change = services.request_change(w.subject(w.officer), w.rec, "state_secret", "涉密")
    services.decide(w.subject(w.principal), change, approve=True)
    handoff = w.rec.secret_handoffs.get()
    url = reverse("secret_handoff", args=[handoff.pk])
    assert login(w.officer).get(url).status_code == 403
    assert login(w.custodian).get(reverse("secret_handoff", args=[99999])).status_code == 404


def test_EVD4_activity_and_case_pages_show_the_label_and_the_change_link(world, login):
    w = world
    client = login(w.p["leader"])
    page = client.get(reverse("activity_detail", args=[w.act.pk])).content.decode()
    assert "label-general" in page and new_url("activity", w.act.pk) in page
    page = client.get(reverse("case_detail", args=[w.case.pk])).content.decode()
    assert "label-general" in page and new_url("case", w.case.pk) in page
