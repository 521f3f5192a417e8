"""DEV-4 (A7, B12): the pre-use check — battery, free storage, and the device clock, whose
drift is stored as device time − server time in seconds."""

from datetime import timedelta

import pytest
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.core.commands import BilingualCommandError
from witness.core.errors import WitnessError
from witness.devices import services
from witness.devices.models import CheckKind, DeviceStatus, PreUseCheck
from witness.devices.tests.conftest import hour_ago, iso
from witness.testing import factories as f


@pytest.fixture
def org(make_agency):
    return make_agency("full-process-b")


@pytest.mark.parametrize("drift", [95, -40, 0])
def test_check_at_issue_stores_the_drift_with_its_sign(org, cli, camera, check_args, drift):
    """A device clock ahead of the server gives a positive drift, one behind a negative."""
    device = camera(org.field)
    officer = org.people["officer"]
    at = hour_ago()
    data = cli("issue", device.serial, "--to", officer.badge_number, *check_args(at, drift=drift,
                                                                                   battery=64))
    check = PreUseCheck.objects.get(device=device)
    assert check.drift_seconds == drift == data["checks"][0]["drift_seconds"]
    assert check.device_time - check.checked_at == timedelta(seconds=drift)
    assert check.checked_at == at  # the check is made at the handover
    assert (check.kind, check.issue_id, check.checked_by) == (
        CheckKind.AT_ISSUE, data["id"], officer)  # A7: the operator checks; default: holder
    assert (check.battery_percent, check.free_storage_mb, check.working) == (64, 30000, True)
    entry = AuditEntry.objects.get(action="device.check", object_id=device.pk)
    assert entry.details["drift_seconds"] == drift and entry.details["kind"] == "at_issue"


def test_checked_by_someone_else_at_issue(org, cli, camera, check_args):
    device = camera(org.field)
    custodian = org.people["custodian"]
    cli("issue", device.serial, "--to", org.people["officer"].badge_number,
        "--checked-by", custodian.name, *check_args(hour_ago()))
    assert PreUseCheck.objects.get().checked_by == custodian


def test_a_long_term_holders_later_checks_are_before_use(org, cli, camera, check_args):
    """B12: before each later use of a device held long-term, a further check is recorded
    against the same ledger line, as "before use"."""
    device = camera(org.field)
    officer = org.people["officer"]
    issued_at = hour_ago() - timedelta(days=3)
    issue = cli("issue", device.serial, "--to", officer.badge_number, "--long-term",
                *check_args(issued_at))
    later = issued_at + timedelta(days=2)
    data = cli("check", device.serial, "--by", officer.name, "--battery", 35, "--free-mb", 512,
               "--at", iso(later), "--device-time", iso(later - timedelta(minutes=3)))
    assert (data["kind"], data["drift_seconds"]) == ("before_use", -180)
    kinds = list(PreUseCheck.objects.filter(issue_id=issue["id"]).order_by("checked_at")
                 .values_list("kind", flat=True))
    assert kinds == [CheckKind.AT_ISSUE, CheckKind.BEFORE_USE]
    # Without --at the server time is now: a device clock that shows now drifts ~0.
    data = cli("check", device.serial, "--by", officer.badge_number, "--battery", 100,
               "--free-mb", 1, "--device-time", iso(timezone.now()), "--not-working",
               "--notes", "镜头进水")
    assert abs(data["drift_seconds"]) <= 5 and data["working"] is False
    assert AuditEntry.objects.filter(action="device.check", object_id=device.pk).count() == 3


def test_the_service_calls_the_first_check_of_an_issue_at_issue(org, camera):
    """Callers that record the issue and its check separately (the web page) get the
    same kinds as the CLI: the first check of an open ledger line is "at issue"."""
    device = camera(org.field)
    officer = org.people["officer"]
    at = hour_ago()
    services.issue_device(device, officer, at=at, actor="system:test")
    first = services.record_check(device, officer, battery_percent=80, free_storage_mb=10,
                                  device_time=at, at=at, actor="system:test")
    second = services.record_check(device, officer, battery_percent=80, free_storage_mb=10,
                                   device_time=at, at=at + timedelta(minutes=5),
                                   actor="system:test")
    assert (first.kind, second.kind) == (CheckKind.AT_ISSUE, CheckKind.BEFORE_USE)
    assert second.drift_seconds == -300


@pytest.mark.parametrize(("args", "code"), [
    (["--battery", "101"], "bad_battery"),
    (["--battery", "-1"], "bad_battery"),
    (["--free-mb", "-5"], "bad_storage"),
    (["--device-time", "2026-13-01T08:00"], "bad_datetime"),
    (["--device-time", "yesterday"], "bad_datetime"),
    (["--at", iso(timezone.now() + timedelta(hours=2))], "time_in_future"),
])
def test_bad_check_values_are_refused_and_nothing_is_stored(org, cli, camera, args, code):
    device = camera(org.field)
    values = {"--battery": "50", "--free-mb": "100", "--device-time": iso(timezone.now())}
    values.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(BilingualCommandError) as caught:
        cli("check", device.serial, "--by", org.people["officer"].badge_number,
            *[x for pair in values.items() for x in pair])
    assert caught.value.error.code == code
    assert not PreUseCheck.objects.exists()
    assert not AuditEntry.objects.filter(action="device.check").exists()


def test_a_check_by_someone_of_another_agency_or_of_a_lost_device_is_refused(org, make_agency,
                                                                              cli, camera):
    device = camera(org.field)
    stranger = f.PersonFactory(unit=make_agency("full-process-b").field)
    now = iso(timezone.now())
    with pytest.raises(BilingualCommandError) as caught:
        cli("check", device.serial, "--by", stranger.badge_number, "--battery", 50,
            "--free-mb", 1, "--device-time", now)
    assert caught.value.error.code == "unknown_person"
    with pytest.raises(WitnessError) as refused:  # the service checks it too
        services.record_check(device, stranger, battery_percent=50, free_storage_mb=1,
                              device_time=timezone.now(), actor="system:test")
    assert refused.value.code == "person_agency"
    device.status = DeviceStatus.LOST
    device.save()
    with pytest.raises(BilingualCommandError) as caught:
        cli("check", device.serial, "--by", org.people["officer"].badge_number,
            "--battery", 50, "--free-mb", 1, "--device-time", now)
    assert caught.value.error.code == "not_checkable"
    assert not PreUseCheck.objects.exists()
