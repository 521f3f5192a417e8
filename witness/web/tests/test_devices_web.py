"""Device issue, return and pre-use check through the web (DEV-3, DEV-4)."""

import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from witness.audit.models import AuditEntry, Outcome
from witness.core.errors import Refused, WitnessError
from witness.devices import services as devices
from witness.devices.models import DeviceIssue, PreUseCheck, RefusedIssue
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def local(dt):
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M:%S")


def check_fields(device_time=None, **overrides):
    return {"battery_percent": 90, "free_storage_mb": 4096, "working": "on",
            "device_time": local(device_time or timezone.now()), **overrides}


def test_dev3_dev4_issue_through_the_web_writes_the_ledger_line_with_its_check(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    custodian = ns.people["custodian"]
    client = login(custodian)
    response = client.post(reverse("device_issue", args=[device.pk]), {
        "holder": ns.people["officer"].pk, "purpose": "现场检查", **check_fields()})
    assert response.status_code == 302
    assert response.url == reverse("device_detail", args=[device.pk])
    issue = DeviceIssue.objects.get(device=device)
    assert issue.holder == ns.people["officer"]
    assert issue.issued_by == custodian.user
    assert issue.purpose == "现场检查"
    check = issue.checks.get()
    assert (check.kind, check.checked_by, check.battery_percent) == ("at_issue", custodian, 90)
    assert abs(check.drift_seconds) <= 2
    entry = AuditEntry.objects.filter(action="device.issue").latest("id")
    assert entry.details["checked"] is True


def test_dev4_issue_without_the_check_is_not_saved(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    response = login(ns.people["custodian"]).post(
        reverse("device_issue", args=[device.pk]), {"holder": ns.people["officer"].pk})
    assert response.status_code == 400
    assert "这个字段是必填项" in response.content.decode()
    assert not DeviceIssue.objects.exists()


def test_dev3_issue_outside_scope_shows_the_refusal_and_writes_no_ledger_row(site, login):
    """Profile B (issue_scope = unit): a device of 执法一科 cannot go to 执法二科."""
    ns = site("full-process-b")
    device = f.DeviceFactory(unit=ns.field, serial="DSJ-B-0009")
    outsider = f.PersonFactory(unit=ns.field2, name="外科室人员")
    client = login(ns.people["custodian"])
    response = client.post(reverse("device_issue", args=[device.pk]),
                           {"holder": outsider.pk, **check_fields()})
    assert response.status_code == 409
    html = response.content.decode()
    errors = html.split('class="form-errors"', 1)[1].split("</div>", 1)[0]
    assert "DSJ-B-0009" in errors and "执法一科" in errors and "执法二科" in errors
    assert "issue scope: unit" in errors  # the English line under the Chinese one
    assert not DeviceIssue.objects.filter(device=device).exists()
    attempt = RefusedIssue.objects.get(device=device)
    assert attempt.person == outsider
    assert attempt.attempted_by == ns.people["custodian"].user
    assert AuditEntry.objects.filter(action="device.issue", outcome=Outcome.REFUSED,
                                     object_id=str(device.pk)).count() == 1


def test_refusal_is_shown_in_chinese_then_english_whatever_the_language(site, login):
    ns = site("full-process-b")
    device = f.DeviceFactory(unit=ns.field)
    outsider = f.PersonFactory(unit=ns.field2)
    with pytest.raises(Refused) as refused:
        devices.issue_device(device, outsider)
    assert refused.value.zh != refused.value.en
    client = login(ns.people["custodian"])
    url = reverse("device_issue", args=[device.pk])
    expected = f"<p>{escape(refused.value.zh)}</p><p>{escape(refused.value.en)}</p>"
    for language in ("zh-hans", "en"):
        client.post(reverse("set_language"), {"language": language, "next": url})
        response = client.post(url, {"holder": outsider.pk, **check_fields()})
        assert response.status_code == 409
        assert expected in response.content.decode()


def test_return_with_htmx_swaps_only_the_row(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field, serial="DSJ-R-0001")
    devices.issue_device(device, ns.people["officer"])
    client = login(ns.people["custodian"])
    response = client.post(reverse("device_return", args=[device.pk]), {"part": "row"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith(f'<tr id="device-{device.pk}">')
    assert "<html" not in html
    assert reverse("device_issue", args=[device.pk]) in html  # it can be issued again
    issue = DeviceIssue.objects.get(device=device)
    assert issue.returned_at is not None and issue.returned_to == ns.people["custodian"].user


def test_return_with_htmx_on_the_detail_page_swaps_the_holder_panel(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    devices.issue_device(device, ns.people["officer"])
    client = login(ns.people["officer"])
    response = client.post(reverse("device_return", args=[device.pk]),
                           {"part": "holder", "notes": "电量低"}, HTTP_HX_REQUEST="true")
    html = response.content.decode().strip()
    assert html.startswith('<section class="panel" id="holder-panel">')
    assert DeviceIssue.objects.get(device=device).return_notes == "电量低"


def test_htmx_return_of_a_device_in_store_answers_409_with_the_row_and_both_messages(
        site, login):
    """DEV-3: htmx-config.js swaps 409 responses, so the row shows the refusal."""
    ns = site()
    device = f.DeviceFactory(unit=ns.field, serial="DSJ-R-0404")
    with pytest.raises(WitnessError) as error:
        devices.return_device(device)
    client = login(ns.people["custodian"])
    response = client.post(reverse("device_return", args=[device.pk]), {"part": "row"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    html = response.content.decode().strip()
    assert html.startswith(f'<tr id="device-{device.pk}">') and "<html" not in html
    zh, en = escape(error.value.zh), escape(error.value.en)
    assert f'<p class="field-error" role="alert">{zh}</p>' in html
    assert f'<p class="field-error" role="alert">{en}</p>' in html
    assert html.index(zh) < html.index(en)
    panel = client.post(reverse("device_return", args=[device.pk]), {"part": "holder"},
                        HTTP_HX_REQUEST="true")
    assert panel.status_code == 409
    assert panel.content.decode().strip().startswith('<section class="panel" id="holder-panel">')
    assert zh in panel.content.decode() and en in panel.content.decode()


def test_return_refused_without_htmx_redirects_with_the_message(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    client = login(ns.people["custodian"])
    response = client.post(reverse("device_return", args=[device.pk]), follow=True)
    assert response.redirect_chain == [(reverse("device_detail", args=[device.pk]), 302)]
    assert "message-error" in response.content.decode()


def test_return_without_htmx_redirects_to_the_detail_page(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    devices.issue_device(device, ns.people["officer"])
    response = login(ns.people["custodian"]).post(reverse("device_return", args=[device.pk]))
    assert response.status_code == 302
    assert response.url == reverse("device_detail", args=[device.pk])
    assert DeviceIssue.objects.get(device=device).returned_at is not None


def test_return_needs_post(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    client = login(ns.people["custodian"])
    assert client.get(reverse("device_return", args=[device.pk])).status_code == 405


def test_dev4_check_form_is_prefilled_with_now_and_drift_is_computed_by_the_server(
        site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    issue = devices.issue_device(device, ns.people["officer"])
    client = login(ns.people["officer"])
    html = client.get(reverse("device_check", args=[device.pk])).content.decode()
    shown = re.search(r'name="device_time" value="([^"]+)"', html).group(1)
    now = timezone.localtime().replace(tzinfo=None)
    assert abs((now - datetime.fromisoformat(shown)).total_seconds()) < 5
    device_time = timezone.now() + timedelta(minutes=5)
    response = client.post(reverse("device_check", args=[device.pk]), {
        "battery_percent": 80, "free_storage_mb": 2048, "device_time": local(device_time),
        "working": "on", "drift_seconds": "0"})
    assert response.status_code == 302
    check = PreUseCheck.objects.get(device=device)
    assert check.issue == issue
    assert check.kind == "at_issue"  # the first check of a line entered without one
    assert check.checked_by == ns.people["officer"]
    assert 295 <= check.drift_seconds <= 301  # whole seconds; not the posted 0
    page = client.get(response.url).content.decode()
    assert "message-warning" in page  # off by more than the profile's 60 s


def test_dev4_check_form_errors_are_chinese(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    devices.issue_device(device, ns.people["officer"])
    client = login(ns.people["officer"])
    response = client.post(reverse("device_check", args=[device.pk]), {
        "battery_percent": 150, "free_storage_mb": "", "device_time": "不是时间"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "确保该值小于或等于100" in html
    assert "这个字段是必填项" in html
    assert not PreUseCheck.objects.exists()


def test_dev4_check_refused_by_the_service_answers_409_in_both_languages(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field, status="retired")
    with pytest.raises(WitnessError) as error:
        devices.record_check(device, ns.people["custodian"], battery_percent=90,
                             free_storage_mb=10, device_time=timezone.now())
    response = login(ns.people["custodian"]).post(
        reverse("device_check", args=[device.pk]), check_fields())
    assert response.status_code == 409
    html = response.content.decode()
    assert f"<p>{escape(error.value.zh)}</p><p>{escape(error.value.en)}</p>" in html
    assert not PreUseCheck.objects.exists()


def test_check_page_works_on_a_phone(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    devices.issue_device(device, ns.people["officer"])
    html = login(ns.people["officer"]).get(
        reverse("device_check", args=[device.pk])).content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'type="datetime-local"' in html and 'inputmode="numeric"' in html
