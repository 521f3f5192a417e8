"""DEV-3: the issue/return ledger (领用/归还台账) through `witness device`."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.core.commands import BilingualCommandError
from witness.devices.models import DeviceIssue, DeviceStatus, PreUseCheck
from witness.devices.tests.conftest import hour_ago, iso
from witness.testing import factories as f


@pytest.fixture
def org(make_agency):
    return make_agency("lushan-2019")


def _error(cli, *args):
    with pytest.raises(BilingualCommandError) as caught:
        cli(*args)
    return caught.value.error


def test_a_device_cannot_be_out_twice(org, cli, camera, check_args):
    """DEV-3: one holder at a time; the second issue names the current holder."""
    device = camera(org.field)
    first, second = org.people["officer"], org.people["unit_head"]
    cli("issue", device.serial, "--to", first.badge_number, *check_args(hour_ago()))
    error = _error(cli, "issue", device.serial, "--to", second.badge_number,
                   *check_args(timezone.now()))
    assert error.code == "already_issued"
    assert first.name in error.en and "returned first" in error.en
    assert list(DeviceIssue.objects.values_list("holder", flat=True)) == [first.pk]
    assert PreUseCheck.objects.count() == 1  # the refused issue's check was not kept


def test_the_database_forbids_two_open_issues(org, camera):
    """DEV-3: the partial unique index holds even when the service is bypassed."""
    device = camera(org.field)
    person = org.people["officer"]
    DeviceIssue.objects.create(device=device, holder=person, holder_unit=org.field)
    with pytest.raises(IntegrityError), transaction.atomic():
        DeviceIssue.objects.create(device=device, holder=person, holder_unit=org.field)
    # A returned line does not count: the device may go out again.
    DeviceIssue.objects.update(returned_at=timezone.now())
    DeviceIssue.objects.create(device=device, holder=person, holder_unit=org.field)
    assert DeviceIssue.objects.filter(returned_at__isnull=True).count() == 1


def test_issue_and_return_are_ledgered_and_audited(org, cli, camera, check_args):
    """DEV-3: who took which device when, and when it came back; each change audited."""
    device = camera(org.field)
    officer = org.people["officer"]
    at = hour_ago()
    data = cli("issue", device.serial, "--to", officer.name, "--purpose", "日常执法检查",
               *check_args(at))
    assert data["issued_at"] == timezone.localtime(at).isoformat()
    back = cli("return", device.serial, "--at", iso(at + timedelta(minutes=40)),
               "--notes", "完好")
    issue = DeviceIssue.objects.get(pk=data["id"])
    assert issue.returned_at == at + timedelta(minutes=40)
    assert (issue.purpose, issue.return_notes) == ("日常执法检查", "完好")
    assert back["id"] == issue.pk
    actions = list(AuditEntry.objects.filter(object_type="devices.device", object_id=device.pk)
                   .values_list("action", "outcome", "actor_type"))
    assert actions == [("device.issue", "success", "system"),
                       ("device.check", "success", "system"),
                       ("device.return", "success", "system")]
    assert _error(cli, "return", device.serial).code == "not_issued"


def test_return_before_issue_and_times_in_the_future_are_refused(org, cli, camera, check_args):
    device = camera(org.field)
    at = hour_ago()
    cli("issue", device.serial, "--to", org.people["officer"].badge_number, *check_args(at))
    error = _error(cli, "return", device.serial, "--at", iso(at - timedelta(minutes=1)))
    assert error.code == "return_before_issue"
    error = _error(cli, "return", device.serial, "--at", iso(timezone.now() + timedelta(days=1)))
    assert error.code == "time_in_future"
    assert DeviceIssue.objects.get().returned_at is None


def test_a_back_dated_issue_may_not_overlap_the_ledger(org, cli, camera, check_args):
    """DEV-3: entering a paper ledger line afterwards cannot put a device with two people."""
    device = camera(org.field)
    at = hour_ago() - timedelta(hours=5)
    cli("issue", device.serial, "--to", org.people["officer"].badge_number, *check_args(at))
    cli("return", device.serial, "--at", iso(at + timedelta(hours=3)))
    error = _error(cli, "issue", device.serial, "--to", org.people["unit_head"].badge_number,
                   *check_args(at + timedelta(hours=1)))
    assert error.code == "ledger_overlap"
    cli("issue", device.serial, "--to", org.people["unit_head"].badge_number,
        *check_args(at + timedelta(hours=3)))
    assert DeviceIssue.objects.count() == 2


def test_issue_needs_the_pre_use_check_or_a_reason(org, cli, camera):
    """DEV-4 (A7, B12): the check is part of the issue; skipping it needs a reason, which
    the audit entry keeps."""
    device = camera(org.field)
    badge = org.people["officer"].badge_number
    assert _error(cli, "issue", device.serial, "--to", badge).code == "check_required"
    assert _error(cli, "issue", device.serial, "--to", badge, "--battery", "80",
                  "--free-mb", "100").code == "check_required"
    assert _error(cli, "issue", device.serial, "--to", badge, "--no-check", "  ").code == \
        "check_required"
    assert _error(cli, "issue", device.serial, "--to", badge, "--no-check", "x",
                  "--battery", "80").code == "check_required"
    assert not DeviceIssue.objects.exists()
    reason = "设备由保管人当面交接，电量已满"
    data = cli("issue", device.serial, "--to", badge, "--no-check", reason)
    assert data["checks"] == []
    entry = AuditEntry.objects.get(action="device.issue", object_id=device.pk)
    assert (entry.details["checked"], entry.details["no_check_reason"]) == (False, reason)


def test_an_invalid_check_value_leaves_no_issue_behind(org, cli, camera, check_args):
    """The issue and its check commit together or not at all."""
    device = camera(org.field)
    error = _error(cli, "issue", device.serial, "--to", org.people["officer"].badge_number,
                   *check_args(hour_ago(), battery=130))
    assert error.code == "bad_battery"
    assert not DeviceIssue.objects.exists()
    assert not AuditEntry.objects.filter(action="device.issue").exists()


def test_inactive_or_unknown_holders_are_refused(org, cli, camera, check_args):
    device = camera(org.field)
    gone = f.PersonFactory(unit=org.field, active=False)
    error = _error(cli, "issue", device.serial, "--to", gone.badge_number, *check_args(hour_ago()))
    assert error.code == "inactive_holder"
    error = _error(cli, "issue", device.serial, "--to", "无此人", *check_args(hour_ago()))
    assert error.code == "unknown_person" and "无此人" in error.en
    assert _error(cli, "issue", "NO-SUCH", "--to", gone.name).code == "not_found"


def test_a_device_of_another_agency_is_not_found(org, make_agency, cli, camera, check_args):
    """The CLI serves the installation's (first) agency only."""
    foreign = camera(make_agency("lushan-2019").field)
    error = _error(cli, "issue", foreign.serial, "--to", org.people["officer"].badge_number,
                   *check_args(hour_ago()))
    assert error.code == "not_found"
    assert _error(cli, "show", foreign.serial).code == "not_found"


