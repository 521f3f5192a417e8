"""The device and integrity rules (issue 6 item 1): DEV-2 equipment ratio, DEV-3 refused
issues and holders who moved, DEV-4 pre-use check and clock drift, DEV-5 loss and damage,
ING-4 fixity failures. Each positive and negative, under both builtin profiles where the
profile decides; the data is made through the services that make it in production."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from witness.compliance import engine
from witness.compliance.rules import get
from witness.core.errors import Refused
from witness.devices import services as devices
from witness.devices.models import DeviceKind, DeviceStatus, RefusedIssue
from witness.findings.models import Finding, FindingStatus, Severity
from witness.org.services import move_person
from witness.storage import fixity
from witness.storage.backends.local import LocalBackend
from witness.storage.models import FixityCheck
from witness.storage.pipeline import store_file
from witness.storage.tests.test_fixity import flip, remove
from witness.testing import factories as f

pytestmark = pytest.mark.django_db
PROFILES = ["lushan-2019", "full-process-b"]


def check(ns, rule_id: str, **kwargs):
    """Run one registered rule for the agency; its findings."""
    run = engine.run(ns.agency, rules=[get(rule_id)], **kwargs)
    return run, Finding.objects.filter(rule_id=rule_id)


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def check_values(person, at):
    return {"checked_by": person, "battery_percent": 90, "free_storage_mb": 2000,
            "device_time": at}


# -- DEV-2 equipment ratio (A3, B5) ---------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_DEV2_field_unit_below_the_minimum_raises_one_finding_per_unit(make_agency, profile):
    ns = make_agency(profile)
    f.DeviceFactory.create_batch(2, unit=ns.field)  # body cameras: image and sound
    # field2: one that counts; a photo camera, a fixed surveillance camera with sound, and a
    # lost body camera do not
    f.DeviceFactory(unit=ns.field2)
    f.DeviceFactory(unit=ns.field2, kind=DeviceKind.CAMERA, records_video=False,
                    records_audio=False)
    f.DeviceFactory(unit=ns.field2, kind=DeviceKind.SURVEILLANCE)
    f.DeviceFactory(unit=ns.field2, status=DeviceStatus.LOST)
    _run, findings = check(ns, "DEV-2.too_few_devices")
    finding = findings.get()
    assert (finding.object_id, finding.unit_id) == (ns.field2.pk, ns.field2.pk)
    assert finding.details["devices"] == 1 and finding.details["minimum"] == 2
    assert finding.details["requirement"] == "DEV-2"


@pytest.mark.parametrize("profile", PROFILES)
def test_DEV2_office_without_field_duty_and_a_unit_with_a_device_under_repair_pass(
        make_agency, profile):
    ns = make_agency(profile)
    f.DeviceFactory.create_batch(2, unit=ns.field)
    f.DeviceFactory(unit=ns.field2)
    f.DeviceFactory(unit=ns.field2, status=DeviceStatus.UNDER_REPAIR)  # still equipped
    _run, findings = check(ns, "DEV-2.too_few_devices")
    assert not findings.exists()  # the office (no field duty, no devices) is not found


def test_DEV2_the_finding_resolves_once_the_unit_has_enough_devices(make_agency):
    ns = make_agency("full-process-b")
    f.DeviceFactory.create_batch(2, unit=ns.field)
    f.DeviceFactory(unit=ns.field2)
    _run, findings = check(ns, "DEV-2.too_few_devices")
    assert findings.get().status == FindingStatus.OPEN
    f.DeviceFactory(unit=ns.field2)
    run, findings = check(ns, "DEV-2.too_few_devices")
    assert findings.get().status == FindingStatus.RESOLVED
    assert run.per_rule["DEV-2.too_few_devices"]["resolved"] == 1


# -- DEV-3 refused issues (A4, B9, B10, A18(3), B26(2)) ---------------------------------------

def _refuse(device, person, actor):
    with pytest.raises(Refused):
        devices.issue_device(device, person, at=ago(hours=1), no_check_reason="test",
                             actor=actor)
    return RefusedIssue.objects.get(device=device, person=person)


@pytest.mark.parametrize("profile", PROFILES)
def test_DEV3_an_issue_to_someone_of_another_agency_is_one_serious_finding(site, profile):
    ns = site(profile)
    device = f.DeviceFactory(unit=ns.field)
    stranger = f.PersonFactory(unit=f.UnitFactory())
    custodian = ns.people["custodian"]
    refused = _refuse(device, stranger, custodian.user)
    _run, findings = check(ns, "DEV-3.refused_issue")
    finding = findings.get()
    assert finding.subject == refused and finding.severity == Severity.SERIOUS
    assert finding.responsible == custodian  # who tried to issue it
    assert finding.unit == ns.field
    assert finding.details["intended_holder"] == stranger.name
    _run, findings = check(ns, "DEV-3.refused_issue")  # decided again: still one
    assert findings.count() == 1


def test_DEV3_profile_b_refuses_another_unit_and_profile_a_does_not(make_agency):
    a, b = make_agency("lushan-2019"), make_agency("full-process-b")
    for ns in (a, b):
        device = f.DeviceFactory(unit=ns.field)
        person = f.PersonFactory(unit=ns.field2)
        if ns is b:
            _refuse(device, person, "test")
        else:
            devices.issue_device(device, person, at=ago(hours=1), no_check_reason="test",
                                 actor="test")
    _run, findings = check(a, "DEV-3.refused_issue")
    assert not findings.exists()
    _run, findings = check(b, "DEV-3.refused_issue")
    assert findings.get().subject.issue_scope == "unit"


# -- DEV-3 holder moved while holding -------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_DEV3_a_holder_who_moved_unit_while_holding_is_a_finding(make_agency, profile):
    ns = make_agency(profile)
    officer = ns.people["officer"]
    device = f.DeviceFactory(unit=ns.field)
    issue = devices.issue_device(device, officer, at=ago(days=10), no_check_reason="t",
                                 actor="test")
    move_person(officer, ns.field2, ago(days=5), actor="test")
    _run, findings = check(ns, "DEV-3.unit_changed_while_holding")
    finding = findings.get()
    assert finding.subject == issue and finding.responsible == officer
    assert finding.details["moved_to"] == ns.field2.name
    assert finding.details["returned"] is False


@pytest.mark.parametrize("profile", PROFILES)
def test_DEV3_a_move_before_the_issue_or_after_the_return_is_no_finding(make_agency, profile):
    ns = make_agency(profile)
    officer, head = ns.people["officer"], ns.people["unit_head"]
    move_person(officer, ns.field2, ago(days=20), actor="test")  # before the issue
    first = f.DeviceFactory(unit=ns.field2)  # the unit they moved to (B: its own devices)
    devices.issue_device(first, officer, at=ago(days=10), no_check_reason="t", actor="test")
    second = f.DeviceFactory(unit=ns.field)
    devices.issue_device(second, head, at=ago(days=10), no_check_reason="t", actor="test")
    devices.return_device(second, at=ago(days=8), actor="test")
    move_person(head, ns.field2, ago(days=5), actor="test")  # after the return
    _run, findings = check(ns, "DEV-3.unit_changed_while_holding")
    assert not findings.exists()


# -- DEV-4 pre-use check (A7, B12) ----------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_DEV4_a_use_without_a_pre_use_check_is_a_finding(make_agency, profile):
    ns = make_agency(profile)
    officer = ns.people["officer"]
    device = f.DeviceFactory(unit=ns.field)
    issue = devices.issue_device(device, officer, at=ago(hours=5), no_check_reason="rush",
                                 actor="test")
    recording = f.RecordingFactory(device=device, issue=issue, holder=officer,
                                   started_at=ago(hours=4))
    # a check made after the first recording does not count for it
    devices.record_check(device, officer, battery_percent=80, free_storage_mb=100,
                         device_time=ago(hours=3), at=ago(hours=3), actor="test")
    _run, findings = check(ns, "DEV-4.no_check")
    finding = findings.get()
    assert finding.subject == issue and finding.responsible == officer
    assert finding.occurred_at == recording.started_at


@pytest.mark.parametrize("profile", PROFILES)
def test_DEV4_a_check_at_issue_or_no_recording_at_all_is_no_finding(make_agency, profile):
    ns = make_agency(profile)
    officer = ns.people["officer"]
    checked = f.DeviceFactory(unit=ns.field)
    at = ago(hours=5)
    issue = devices.issue_device(checked, officer, at=at, check=check_values(officer, at),
                                 actor="test")
    f.RecordingFactory(device=checked, issue=issue, holder=officer, started_at=ago(hours=4))
    unused = f.DeviceFactory(unit=ns.field)
    devices.issue_device(unused, officer, at=at, no_check_reason="t", actor="test")
    _run, findings = check(ns, "DEV-4.no_check")
    assert not findings.exists()


def test_DEV4_an_incremental_check_of_the_activity_raises_the_missing_check(make_agency):
    ns = make_agency()
    officer = ns.people["officer"]
    device = f.DeviceFactory(unit=ns.field)
    issue = devices.issue_device(device, officer, at=ago(hours=5), no_check_reason="t",
                                 actor="test")
    activity = f.ActivityFactory(unit=ns.field, arrived_at=ago(hours=4))
    f.RecordingFactory(device=device, issue=issue, holder=officer, activity=activity,
                       started_at=ago(hours=4), attribution="attributed")
    other = f.ActivityFactory(unit=ns.field)
    _run, findings = check(ns, "DEV-4.no_check", activity_ids=[other.pk])
    assert not findings.exists()  # not touched by that activity
    _run, findings = check(ns, "DEV-4.no_check", activity_ids=[activity.pk])
    assert findings.get().subject == issue


# -- DEV-4 clock drift ----------------------------------------------------------------------

def _run_with(ns, device, drift, recording_drift=None, holder=None):
    run = f.IngestRunFactory(agency=ns.agency, device=device, clock_drift_seconds=drift,
                             started_at=ago(hours=1))
    f.RecordingFactory(device=device, ingest_run=run, holder=holder,
                       clock_drift_seconds=recording_drift if recording_drift is not None
                       else drift)
    return run


@pytest.mark.parametrize("profile", PROFILES)
def test_DEV4_clock_drift_above_the_tolerance_is_one_finding_per_ingest(make_agency,
                                                                        profile):
    ns = make_agency(profile)  # both: 60 s (A7, B12)
    officer = ns.people["officer"]
    device = f.DeviceFactory(unit=ns.field)
    ahead = _run_with(ns, device, 90, holder=officer)
    behind = _run_with(ns, device, -61)
    # no clock file: the drift of the pre-use check, per recording
    from_check = _run_with(ns, device, None, recording_drift=300)
    _run_with(ns, device, 60)
    _run_with(ns, device, -60)
    _run_with(ns, device, None, recording_drift=None)
    _run, findings = check(ns, "DEV-4.clock_drift")
    found = {fi.object_id: fi for fi in findings}
    assert set(found) == {ahead.pk, behind.pk, from_check.pk}
    assert found[ahead.pk].responsible == officer
    assert found[ahead.pk].details["max_drift_seconds"] == 90
    assert found[behind.pk].details["max_drift_seconds"] == -61
    assert found[from_check.pk].details["recordings_over"] == 1
    assert found[from_check.pk].details["tolerance_seconds"] == 60


# -- DEV-5 loss and damage (B9, B11, A18(5), B26(7)) ----------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_DEV5_a_loss_or_damage_is_a_finding_for_the_person_responsible(make_agency, profile):
    ns = make_agency(profile)
    officer = ns.people["officer"]
    lost, broken, serviced = (f.DeviceFactory(unit=ns.field) for _ in range(3))
    loss = devices.record_event(lost, "loss", "丢失于现场", responsible=officer, actor="t")
    damage = devices.record_event(broken, "damage", "摔坏", actor="t")
    devices.record_event(serviced, "maintenance", "保养", actor="t")
    devices.record_event(lost, "found", "找回", actor="t")  # found again: the loss stays
    _run, findings = check(ns, "DEV-5.lost_or_damaged")
    found = {fi.object_id: fi for fi in findings}
    assert set(found) == {loss.pk, damage.pk}
    assert found[loss.pk].responsible == officer and found[loss.pk].unit == officer.unit
    assert found[loss.pk].severity == Severity.SERIOUS
    assert found[damage.pk].responsible is None and found[damage.pk].unit == ns.field


@pytest.mark.parametrize("profile", PROFILES)
def test_DEV5_maintenance_repair_and_upgrade_are_no_finding(make_agency, profile):
    ns = make_agency(profile)
    device = f.DeviceFactory(unit=ns.field)
    for kind in ("maintenance", "repair", "upgrade"):
        devices.record_event(device, kind, kind, actor="t", back_in_service=True)
    _run, findings = check(ns, "DEV-5.lost_or_damaged")
    assert not findings.exists()


# -- ING-4 fixity failures -------------------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    backend = LocalBackend(tmp_path / "primary")
    counter = iter(range(1000))

    def original():
        path = tmp_path / f"source-{next(counter)}.mp4"
        path.write_bytes(os.urandom(3000))
        return store_file(path, backend).blob

    return backend, original


def _restore(backend, blob, data: bytes) -> None:
    path = backend.path(blob.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.chmod(0o644)
    path.write_bytes(data)


@pytest.mark.parametrize("profile", PROFILES)
def test_ING4_a_fixity_failure_is_one_finding_and_resolves_when_a_later_check_is_ok(
        make_agency, profile, store):
    ns = make_agency(profile)
    backend, original = store
    bad, good = original(), original()
    data = b"".join(backend.read(bad.key))
    flip(backend, bad.key)
    fixity.run_checks([bad.pk, good.pk], primary=backend, replica=False)
    raised = Finding.objects.get(rule_id="ING-4.fixity")  # by fixity, at once
    run, findings = check(ns, "ING-4.fixity")
    assert run.per_rule["ING-4.fixity"] == {**run.per_rule["ING-4.fixity"], "found": 1,
                                            "raised": 0, "resolved": 0}
    assert list(findings) == [raised]  # the same subject and key: not raised twice
    assert raised.subject == bad
    # checked again, still damaged the same way: still the one finding
    fixity.run_checks([bad.pk], primary=backend, replica=False)
    assert findings.count() == 1
    _restore(backend, bad, data)
    fixity.run_checks([bad.pk], primary=backend, replica=False)
    run, findings = check(ns, "ING-4.fixity")
    assert findings.get().status == FindingStatus.RESOLVED
    assert run.per_rule["ING-4.fixity"]["resolved"] == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_ING4_a_missing_original_is_found_and_an_ok_check_is_not(make_agency, profile, store):
    ns = make_agency(profile)
    backend, original = store
    gone, fine = original(), original()
    remove(backend, gone.key)
    fixity.run_checks([gone.pk, fine.pk], primary=backend, replica=False)
    assert FixityCheck.objects.filter(blob=fine, result="ok").exists()
    Finding.objects.all().delete()  # decided by the rule alone this time
    _run, findings = check(ns, "ING-4.fixity")
    finding = findings.get()
    assert finding.subject == gone and finding.key == "primary:missing"
    assert finding.severity == Severity.SERIOUS


def test_ING4_a_repaired_copy_keeps_its_one_finding_until_checked_ok(make_agency, store,
                                                                    tmp_path):
    ns = make_agency()
    backend, original = store
    second = LocalBackend(tmp_path / "replica")
    blob = original()
    from witness.storage import replica

    assert replica.replicate(blob, primary=backend, replica=second) == "copied"
    flip(backend, blob.key)
    fixity.run_checks([blob.pk], primary=backend, replica=second, fix=True)
    assert FixityCheck.objects.filter(blob=blob, result="repaired").exists()
    _run, findings = check(ns, "ING-4.fixity")
    assert findings.count() == 1 and findings.get().status == FindingStatus.OPEN
    fixity.run_checks([blob.pk], primary=backend, replica=second)
    _run, findings = check(ns, "ING-4.fixity")
    assert findings.get().status == FindingStatus.RESOLVED
