"""Dashboard data per unit and month (issue 6 item 4; ACT-1, ING-2, SUP-2)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from witness.compliance import dashboard
from witness.findings.models import FindingStatus
from witness.findings.services import raise_finding, register_violation
from witness.testing import factories as f

TZ = timezone.get_default_timezone()


def local(*args) -> datetime:
    return timezone.make_aware(datetime(*args), TZ)


@pytest.fixture
def ns(make_agency):
    return make_agency("lushan-2019")


def activity(ns, at, *, unit=None, kind="on_site_enforcement", recorded=True):
    act = f.ActivityFactory(unit=unit or ns.field, activity_type=kind, arrived_at=at,
                            departed_at=at + timedelta(minutes=40))
    recordings = []
    if recorded:
        device = f.DeviceFactory(unit=act.unit)
        recordings.append(f.RecordingFactory(device=device, activity=act, started_at=at,
                                             ended_at=at + timedelta(minutes=40),
                                             attribution="auto", queue_reason=""))
    return act, recordings


@pytest.mark.django_db
def test_ACT1_must_record_and_recorded_are_counted_per_unit_and_local_month(ns):
    # 2026-10-31 23:30 in Shanghai is October locally although it is 15:30 UTC
    activity(ns, local(2026, 10, 31, 23, 30))
    activity(ns, local(2026, 10, 5, 9, 0), recorded=False)
    activity(ns, local(2026, 11, 1, 0, 30))  # November locally, still 31 October UTC
    activity(ns, local(2026, 11, 3, 9, 0), unit=ns.field2)
    # a type the profile does not list as must-record is not counted
    activity(ns, local(2026, 11, 4, 9, 0), kind="not_a_listed_type", recorded=False)
    rows = {(r.unit, r.month): r for r in dashboard.monthly(ns.agency)}
    october = rows[(ns.field.code, "2026-10")]
    assert (october.must_record, october.recorded, october.recorded_percent) == (2, 1, 50.0)
    november = rows[(ns.field.code, "2026-11")]
    assert (november.must_record, november.recorded) == (1, 1)
    assert rows[(ns.field2.code, "2026-11")].must_record == 1
    assert sum(r.must_record for r in rows.values()) == 4


@pytest.mark.django_db
def test_ING2_on_time_share_counts_late_upload_findings(ns):
    _act, recs = activity(ns, local(2026, 11, 10, 9, 0))
    _act2, recs2 = activity(ns, local(2026, 11, 12, 9, 0))
    _act3, recs3 = activity(ns, local(2026, 11, 14, 9, 0))
    raise_finding("ING-2.late_upload", recs[0], {"limb": "normal"})
    row = next(r for r in dashboard.monthly(ns.agency) if r.month == "2026-11")
    assert (row.recordings, row.late) == (3, 1)
    assert row.on_time_percent == pytest.approx(66.7)
    # a finding the data no longer bears out (a return time recorded later) is not late
    late, _ = raise_finding("ING-2.late_upload", recs2[0], {"limb": "normal"})
    late.status = FindingStatus.RESOLVED
    late.save()
    row = next(r for r in dashboard.monthly(ns.agency) if r.month == "2026-11")
    assert (row.recordings, row.late) == (3, 1)
    assert recs3


@pytest.mark.django_db
def test_SUP2_open_findings_and_violations_per_unit_month(ns):
    act, _ = activity(ns, local(2026, 9, 2, 9, 0))
    finding, _ = raise_finding("ACT-2.too_few_officers", act)
    finding.unit, finding.occurred_at = ns.field, act.arrived_at
    finding.save()
    accepted, _ = raise_finding("ACT-2.no_recorder", act)
    accepted.unit, accepted.occurred_at = ns.field, act.arrived_at
    accepted.status = FindingStatus.ACCEPTED
    accepted.save()
    register_violation("not_recorded", ns.people["officer"], "未按规定记录", finding=finding)
    rows = dashboard.monthly(ns.agency)
    september = next(r for r in rows if r.month == "2026-09" and r.unit == ns.field.code)
    assert september.open_findings == 1  # the accepted one is decided
    this_month = timezone.localtime().strftime("%Y-%m")
    registered = next(r for r in rows if r.month == this_month and r.unit == ns.field.code)
    assert registered.violations == 1


@pytest.mark.django_db
def test_dashboard_queries_do_not_grow_with_the_data(ns, django_assert_max_num_queries):
    for day in range(1, 4):
        activity(ns, local(2026, 11, day, 9, 0))
    with django_assert_max_num_queries(8) as few:
        dashboard.monthly(ns.agency)
    for day in range(4, 28):
        activity(ns, local(2026, 11, day, 9, 0))
    with django_assert_max_num_queries(len(few.captured_queries)):
        dashboard.monthly(ns.agency)


@pytest.mark.django_db
def test_witness_dashboard_prints_json_and_writes_csv(ns, tmp_path, capsys):
    activity(ns, local(2026, 11, 10, 9, 0))
    activity(ns, local(2026, 12, 10, 9, 0))
    call_command("dashboard", "--json", "--from", "2026-11", "--to", "2026-11")
    data = json.loads(capsys.readouterr().out)
    assert [(r["month"], r["must_record"]) for r in data["rows"]] == [("2026-11", 1)]
    out = tmp_path / "d.csv"
    call_command("dashboard", "--csv", str(out), "--unit", ns.field.code)
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["month"] for r in rows] == ["2026-11", "2026-12"]
    assert rows[0]["recorded_percent"] == "100.0"


@pytest.mark.django_db
def test_a_bad_month_is_refused_in_both_languages(ns):
    from django.core.management.base import CommandError
    for bad in ("2026/11", "2026-13", "9999-12", "0001-01"):
        with pytest.raises(CommandError) as err:
            call_command("dashboard", "--from", bad, "--to", bad)
        assert "2026-11" in str(err.value)
