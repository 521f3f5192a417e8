"""Registering a device (DEV-1) and recording its events (DEV-5) through the web."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.devices import services as devices
from witness.devices.models import Device, DeviceEvent
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def both_lines(exc: WitnessError) -> str:
    assert exc.zh != exc.en
    return f"<p>{escape(exc.zh)}</p><p>{escape(exc.en)}</p>"


def test_dev1_register_a_device_with_kind_defaults_and_overrides(site, login):
    ns = site()
    custodian = ns.people["custodian"]
    client = login(custodian)
    form = client.get(reverse("device_register")).context["form"]
    assert form["custodian"].value() == custodian.pk  # the custodian registering it
    response = client.post(reverse("device_register"), {
        "kind": "body_camera", "serial": "  DSJ-NEW-01 ", "model": "DSJ-V9",
        "manufacturer": "某电子", "unit": ns.field.pk, "custodian": custodian.pk,
        "records_video": "unknown", "records_audio": "unknown", "takes_photos": "false",
        "notes": "新购"})
    device = Device.objects.get(serial="DSJ-NEW-01")
    assert response.status_code == 302
    assert response.url == reverse("device_detail", args=[device.pk])
    assert (device.kind, device.model, device.manufacturer) == ("body_camera", "DSJ-V9", "某电子")
    assert device.unit == ns.field and device.custodian == custodian
    # video and sound as usual for a body camera; photos switched off explicitly
    assert (device.records_video, device.records_audio, device.takes_photos) == (
        True, True, False)
    entry = AuditEntry.objects.filter(action="device.register").latest("id")
    assert entry.actor_label == custodian.user.username


def test_dev1_register_input_errors_answer_400_in_chinese(site, login):
    ns = site()
    response = login(ns.people["custodian"]).post(reverse("device_register"), {
        "kind": "toaster", "serial": "", "unit": ns.field.pk})
    assert response.status_code == 400
    html = response.content.decode()
    assert "这个字段是必填项" in html
    assert "选择一个有效的选项" in html
    assert not Device.objects.exists()


def test_dev1_register_a_serial_twice_answers_409_in_both_languages(site, login):
    ns = site()
    f.DeviceFactory(unit=ns.field, serial="DSJ-DUP-1")
    with pytest.raises(WitnessError) as error:
        devices.register_device(kind="camera", serial="DSJ-DUP-1", unit=ns.field)
    response = login(ns.people["custodian"]).post(reverse("device_register"), {
        "kind": "camera", "serial": "DSJ-DUP-1", "unit": ns.field.pk,
        "records_video": "unknown", "records_audio": "unknown", "takes_photos": "unknown"})
    assert response.status_code == 409
    assert both_lines(error.value) in response.content.decode()
    assert Device.objects.filter(serial="DSJ-DUP-1").count() == 1


def test_dev5_record_a_repair_puts_the_device_under_repair(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    client = login(ns.people["custodian"])
    response = client.post(reverse("device_event", args=[device.pk]), {
        "kind": "repair", "description": "屏幕碎裂，送厂维修",
        "responsible": ns.people["officer"].pk, "amount_yuan": "350.50",
        "occurred_at": "2026-01-05T09:30"})
    assert response.status_code == 302
    assert response.url == reverse("device_detail", args=[device.pk])
    event = DeviceEvent.objects.get(device=device)
    assert (event.kind, event.amount_yuan) == ("repair", Decimal("350.50"))
    assert event.responsible == ns.people["officer"]
    assert event.recorded_by == ns.people["custodian"].user
    device.refresh_from_db()
    assert device.status == "under_repair"
    detail = client.get(response.url).content.decode()
    assert "屏幕碎裂，送厂维修" in detail and "350.50" in detail


def test_dev5_back_in_service_after_the_repair(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field, status="under_repair")
    response = login(ns.people["custodian"]).post(reverse("device_event", args=[device.pk]), {
        "kind": "maintenance", "description": "维修完毕", "back_in_service": "on"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.status == "in_service"


def test_dev5_compensation_without_amount_answers_422_in_both_languages(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    with pytest.raises(WitnessError) as error:
        devices.record_event(device, "compensation", "丢失赔偿")
    response = login(ns.people["custodian"]).post(reverse("device_event", args=[device.pk]), {
        "kind": "compensation", "description": "丢失赔偿"})
    assert response.status_code == 422
    assert both_lines(error.value) in response.content.decode()
    assert not DeviceEvent.objects.exists()


def test_dev5_event_input_errors_answer_400_in_chinese(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    response = login(ns.people["custodian"]).post(reverse("device_event", args=[device.pk]), {
        "kind": "repair", "description": "", "amount_yuan": "-5", "occurred_at": "上周"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "这个字段是必填项" in html
    assert "确保该值大于或等于0" in html
    assert "输入一个有效的日期/时间" in html
    assert not DeviceEvent.objects.exists()


def test_dev5_found_for_a_device_not_lost_answers_409(site, login):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    response = login(ns.people["custodian"]).post(reverse("device_event", args=[device.pk]), {
        "kind": "found", "description": "找回"})
    assert response.status_code == 409
    assert device.serial in response.content.decode()


def test_register_and_event_are_linked_for_custodians_only(site, login, client):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    custodian = login(ns.people["custodian"])
    assert reverse("device_register") in custodian.get(reverse("device_list")).content.decode()
    detail = custodian.get(reverse("device_detail", args=[device.pk])).content.decode()
    assert reverse("device_event", args=[device.pk]) in detail
    client.logout()
    head = login(ns.people["unit_head"])
    assert reverse("device_register") not in head.get(reverse("device_list")).content.decode()
    detail = head.get(reverse("device_detail", args=[device.pk])).content.decode()
    assert reverse("device_event", args=[device.pk]) not in detail
    assert head.post(reverse("device_event", args=[device.pk]), {
        "kind": "repair", "description": "x"}).status_code == 403
    assert not DeviceEvent.objects.exists()


def test_a_device_of_another_agency_is_not_found(site, login):
    ns, other = site(), site()
    device = f.DeviceFactory(unit=other.field)
    client = login(ns.people["custodian"])
    assert client.get(reverse("device_event", args=[device.pk])).status_code == 404
    form = client.get(reverse("device_register")).context["form"]
    assert other.field not in form.fields["unit"].queryset
    assert other.people["custodian"] not in form.fields["custodian"].queryset