def test_add_list_and_show(org, cli, cli_text, check_args):
    """DEV-1: register with kind, serial, model, unit, custodian; list and show it."""
    custodian = org.people["custodian"]
    data = cli("add", "--kind", "body_camera", "--serial", "ZFJLY-2026-001", "--unit",
               org.field.code, "--model", "DSJ-V9", "--manufacturer", "某某科技",
               "--custodian", custodian.badge_number)
    assert (data["unit"], data["status"], data["custodian"]["name"]) == (
        org.field.code, "in_service", custodian.name)
    assert data["records_video"] and data["records_audio"] and data["takes_photos"]
    pen = cli("add", "--kind", "recorder", "--serial", "LYB-1", "--unit", org.office.name,
              "--no-audio", "--video")
    assert (pen["records_audio"], pen["records_video"], pen["takes_photos"]) == (
        False, True, False)
    assert AuditEntry.objects.filter(action="device.register").count() == 2
    assert _error(cli, "add", "--kind", "drone", "--serial", "X", "--unit",
                  org.field.code).code == "bad_kind"
    assert _error(cli, "add", "--kind", "camera", "--serial", "X", "--unit",
                  "nowhere").code == "unknown_unit"

    officer = org.people["officer"]
    cli("issue", "ZFJLY-2026-001", "--to", officer.badge_number, "--long-term",
        *check_args(hour_ago(), drift=-12))
    listed = cli("list")
    assert [d["serial"] for d in listed] == ["ZFJLY-2026-001", "LYB-1"]  # by unit code, serial
    assert listed[0]["holder"]["badge_number"] == officer.badge_number
    assert listed[1]["holder"] is None
    assert [d["serial"] for d in cli("list", "--out")] == ["ZFJLY-2026-001"]
    assert [d["serial"] for d in cli("list", "--unit", org.office.code)] == ["LYB-1"]
    assert cli("list", "--status", "lost") == []
    assert _error(cli, "list", "--status", "broken").code == "bad_choice"

    shown = cli("show", "ZFJLY-2026-001")
    assert shown["device"]["holder"]["name"] == officer.name
    [line] = shown["ledger"]
    assert line["long_term"] is True
    assert [(c["kind"], c["drift_seconds"]) for c in line["checks"]] == [("at_issue", -12)]

    # The human output names the device and the holder (rich tables, no crash).
    assert "ZFJLY-2026-001" in cli_text("list")
    text = cli_text("show", "ZFJLY-2026-001")
    assert officer.name in text and "-12" in text
    assert officer.name in cli_text("return", "ZFJLY-2026-001")
    assert DeviceIssue.objects.get().returned_at is not None
    assert cli("show", "LYB-1")["device"]["status"] == DeviceStatus.IN_SERVICE
