"""`witness demo` builds a usable agency and is idempotent."""

import json
from datetime import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from witness.activities.models import Activity, Case
from witness.demo import data
from witness.devices.models import Device, DeviceIssue
from witness.devices.services import equipment_ratio
from witness.org.models import Person, Role, RoleAssignment, Unit
from witness.profiles import services as profiles


def run_demo(*args: str) -> dict:
    """The command with --json; without recordings (test_recordings covers those)."""
    out = StringIO()
    call_command("demo", "--json", "--no-recordings", *args, stdout=out)
    return json.loads(out.getvalue())


def test_demo_builds_every_role_six_devices_cases_and_a_week(db):
    result = run_demo()
    assert result["created"] is True
    assert Unit.objects.count() == 2
    assert set(RoleAssignment.objects.values_list("role", flat=True)) == set(Role.values)
    assert Device.objects.count() == 6
    assert Case.objects.count() == 2
    days = {a.arrived_at.date() for a in Activity.objects.all()}
    assert len(days) >= 6
    assert all(p.user_id for p in Person.objects.all())
    version, _profile = profiles.active(Unit.objects.first().agency)
    assert version.name == "lushan-2019"
    # DEV-2: the field unit has at least the minimum of image+sound devices
    ratios = {r.unit_name: r for r in equipment_ratio(Unit.objects.first().agency)}
    assert ratios["综合执法大队"].short == 0
    # today's camera (if today's activity is over) is still out; every other line closed
    today = timezone.localdate()
    out_today = sum(1 for a in Activity.objects.all() if timezone.localdate(a.arrived_at) == today)
    assert DeviceIssue.objects.filter(returned_at__isnull=True).count() == out_today


def test_demo_is_idempotent(db):
    run_demo()
    counts = (Person.objects.count(), Device.objects.count(), Activity.objects.count())
    again = run_demo()
    assert again["created"] is False
    assert (Person.objects.count(), Device.objects.count(), Activity.objects.count()) == counts


def test_demo_logins_can_authenticate(db, client):
    result = run_demo()
    login = result["logins"][0]
    assert client.login(username=login["username"], password=result["password"])


@pytest.mark.parametrize(("moment", "activities", "out"), [
    (datetime(2026, 11, 16, 0, 30), 9, 0),    # Monday just after midnight: today's not yet
    (datetime(2026, 11, 22, 23, 30), 10, 1),  # Sunday night: today's done, camera still out
])
def test_demo_at_any_hour_builds_what_has_happened(db, moment, activities, out):
    """The demo week never holds the future, whatever the hour make run is started."""
    now = timezone.make_aware(moment)
    data.build(now=now)
    assert Activity.objects.count() == activities
    assert not Activity.objects.filter(departed_at__gt=now).exists()
    assert DeviceIssue.objects.filter(returned_at__isnull=True).count() == out
    assert not DeviceIssue.objects.filter(returned_at__gt=now).exists()
