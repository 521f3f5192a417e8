"""Printable forms (issue 8 item 5): the device issue register (DEV-3, DEV-4), the viewing
register (EVD-2), a work record (ACT-4), the written explanation (EVD-1) and the review
score sheet (SUP-1) — each a print page with its required fields and signature lines, and a
PDF whose extracted text holds the same fields and whose fonts are embedded; access as the
data's own pages (404 outside the scope, with a denied entry); bounded query counts."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.access import chain
from witness.access.models import StepState
from witness.activities import work_records
from witness.audit.models import AuditEntry, Outcome
from witness.devices import services as devices
from witness.recordings.models import Attribution
from witness.review import services as review
from witness.review.models import CampaignItem, Criterion, Result
from witness.review.tests.conftest import make_campaign, review_world  # noqa: F401
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def pdf_text(tmp_path, content: bytes) -> str:
    for tool in ("pdftotext", "pdffonts"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} (poppler-utils) is missing")
    path = tmp_path / "form.pdf"
    path.write_bytes(content)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts, "no fonts in the PDF"
    for line in fonts:  # columns: name type encoding emb sub uni …
        assert "Noto" in line, line
        assert line.split()[-5] == "yes", f"font not embedded: {line}"  # the emb column
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return re.sub(r"\s+", "", out)


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    assert 'class="print-sheet' in html and "witness/print.css" in html
    return html


def get_pdf(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    return response.content


def lend_simple(ns, device, holder, battery=87):
    devices.issue_device(device, holder, purpose="巡查")
    devices.record_check(device, holder, battery_percent=battery, free_storage_mb=2048,
                         device_time=timezone.now())


# -- 设备领用登记表 ---------------------------------------------------------------------------

def test_DEV3_device_issue_register_page_and_pdf(site, login, tmp_path):
    ns = site()
    officer = ns.people["officer"]
    device = f.DeviceFactory(unit=ns.field, serial="BWC-001", model="DSJ-V9")
    other = f.DeviceFactory(unit=ns.field2, serial="BWC-200")
    lend_simple(ns, device, officer, battery=87)
    devices.return_device(device)
    lend_simple(ns, other, officer, battery=55)
    client = login(ns.people["custodian"])
    html = flat(page(client, reverse("form_device_register")))
    for text in ("设备领用登记表", ns.agency.name, "BWC-001", "DSJ-V9", officer.name, "87",
                 "2048MB", "领用人签名", "归还接收人签名", "签名", "日期", "BWC-200"):
        assert flat(text) in html, text
    # filtered by unit and dates
    html = flat(page(client, reverse("form_device_register") + f"?unit={ns.field.pk}"))
    assert "BWC-001" in html and "BWC-200" not in html
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    html = flat(page(client, reverse("form_device_register") + f"?since={tomorrow}"))
    assert "BWC-001" not in html
    text = pdf_text(tmp_path, get_pdf(client, reverse("form_device_register_pdf")
                                      + f"?unit={ns.field.pk}"))
    for needle in ("设备领用登记表", ns.agency.name, "BWC-001", officer.name, "执法一科",
                   "领用人签名", "日期"):
        assert flat(needle) in text, needle
    assert "BWC-200" not in text


def test_DEV3_device_register_is_the_ledgers_roles(site, login):
    ns = site()
    client = login(ns.people["officer"])
    assert client.get(reverse("form_device_register")).status_code == 403
    assert AuditEntry.objects.filter(outcome=Outcome.DENIED,
                                     details__path=reverse("form_device_register")).exists()


def test_DEV3_device_register_query_count_is_bounded(site, login):
    ns = site()
    client = login(ns.people["custodian"])
    url = reverse("form_device_register")
    officer = ns.people["officer"]
    lend_simple(ns, f.DeviceFactory(unit=ns.field), officer)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(15):
        lend_simple(ns, f.DeviceFactory(unit=ns.field), officer)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries) <= 20


# -- 查阅登记簿 -------------------------------------------------------------------------------

@pytest.fixture
def granted(site):
    ns = site()
    officer = ns.people["officer"]
    case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"])
    act = f.ActivityFactory(unit=ns.field, case=case)
    f.ActivityOfficerFactory(activity=act, person=officer)
    device = f.DeviceFactory(unit=ns.field)
    ns.recs = [f.RecordingFactory(device=device, activity=act, holder=officer,
                                  attribution=Attribution.ATTRIBUTED) for _ in range(2)]
    now = timezone.now()
    req = chain.submit(officer, recordings=ns.recs, reason="行政复议答复需要", wanted_from=now,
                       wanted_until=now + timedelta(days=5), may_download=False, actor="test")
    while (step := req.steps.filter(state=StepState.OPEN).first()) is not None:
        chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    ns.act, ns.case = act, case
    return ns


def test_EVD2_viewing_register_print_page(granted, login):
    ns = granted
    client = login(ns.people["custodian"])
    html = page(client, reverse("form_viewing_register"))
    for text in ("查阅登记簿", ns.agency.name, ns.people["officer"].name, "行政复议答复需要",
                 ns.recs[0].source_path, "查阅人签名", "日期"):
        assert flat(text) in flat(html), text
    # its PDF is the register's own, audited export
    assert reverse("register_pdf") in html
    # an officer has no register
    client = login(ns.people["officer"])
    assert client.get(reverse("form_viewing_register")).status_code == 403


def test_EVD2_viewing_register_print_query_count_is_bounded(granted, login):
    ns = granted
    client = login(ns.people["custodian"])
    url = reverse("form_viewing_register")
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    now = timezone.now()
    for _ in range(5):
        req = chain.submit(ns.people["officer"], recordings=ns.recs, reason="再次查阅",
                           wanted_from=now, wanted_until=now + timedelta(days=2),
                           may_download=False, actor="test")
        while (step := req.steps.filter(state=StepState.OPEN).first()) is not None:
            chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert flat(response.content.decode()).count("再次查阅") == 5
    assert len(many.captured_queries) == len(few.captured_queries)


# -- 工作记录 ---------------------------------------------------------------------------------

def test_ACT4_work_record_page_and_pdf(granted, login, tmp_path):
    ns = granted
    officer = ns.people["officer"]
    record = work_records.file_work_record(
        ns.act, kind="stop", reason="device_failure", basis="执法记录仪电池耗尽，中断记录约十分钟",
        written_by=officer, actor="test")
    client = login(officer)
    html = flat(page(client, reverse("form_work_record", args=[record.pk])))
    for text in ("工作记录", ns.agency.name, ns.act.place, officer.name,
                 "执法记录仪电池耗尽，中断记录约十分钟", "记录人（签名）", "审核人（签名）",
                 "日期", str(record.get_reason_display())):
        assert flat(text) in html, text
    text = pdf_text(tmp_path, get_pdf(client, reverse("form_work_record_pdf",
                                                      args=[record.pk])))
    for needle in ("工作记录", ns.agency.name, officer.name, "执法记录仪电池耗尽",
                   "记录人（签名）", "审核人（签名）", "日期"):
        assert flat(needle) in text, needle


def test_ACT4_work_record_outside_scope_is_404(granted, login):
    ns = granted
    record = work_records.file_work_record(
        ns.act, kind="stop", reason="device_failure", basis="电池耗尽",
        written_by=ns.people["officer"], actor="test")
    stranger = f.PersonFactory(unit=ns.field2, roles=["officer"])
    stranger.user = f.UserFactory(username="stranger", password=f.PASSWORD)
    stranger.save(update_fields=["user"])
    client = login(stranger)
    for name in ("form_work_record", "form_work_record_pdf"):
        assert client.get(reverse(name, args=[record.pk])).status_code == 404
    assert AuditEntry.objects.filter(outcome=Outcome.DENIED, action="activity.view",
                                     object_id=str(record.pk)).count() == 2


# -- 文字说明材料 -----------------------------------------------------------------------------

def test_EVD1_written_explanation_page_and_pdf(granted, login, tmp_path):
    ns = granted
    client = login(ns.people["custodian"])
    url = reverse("form_explanation", args=["activity", ns.act.pk])
    html = flat(page(client, url))
    blob = ns.recs[0].blob
    for text in ("文字说明材料", ns.agency.name, ns.people["custodian"].name, "执法一科",
                 blob.sha256, "提取人（签名）", "日期"):
        assert flat(text) in html, text
    text = pdf_text(tmp_path, get_pdf(client, reverse("form_explanation_pdf",
                                                      args=["activity", ns.act.pk])))
    for needle in ("文字说明材料", ns.agency.name, ns.people["custodian"].name, blob.sha256,
                   "提取人（签名）"):
        assert flat(needle) in text, needle
    entry = AuditEntry.objects.get(action="evidence.explanation")
    assert entry.details["files"] == 2 and entry.object_id == str(ns.act.pk)


def test_EVD1_written_explanation_refuses_other_agency_and_roles(granted, site, login):
    ns = granted
    other = site()
    client = login(other.people["custodian"])
    for name in ("form_explanation", "form_explanation_pdf"):
        assert client.get(reverse(name, args=["activity", ns.act.pk])).status_code == 404
        assert client.get(reverse(name, args=["case", ns.case.pk])).status_code == 404
    assert client.get(reverse("form_explanation", args=["nothing", 1])).status_code == 404
    assert not AuditEntry.objects.filter(action="evidence.explanation").exists()
    client = login(ns.people["officer"])  # officers do not export
    assert client.get(reverse("form_explanation",
                              args=["activity", ns.act.pk])).status_code == 403


# -- 评查评分表 -------------------------------------------------------------------------------

@pytest.fixture
def approved(request):
    ns = request.getfixturevalue("review_world")()
    ns.campaign = make_campaign(ns, per_unit=2, per_officer=0)
    review.sample(ns.legal, ns.campaign)
    review.approve(ns.leader, ns.campaign)
    ns.items = list(CampaignItem.objects.filter(campaign=ns.campaign).order_by("position"))
    review.score(ns.rev, ns.items[0], {c.value: Result.PASS for c in Criterion})
    return ns


def test_SUP1_review_score_sheet_page_and_pdf(approved, login, tmp_path):
    ns = approved
    client = login(ns.people["legal"])
    html = flat(page(client, reverse("form_review_sheet", args=[ns.campaign.pk])))
    for text in ("评查评分表", ns.agency.name, "2025年度评查", "合格", "评查人签名",
                 "评查人（签名）", "手工评分", "日期", *[str(c.label) for c in Criterion]):
        assert flat(text) in html, text
    for item in ns.items:
        assert flat(f"#{item.activity_id}{item.activity.activity_type}") in html
    text = pdf_text(tmp_path, get_pdf(client, reverse("form_review_sheet_pdf",
                                                      args=[ns.campaign.pk])))
    for needle in ("评查评分表", ns.agency.name, "2025年度评查", "合格", "评查人签名"):
        assert flat(needle) in text, needle
    entry = AuditEntry.objects.get(action="review.sheet")
    assert entry.details["items"] == len(ns.items)


def test_SUP1_review_sheet_for_reviewers_of_the_campaign_only(approved, login):
    ns = approved
    client = login(ns.reviewer)  # a reviewer of this approved campaign
    assert client.get(reverse("form_review_sheet", args=[ns.campaign.pk])).status_code == 200
    client = login(ns.people["officer"])  # not a reviewer
    url = reverse("form_review_sheet_pdf", args=[ns.campaign.pk])
    assert client.get(url).status_code == 404
    assert AuditEntry.objects.filter(outcome=Outcome.DENIED, action="review.score",
                                     details__path=url).exists()
    assert not AuditEntry.objects.filter(action="review.sheet").exists()
