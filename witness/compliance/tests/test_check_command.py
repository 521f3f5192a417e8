"""``witness check`` and the scheduled checks (issue 6): the command runs the rules for every
agency with a profile (or what some activities touch), prints per rule what it found and
did and the open findings, exits 0 unless the check failed to run; the nightly task checks
every agency; an ingest and an assignment queue the check of their activities."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from witness.compliance import rules as registry
from witness.compliance import tasks
from witness.compliance.models import CheckKind, CheckRun, CheckStatus
from witness.compliance.rules import Rule
from witness.core.commands import BilingualCommandError
from witness.devices import services as devices
from witness.findings.models import Finding, FindingStatus
from witness.ingest.services import ingest_volume
from witness.ingest.tests.conftest import scene  # noqa: F401 - the docked camera fixture
from witness.recordings import services as recordings
from witness.recordings.models import Attribution
from witness.testing import factories as f

pytestmark = pytest.mark.django_db
CHECK_ACTIVITIES = "witness.compliance.tasks.check_activities"


def run_check(*args) -> dict:
    out = io.StringIO()
    call_command("check", "--json", *[str(a) for a in args], stdout=out)
    return json.loads(out.getvalue())


def short_unit(ns):
    """field2 has one device recording image and sound: DEV-2 finds it."""
    f.DeviceFactory.create_batch(2, unit=ns.field)
    f.DeviceFactory(unit=ns.field2)


def test_DEV2_check_runs_every_agency_and_lists_rules_counts_and_open_findings(make_agency):
    a, b = make_agency("lushan-2019"), make_agency("full-process-b")
    for ns in (a, b):
        short_unit(ns)
    data = run_check()
    assert data["ok"] is True
    assert [x["agency"] for x in data["agencies"]] == [a.agency.code, b.agency.code]
    first = data["agencies"][0]
    rule_ids = [r["id"] for r in first["rules"]]
    assert rule_ids == [r.id for r in registry.all_rules()]
    dev2 = next(r for r in first["rules"] if r["id"] == "DEV-2.too_few_devices")
    assert (dev2["requirement"], dev2["found"], dev2["raised"]) == ("DEV-2", 1, 1)
    assert {"resolved", "reopened", "seconds", "title"} <= set(dev2)
    shown = [x for x in first["open_findings"] if x["rule"] == "DEV-2.too_few_devices"]
    assert [(x["object"], x["object_id"], x["unit"]) for x in shown] == [
        ("org.unit", a.field2.pk, a.field2.name)]
    assert CheckRun.objects.filter(status=CheckStatus.DONE, kind=CheckKind.FULL).count() == 2
    # a second run raises nothing new
    again = run_check("--rule", "DEV-2.too_few_devices")
    assert [r["raised"] for x in again["agencies"] for r in x["rules"]] == [0, 0]
    assert Finding.objects.filter(rule_id="DEV-2.too_few_devices").count() == 2


def test_DEV4_check_activity_decides_only_what_that_activity_touches(make_agency):
    ns = make_agency()
    officer = ns.people["officer"]
    device = f.DeviceFactory(unit=ns.field)
    issue = devices.issue_device(device, officer, at=timezone.now() - timedelta(hours=5),
                                 no_check_reason="t", actor="test")
    activity = f.ActivityFactory(unit=ns.field)
    f.RecordingFactory(device=device, issue=issue, holder=officer, activity=activity,
                       attribution=Attribution.ATTRIBUTED)
    data = run_check("--activity", activity.pk)
    (only,) = data["agencies"]
    assert only["kind"] == CheckKind.ACTIVITIES and only["activities"] == [activity.pk]
    ran = {r["id"] for r in only["rules"]}
    assert "DEV-4.no_check" in ran and "DEV-2.too_few_devices" not in ran  # full only
    assert [x["rule"] for x in only["open_findings"]].count("DEV-4.no_check") == 1
    assert not Finding.objects.filter(rule_id="DEV-2.too_few_devices").exists()


def test_check_human_output_names_rules_and_findings(make_agency):
    ns = make_agency()
    short_unit(ns)
    out = io.StringIO()
    call_command("check", "--rule", "DEV-2.too_few_devices", stdout=out)
    text = out.getvalue()
    assert "DEV-2.too_few_devices" in text and ns.field2.name in text
    out = io.StringIO()
    call_command("check", "--list-rules", stdout=out)
    assert "ING-4.fixity" in out.getvalue() and "DEV-5.lost_or_damaged" in out.getvalue()


def test_check_list_rules_runs_nothing(make_agency):
    make_agency()
    data = run_check("--list-rules")
    assert {"DEV-2.too_few_devices", "ING-4.fixity"} <= {r["id"] for r in data["rules"]}
    assert not CheckRun.objects.exists()


@pytest.mark.parametrize("args, code", [
    (("--rule", "NO-1.such_rule"), "no_rule"),
    (("--activity", "999999"), "no_activity"),
])
def test_check_with_unknown_rule_or_activity_is_an_error(make_agency, args, code):
    make_agency()
    with pytest.raises(BilingualCommandError) as caught:
        run_check(*args)
    assert caught.value.error.code == code and caught.value.returncode == 1
    assert not CheckRun.objects.exists()


def test_check_without_any_profile_is_an_error(db):
    f.AgencyFactory()
    with pytest.raises(BilingualCommandError) as caught:
        run_check()
    assert caught.value.error.code == "no_profile"


def test_check_that_fails_to_run_exits_1_and_is_recorded_failed(make_agency, monkeypatch):
    make_agency()

    def broken(ctx, profile, window):
        raise RuntimeError("the database went away")

    rule = Rule(id="TEST-9.broken", requirement="TEST-9", articles="-", title="broken",
                subject="org.unit", evaluate=broken, by_activity_time=False)
    monkeypatch.setitem(registry._RULES, rule.id, rule)
    with pytest.raises(BilingualCommandError) as caught:
        run_check("--rule", rule.id)
    assert caught.value.error.code == "check_failed"
    assert "the database went away" in caught.value.error.en
    assert CheckRun.objects.get().status == CheckStatus.FAILED


# -- the scheduled and queued checks ---------------------------------------------------------

def test_DEV2_full_check_task_checks_every_agency_and_is_idempotent(make_agency):
    a, b = make_agency(), make_agency("full-process-b")
    for ns in (a, b):
        short_unit(ns)
    result = tasks.full_check.call()
    assert set(result) == {a.agency.code, b.agency.code}
    findings = Finding.objects.filter(rule_id="DEV-2.too_few_devices")
    assert findings.count() == 2
    tasks.full_check.call()
    assert findings.count() == 2 and not findings.exclude(status=FindingStatus.OPEN).exists()
    assert CheckRun.objects.filter(actor="system:compliance").count() == 4


def test_DEV4_check_activities_task_checks_only_those_activities(make_agency):
    ns = make_agency()
    officer = ns.people["officer"]
    device = f.DeviceFactory(unit=ns.field)
    issue = devices.issue_device(device, officer, at=timezone.now() - timedelta(hours=5),
                                 no_check_reason="t", actor="test")
    activity = f.ActivityFactory(unit=ns.field)
    f.RecordingFactory(device=device, issue=issue, holder=officer, activity=activity,
                       attribution=Attribution.ATTRIBUTED)
    result = tasks.check_activities.call([activity.pk, 987654])  # a gone one is skipped
    assert list(result) == [ns.agency.code]
    assert CheckRun.objects.get().activity_ids == [activity.pk]
    assert Finding.objects.filter(rule_id="DEV-4.no_check").count() == 1
    tasks.check_activities.call([activity.pk])
    assert Finding.objects.filter(rule_id="DEV-4.no_check").count() == 1


def test_an_ingest_queues_the_check_of_its_activities_once_committed(
        scene, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        ingest_volume(scene.volume.root, backend=scene.backend, actor="test")
    queued = DBTaskResult.objects.filter(task_path=CHECK_ACTIVITIES)
    assert [row.args_kwargs["args"] for row in queued] == [[[scene.activity.pk]]]


def test_an_assignment_from_the_queue_queues_the_check_of_the_activity(
        make_agency, django_capture_on_commit_callbacks):
    ns = make_agency()
    activity = f.ActivityFactory(unit=ns.field)
    recording = f.RecordingFactory(device=f.DeviceFactory(unit=ns.field), activity=None)
    with django_capture_on_commit_callbacks(execute=True):
        recordings.assign(recording, activity, actor="test")
    queued = DBTaskResult.objects.filter(task_path=CHECK_ACTIVITIES)
    assert [row.args_kwargs["args"] for row in queued] == [[[activity.pk]]]


@pytest.mark.django_db
def test_witness_check_system_keeps_djangos_system_checks(capsys):
    """`witness check` is the compliance check; Django's configuration checks, whose name it
    takes, stay reachable as `witness check --system [--deploy]`."""
    call_command("check", "--system", "--json")
    assert json.loads(capsys.readouterr().out)["system_checks"] == "passed"
    with pytest.raises(BilingualCommandError) as err:
        call_command("check", "--deploy")
    assert "--system" in str(err.value)
