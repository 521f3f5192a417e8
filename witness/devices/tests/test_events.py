"""DEV-5 (B9, B11, A18(5), B26(7)): maintenance, repair, damage, loss, compensation and
finding again, each tied to the responsible person; and the audit trail of every change."""

import getpass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.core.commands import BilingualCommandError
from witness.devices.models import DeviceEvent, DeviceIssue, DeviceStatus
from witness.devices.tests.conftest import hour_ago, iso


@pytest.fixture
def org(make_agency):
    return make_agency("lushan-2019")


def _error(cli, *args):
    with pytest.raises(BilingualCommandError) as caught:
        cli(*args)
    return caught.value.error


def test_a_lost_device_out_with_its_holder_cannot_be_issued_until_found_and_returned(
        org, cli, camera, check_args):
    """DEV-5 + DEV-3: loss sets the status to lost; a lost device is not issued; a
    compensation needs the amount and the person responsible; found puts it back."""
    device = camera(org.field)
    officer, other = org.people["officer"], org.people["unit_head"]
    at = hour_ago() - timedelta(hours=2)
    cli("issue", device.serial, "--to", officer.badge_number, *check_args(at))
    lost = cli("event", device.serial, "--kind", "loss", "--description", "执法途中遗失",
               "--responsible", officer.badge_number, "--at", iso(at + timedelta(hours=1)))
    assert lost["device_status"] == "lost"
    device.refresh_from_db()
    assert device.status == DeviceStatus.LOST

    error = _error(cli, "issue", device.serial, "--to", other.badge_number,
                   *check_args(timezone.now()))
    assert error.code == "not_in_service"
    assert DeviceIssue.objects.count() == 1

    assert _error(cli, "event", device.serial, "--kind", "compensation", "--description",
                  "照价赔偿", "--amount", "2300").code == "compensation_incomplete"
    assert _error(cli, "event", device.serial, "--kind", "compensation", "--description",
                  "照价赔偿", "--responsible", officer.name).code == "compensation_incomplete"
    assert _error(cli, "event", device.serial, "--kind", "compensation", "--description",
                  "照价赔偿", "--responsible", officer.name, "--amount", "0").code == "bad_amount"
    assert _error(cli, "event", device.serial, "--kind", "compensation", "--description",
                  "照价赔偿", "--responsible", officer.name, "--amount", "-3").code == "bad_amount"
    paid = cli("event", device.serial, "--kind", "compensation", "--description", "照价赔偿",
               "--responsible", officer.name, "--amount", "2300.50")
    assert paid["amount_yuan"] == "2300.50" and paid["device_status"] == "lost"
    event = DeviceEvent.objects.get(kind="compensation")
    assert (event.amount_yuan, event.responsible) == (Decimal("2300.50"), officer)

    assert _error(cli, "event", device.serial, "--kind", "maintenance", "--description", "x",
                  "--back-in-service").code == "bad_back_in_service"
    found = cli("event", device.serial, "--kind", "found", "--description", "群众拾获送回")
    assert found["device_status"] == "in_service"
    # Found, but still on the holder's ledger line: it comes back before it goes out again.
    assert _error(cli, "issue", device.serial, "--to", other.badge_number,
                  *check_args(timezone.now())).code == "already_issued"
    cli("return", device.serial, "--at", iso(at + timedelta(minutes=100)))
    cli("issue", device.serial, "--to", other.badge_number, *check_args(timezone.now()))
    assert DeviceIssue.objects.filter(returned_at__isnull=True).get().holder == other


def test_repair_and_retirement_change_the_status(org, cli, camera):
    device = camera(org.field)
    assert cli("event", device.serial, "--kind", "damage", "--description", "外壳破裂")[
        "device_status"] == "under_repair"
    assert cli("event", device.serial, "--kind", "repair", "--description", "送厂维修")[
        "device_status"] == "under_repair"
    assert cli("event", device.serial, "--kind", "maintenance", "--description", "修复",
               "--amount", "150", "--back-in-service")["device_status"] == "in_service"
    assert cli("event", device.serial, "--kind", "upgrade", "--description", "固件升级")[
        "device_status"] == "in_service"
    assert _error(cli, "event", device.serial, "--kind", "found",
                  "--description", "x").code == "not_lost"
    assert _error(cli, "event", device.serial, "--kind", "retirement", "--description", "报废",
                  "--back-in-service").code == "bad_back_in_service"
    assert _error(cli, "event", device.serial, "--kind", "theft",
                  "--description", "x").code == "bad_kind"
    assert _error(cli, "event", device.serial, "--kind", "repair",
                  "--description", "  ").code == "description_required"
    assert _error(cli, "event", device.serial, "--kind", "repair", "--description", "x",
                  "--amount", "12,5").code == "bad_amount"
    assert cli("event", device.serial, "--kind", "retirement", "--description", "报废")[
        "device_status"] == "retired"
    assert DeviceEvent.objects.filter(device=device).count() == 5


def test_every_state_change_is_audited_with_the_cli_actor(org, cli, check_args):
    """Each change writes its audit entry in the same transaction, naming "cli:<user>"."""
    officer = org.people["officer"]
    cli("add", "--kind", "body_camera", "--serial", "AUD-1", "--unit", org.field.code)
    at = hour_ago()
    cli("issue", "AUD-1", "--to", officer.badge_number, *check_args(at))
    cli("check", "AUD-1", "--by", officer.badge_number, "--battery", 70, "--free-mb", 900,
        "--device-time", iso(timezone.now()))
    cli("event", "AUD-1", "--kind", "loss", "--description", "遗失", "--responsible", officer.name)
    cli("event", "AUD-1", "--kind", "found", "--description", "找回")
    cli("return", "AUD-1")
    device_id = AuditEntry.objects.get(action="device.register").object_id
    entries = AuditEntry.objects.filter(object_type="devices.device", object_id=device_id)
    assert [(e.action, e.details.get("kind")) for e in entries] == [
        ("device.register", "body_camera"), ("device.issue", None),
        ("device.check", "at_issue"), ("device.check", "before_use"),
        ("device.event", "loss"), ("device.event", "found"), ("device.return", None)]
    assert {e.actor_label for e in entries} == {f"cli:{getpass.getuser()}"}
    assert {e.outcome for e in entries} == {"success"}
    [loss] = [e for e in entries if e.details.get("kind") == "loss"]
    assert (loss.details["status_before"], loss.details["status_after"]) == ("in_service", "lost")
