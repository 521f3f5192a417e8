"""The web pages of the viewing approval chain (EVD-2), disclosure requests (EVD-3) and the
viewing register: issue 5 item 3."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from witness.access import authz, chain
from witness.access.labels import Label
from witness.access.models import (
    AccessRequest,
    ApprovalStep,
    Grant,
    RequestStatus,
    Step,
    StepState,
)
from witness.accounts.testing import verified_login
from witness.audit.models import AuditEntry, Outcome
from witness.core.errors import both
from witness.org.models import Role
from witness.recordings.models import Attribution
from witness.testing import factories as f

pytestmark = pytest.mark.django_db

PROFILES = ["lushan-2019", "full-process-b"]


def minute(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


class Web:
    def __init__(self, site, profile="lushan-2019"):
        ns = site(profile)
        self.ns, self.p = ns, ns.people
        self.officer = self.p["officer"]
        self.case = f.CaseFactory(agency=ns.agency, leader_in_charge=self.p["leader"])
        self.act = f.ActivityFactory(unit=ns.field, case=self.case)
        f.ActivityOfficerFactory(activity=self.act, person=self.officer)
        device = f.DeviceFactory(unit=ns.field)
        self.rec, self.neighbour = (
            f.RecordingFactory(device=device, activity=self.act, holder=self.officer,
                               attribution=Attribution.ATTRIBUTED) for _ in range(2))

    def client(self, role) -> Client:
        return verified_login(Client(), self.p[role].user)

    def form(self, **extra):
        now = timezone.now()
        return {"reason": "复核现场检查过程", "wanted_from": minute(now),
                "wanted_until": minute(now + timedelta(days=2)), **extra}

    def submit(self, **kwargs):
        now = timezone.now()
        return chain.submit(self.officer, recordings=[self.rec], reason="复核",
                            wanted_from=now, wanted_until=now + timedelta(days=2),
                            actor="test", **kwargs)


def open_step(req):
    return req.steps.get(state=StepState.OPEN)


@pytest.mark.parametrize("profile", PROFILES)
def test_evd2_walk_the_chain_through_the_pages(site, profile):
    w = Web(site, profile)
    officer = w.client("officer")
    page = officer.get(reverse("request_new") + f"?recording={w.rec.pk}")
    assert page.status_code == 200
    assert w.rec.source_path in page.content.decode()
    response = officer.post(reverse("request_new"), w.form(recording=w.rec.pk))
    assert response.status_code == 302, response.content.decode()[-2000:]
    req = AccessRequest.objects.get(requester=w.officer)
    assert list(req.items.values_list("recording_id", flat=True)) == [w.rec.pk]
    detail = officer.get(reverse("request_detail", args=[req.pk])).content.decode()
    assert "审核" in detail and "登记" in detail

    # the unit head approves from the inbox, without a reload (HTMX)
    head = w.client("unit_head")
    inbox = head.get(reverse("inbox")).content.decode()
    assert f"step-{open_step(req).pk}" in inbox
    step = open_step(req)
    row = head.post(reverse("step_decide", args=[step.pk]), {"decision": "approve"},
                    HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and "<tr" in row.content.decode()
    assert "<html" not in row.content.decode()
    # the leader in charge
    step = open_step(req)
    assert step.step == Step.LEADER_APPROVAL
    leader = w.client("leader")
    assert leader.post(reverse("step_decide", args=[step.pk]),
                       {"decision": "approve", "note": "同意"}).status_code == 302
    # the custodian registers
    step = open_step(req)
    custodian = w.client("custodian")
    form = custodian.get(reverse("step_register", args=[step.pk])).content.decode()
    assert w.officer.name in form and "复核现场检查过程" in form
    assert custodian.post(reverse("step_register", args=[step.pk]),
                          {"decision": "approve", "note": ""}).status_code == 302
    req.refresh_from_db()
    assert req.status == RequestStatus.GRANTED
    assert Grant.objects.filter(request=req, person=w.officer, recording=w.rec).exists()
    authz.content_allowance(chain.subject_for(w.officer), w.rec)
    # the requester's inbox says so
    inbox = officer.get(reverse("inbox")).content.decode()
    assert f'href="/requests/{req.pk}/"' in inbox and 'class="unread"' in inbox


def test_evd2_reject_needs_a_reason_and_says_so(site):
    w = Web(site)
    req = w.submit()
    head = w.client("unit_head")
    step = open_step(req)
    row = head.post(reverse("step_decide", args=[step.pk]), {"decision": "reject", "note": ""},
                    HTTP_HX_REQUEST="true")
    assert row.status_code == 422
    assert "reason for the rejection" in row.content.decode() or "驳回" in row.content.decode()
    step.refresh_from_db()
    assert step.state == StepState.OPEN
    row = head.post(reverse("step_decide", args=[step.pk]),
                    {"decision": "reject", "note": "理由不足"}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200
    req.refresh_from_db()
    assert req.status == RequestStatus.REJECTED


def test_evd2_requester_and_strangers_cannot_decide(site):
    w = Web(site)
    stranger = f.PersonFactory(unit=w.ns.field2, roles=[Role.UNIT_HEAD],
                               user=f.UserFactory(username="stranger-head"))
    req = w.submit()
    step = open_step(req)
    c = verified_login(Client(), stranger.user)
    assert c.post(reverse("step_decide", args=[step.pk]), {"decision": "approve"}
                  ).status_code == 404
    assert AuditEntry.objects.filter(action="request.decide", outcome=Outcome.DENIED).exists()
    # the officer's role does not decide at all
    assert w.client("officer").post(reverse("step_decide", args=[step.pk]),
                                    {"decision": "approve"}).status_code == 403
    step.refresh_from_db()
    assert step.state == StepState.OPEN


def test_evd2_request_page_is_not_shown_to_others(site):
    w = Web(site)
    req = w.submit()
    other = f.PersonFactory(unit=w.ns.field, roles=[Role.OFFICER],
                            user=f.UserFactory(username="other-officer"))
    c = verified_login(Client(), other.user)
    assert c.get(reverse("request_detail", args=[req.pk])).status_code == 404
    assert w.client("unit_head").get(reverse("request_detail", args=[req.pk])).status_code == 200
    assert w.client("custodian").get(reverse("request_detail", args=[req.pk])).status_code == 200


def test_evd2_request_form_refuses_a_recording_outside_scope(site):
    w = Web(site)
    foreign = f.RecordingFactory(device=f.DeviceFactory(unit=w.ns.field2),
                                 attribution=Attribution.NO_ACTIVITY)
    officer = w.client("officer")
    assert officer.get(reverse("request_new") + f"?recording={foreign.pk}").status_code == 404
    assert officer.post(reverse("request_new"), w.form(recording=foreign.pk)).status_code == 404
    assert not AccessRequest.objects.exists()


def test_evd2_bad_period_is_a_bilingual_422(site):
    w = Web(site)
    now = timezone.now()
    response = w.client("officer").post(reverse("request_new"), w.form(
        recording=w.rec.pk, wanted_until=minute(now + timedelta(days=120))))
    assert response.status_code == 422
    assert "90" in response.content.decode()
    assert not AccessRequest.objects.exists()
    response = w.client("officer").post(reverse("request_new"), w.form(
        recording=w.rec.pk, reason=""))
    assert response.status_code == 400


def test_evd2_request_from_activity_and_case(site):
    w = Web(site)
    officer = w.client("officer")
    assert officer.post(reverse("request_new"), w.form(activity=w.act.pk)).status_code == 302
    req = AccessRequest.objects.get()
    assert set(req.items.values_list("recording_id", flat=True)) == {w.rec.pk, w.neighbour.pk}
    head = w.client("unit_head")  # a unit head may see cases
    assert head.get(reverse("request_new") + f"?case={w.case.pk}").status_code == 200
    assert officer.get(reverse("request_new") + f"?case={w.case.pk}").status_code == 404


@pytest.mark.parametrize("profile", PROFILES)
def test_evd3_disclosure_request_page(site, profile):
    w = Web(site, profile)
    officer = w.client("officer")
    response = officer.post(reverse("disclosure_new"), w.form(
        recording=w.rec.pk, recipient_kind="court", recipient_name="鲁山县人民法院",
        recipient_org="", delivery="link"))
    assert response.status_code == 302, response.content.decode()[-2000:]
    req = AccessRequest.objects.get()
    assert (req.kind, req.recipient_name) == ("disclosure", "鲁山县人民法院")
    assert w.client("custodian").get(reverse("disclosure_new") + f"?recording={w.rec.pk}"
                                     ).status_code == 403


def test_evd2_withdraw_and_revoke_pages(site):
    w = Web(site)
    req = w.submit()
    officer = w.client("officer")
    assert officer.post(reverse("request_withdraw", args=[req.pk])).status_code == 302
    req.refresh_from_db()
    assert req.status == RequestStatus.WITHDRAWN

    req = w.submit()
    while (step := req.steps.filter(state=StepState.OPEN).first()) is not None:
        chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    grant = Grant.objects.get(request=req)
    custodian = w.client("custodian")
    custodian.post(reverse("grant_revoke", args=[grant.pk]), {"reason": ""})
    grant.refresh_from_db()
    assert grant.revoked_at is None  # a reason is required
    assert custodian.post(reverse("grant_revoke", args=[grant.pk]),
                          {"reason": "案件办结"}).status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.revoke_reason == "案件办结"
    with pytest.raises(authz.Denied):
        authz.content_allowance(chain.subject_for(w.officer), w.rec)
    # the officer's role may not revoke
    assert officer.post(reverse("request_revoke", args=[req.pk]),
                        {"reason": "x"}).status_code == 403


def test_evd4_label_step_shown_on_the_request_page(site):
    w = Web(site)
    w.rec.label = Label.PRIVACY
    w.rec.save(update_fields=["label"])
    req = w.submit()
    assert req.steps.filter(step=Step.LABEL_APPROVAL).exists()
    page = w.client("officer").get(reverse("request_detail", args=[req.pk])).content.decode()
    assert "privacy" in page


def test_notification_read(site):
    w = Web(site)
    req = w.submit()
    head = w.client("unit_head")
    assert chain.notifications_for(w.p["unit_head"], unread_only=True).exists()
    assert head.post(reverse("notification_read")).status_code == 302
    assert not chain.notifications_for(w.p["unit_head"], unread_only=True).exists()
    assert req


def test_every_post_form_needs_csrf(site):
    w = Web(site)
    req = w.submit()
    step = open_step(req)
    c = verified_login(Client(enforce_csrf_checks=True), w.p["unit_head"].user)
    for name, args, data in [("step_decide", [step.pk], {"decision": "approve"}),
                             ("notification_read", [], {}),
                             ("request_withdraw", [req.pk], {})]:
        assert c.post(reverse(name, args=args), data).status_code == 403, name
    step.refresh_from_db()
    assert step.state == StepState.OPEN


# --- the register ----------------------------------------------------------------------

def granted(w, n=1):
    out = []
    for _i in range(n):
        req = w.submit()
        while (step := req.steps.filter(state=StepState.OPEN).first()) is not None:
            chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
        out.append(req)
    return out


def test_evd2_register_page_keyset_and_query_count(site, django_assert_max_num_queries):
    w = Web(site)
    granted(w, 3)
    custodian = w.client("custodian")
    custodian.get(reverse("register"))  # warm the session
    with django_assert_max_num_queries(16):
        small = custodian.get(reverse("register"))
    granted(w, 6)
    with django_assert_max_num_queries(16):
        big = custodian.get(reverse("register"))
    assert small.status_code == big.status_code == 200
    body = big.content.decode()
    assert body.count(w.officer.name) >= 9 and "复核" in body
    # an officer does not read the register
    assert w.client("officer").get(reverse("register")).status_code == 403


def test_evd2_register_keyset_pages(site):
    """51 registrations: the first page has 50 and a link to the next, which has one."""
    w = Web(site)
    [req] = granted(w)
    registration = req.steps.get(step=Step.CUSTODIAN_REGISTRATION)
    for i in range(50):  # more registrations of the same shape, made directly
        copy = AccessRequest.objects.create(
            agency=w.ns.agency, requester=w.officer, reason=f"第{i}次", status="granted",
            wanted_from=req.wanted_from, wanted_until=req.wanted_until)
        ApprovalStep.objects.create(
            request=copy, position=1, step=Step.CUSTODIAN_REGISTRATION, role="custodian",
            state=StepState.APPROVED, decided_by=w.p["custodian"],
            decided_at=registration.decided_at - timedelta(minutes=i + 1),
            details={"reason": f"第{i}次"})
    custodian = w.client("custodian")
    first = custodian.get(reverse("register")).content.decode()
    assert len(re.findall(r"<tr>\s*<td><a href=\"/requests/", first)) == 50
    cursor = re.search(r'href="\?after=([^"]+)"', first)
    assert cursor is not None
    second = custodian.get(reverse("register") + "?after=" + cursor.group(1).replace("&amp;", "&"))
    rows = re.findall(r"<tr>\s*<td><a href=\"/requests/", second.content.decode())
    assert len(rows) == 1 and "第49次" in second.content.decode()


def test_evd2_list_pages_query_counts(site, django_assert_max_num_queries):
    w = Web(site)
    for _i in range(2):
        w.submit()
    officer, head = w.client("officer"), w.client("unit_head")
    officer.get(reverse("request_list"))
    with django_assert_max_num_queries(14):
        assert officer.get(reverse("request_list")).status_code == 200
    for _i in range(5):
        w.submit()
    with django_assert_max_num_queries(14):
        assert officer.get(reverse("request_list")).status_code == 200
    with django_assert_max_num_queries(16):
        page = head.get(reverse("inbox"))
    assert len(re.findall(r'id="step-\d', page.content.decode())) == 7


def test_evd2_register_csv_has_bom_and_rows(site):
    w = Web(site)
    [req] = granted(w)
    response = w.client("custodian").get(reverse("register_csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert "查阅事由" in header and "登记时间" in header
    assert w.officer.name in row and "复核" in row and w.rec.source_path in row
    assert f"#{req.pk}" in row
    assert AuditEntry.objects.filter(action="register.export", details__format="csv").exists()


def test_evd2_register_date_filter(site):
    w = Web(site)
    granted(w)
    today = timezone.localdate()
    c = w.client("custodian")
    yesterday = (today - timedelta(days=1)).isoformat()
    empty = c.get(reverse("register_csv") + f"?since={yesterday}&until={yesterday}")
    assert len(empty.content.decode("utf-8-sig").splitlines()) == 1
    full = c.get(reverse("register_csv") + f"?since={today.isoformat()}")
    assert len(full.content.decode("utf-8-sig").splitlines()) == 2


def test_evd2_register_pdf_text(site, tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is missing")
    w = Web(site)
    granted(w)
    response = w.client("leader").get(reverse("register_pdf"))
    assert response.status_code == 200, response.content[:500]
    assert response.content.startswith(b"%PDF")
    path = tmp_path / "register.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout
    text = re.sub(r"\s+", "", text)  # a cell's text may wrap inside its narrow column
    title = both(gettext_lazy("Viewing register"))["zh"]  # 查阅登记簿 once the catalogue has it
    assert re.sub(r"\s+", "", title) in text and w.rec.source_path in text
    assert w.officer.name in text and "复核" in text
    assert AuditEntry.objects.filter(action="register.export", details__format="pdf").exists()


def test_evd2_unit_head_register_is_their_units(site):
    w = Web(site)
    granted(w)
    stranger = f.PersonFactory(unit=w.ns.field2, roles=[Role.UNIT_HEAD],
                               user=f.UserFactory(username="stranger-head2"))
    c = verified_login(Client(), stranger.user)
    text = c.get(reverse("register_csv")).content.decode("utf-8-sig")
    assert len(text.splitlines()) == 1  # the header only
    mine = w.client("unit_head").get(reverse("register_csv")).content.decode("utf-8-sig")
    assert len(mine.splitlines()) == 2


def test_evd2_requester_cannot_approve_own_request_through_the_inbox(site):
    w = Web(site)
    head = w.p["unit_head"]
    other_head = f.PersonFactory(unit=w.ns.field, roles=[Role.UNIT_HEAD],
                                 user=f.UserFactory(username="second-head"))
    now = timezone.now()
    req = chain.submit(head, recordings=[w.rec], reason="本人复核", wanted_from=now,
                       wanted_until=now + timedelta(days=1), actor="test")
    step = open_step(req)
    own = w.client("unit_head")
    assert f"step-{step.pk}" not in own.get(reverse("inbox")).content.decode()
    assert own.post(reverse("step_decide", args=[step.pk]), {"decision": "approve"}
                    ).status_code == 404
    step.refresh_from_db()
    assert step.state == StepState.OPEN
    second = verified_login(Client(), other_head.user)
    assert f"step-{step.pk}" in second.get(reverse("inbox")).content.decode()
