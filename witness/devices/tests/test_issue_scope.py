"""DEV-3: who may take a device depends on the profile's ``issue_scope``.

Regulation A (lushan-2019, scope "agency", A4, A18(3)): any of the bureau's own staff, of
any unit, but nobody of another agency. Regulation B (full-process-b, scope "unit",
B8–B10): only staff of the device's owning unit. A refusal writes no ledger line, one
RefusedIssue and one audit entry with outcome "refused", and exits 1 with a message in
Chinese and English.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy

from witness.audit.models import AuditEntry
from witness.core.commands import BilingualCommandError
from witness.core.errors import Refused
from witness.devices.models import DeviceIssue, RefusedIssue
from witness.devices.tests.conftest import hour_ago, iso
from witness.org.services import move_person
from witness.testing import factories as f
from witness.testing.child import child_database_url


def _refusals(device):
    return AuditEntry.objects.filter(action="device.issue", outcome="refused",
                                     object_type="devices.device", object_id=str(device.pk))


def _assert_refused(cli, device, person, check_args, needle):
    ledger_before = DeviceIssue.objects.count()
    audits_before = _refusals(device).count()
    with pytest.raises(BilingualCommandError) as caught:
        cli("issue", device.serial, "--to", person.badge_number, *check_args(hour_ago()))
    error = caught.value.error
    assert error.code == "out_of_scope"
    assert needle in error.en and person.name in error.en
    assert caught.value.returncode == 1
    # Chinese first, then English: two different lines.
    assert error.zh != error.en and "拒绝" in error.zh
    assert str(caught.value) == f"{error.zh}\n{error.en}"
    assert DeviceIssue.objects.count() == ledger_before
    refused = RefusedIssue.objects.get(device=device)
    assert (refused.person, refused.person_unit) == (person, person.unit)
    assert refused.reason == f"{error.zh}\n{error.en}"  # kept as the user saw it
    entries = _refusals(device)
    assert entries.count() == audits_before + 1
    assert entries.last().details["holder"] == person.name
    return refused


def test_profile_a_lets_another_unit_of_the_same_agency_take_it(make_agency, cli, camera,
                                                                 check_args):
    """DEV-3, A4: under scope "agency" a person of 执法二科 may take 执法一科's camera."""
    org = make_agency("lushan-2019")
    device = camera(org.field)
    person = f.PersonFactory(unit=org.field2)
    data = cli("issue", device.serial, "--to", person.badge_number, *check_args(hour_ago()))
    issue = DeviceIssue.objects.get(pk=data["id"])
    assert (issue.holder, issue.holder_unit, issue.returned_at) == (person, org.field2, None)
    assert data["holder_unit"] == org.field2.name
    assert not RefusedIssue.objects.exists()


def test_profile_a_refuses_a_person_of_another_agency(make_agency, cli, camera, check_args):
    """DEV-3, A18(3): not to anyone outside the bureau, even with the same regulation."""
    org = make_agency("lushan-2019")
    other = make_agency("lushan-2019")
    device = camera(org.field)
    stranger = f.PersonFactory(unit=other.field)
    refused = _assert_refused(cli, device, stranger, check_args, "agency's own staff")
    assert refused.issue_scope == "agency"
    assert refused.profile_version.name == "lushan-2019"


def test_profile_b_allows_the_owning_unit(make_agency, cli, camera, check_args):
    """DEV-3, B9: the 处室 that owns the device issues it to its own staff."""
    org = make_agency("full-process-b")
    device = camera(org.field)
    data = cli("issue", device.serial, "--to", org.people["officer"].badge_number,
               *check_args(hour_ago()))
    assert data["holder"]["badge_number"] == org.people["officer"].badge_number
    assert DeviceIssue.objects.filter(device=device, returned_at__isnull=True).count() == 1


@pytest.mark.parametrize("where", ["other unit", "other agency"])
def test_profile_b_refuses_anyone_outside_the_owning_unit(make_agency, cli, camera, check_args,
                                                           where):
    """DEV-3, B8–B10: another 处室 of the same agency is refused, and so is another agency."""
    org = make_agency("full-process-b")
    device = camera(org.field)
    if where == "other unit":
        person, needle = f.PersonFactory(unit=org.field2), org.field2.name
    else:
        person, needle = f.PersonFactory(unit=make_agency("full-process-b").field), "issue scope"
    refused = _assert_refused(cli, device, person, check_args, needle)
    assert refused.issue_scope == "unit"


def test_scope_uses_the_holders_unit_at_the_issue_time(make_agency, cli, camera, check_args):
    """DEV-3: a person moved into the owning unit yesterday was outside it the day before,
    so under profile B a back-dated issue before the move is refused and one after it is
    allowed, recording the unit at that moment."""
    org = make_agency("full-process-b")
    device = camera(org.field)
    person = f.PersonFactory(unit=org.field2)
    moved_at = timezone.now() - timedelta(days=1)
    move_person(person, org.field, moved_at, actor="system:test")
    with pytest.raises(BilingualCommandError) as caught:
        cli("issue", device.serial, "--to", person.name,
            *check_args(moved_at - timedelta(hours=2)))
    assert caught.value.error.code == "out_of_scope"
    assert RefusedIssue.objects.get(device=device).person_unit == org.field2
    data = cli("issue", device.serial, "--to", person.name,
               *check_args(moved_at + timedelta(hours=2)))
    assert DeviceIssue.objects.get(pk=data["id"]).holder_unit == org.field
    assert DeviceIssue.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_refused_issue_from_the_shell_exits_1_in_both_languages(make_agency, camera):
    """DEV-3 end to end: `witness device issue` in a child process against the committed
    test database exits 1, prints the refusal in Chinese and English on stderr, and the
    refusal (not an issue) is committed."""
    url = child_database_url()
    if url is None:
        pytest.skip("the SQLite test database is in memory; PostgreSQL runs this test")
    org = make_agency("full-process-b")
    device = camera(org.field)
    outsider = f.PersonFactory(unit=org.field2)
    at = hour_ago()
    env = {**os.environ, "DATABASE_URL": url, "WITNESS_HOME": str(settings.WITNESS_HOME)}
    witness = Path(sys.executable).with_name("witness")
    result = subprocess.run(
        [str(witness), "device", "issue", device.serial, "--to", outsider.badge_number,
         "--at", iso(at), "--battery", "80", "--free-mb", "1000", "--device-time", iso(at)],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    refused = RefusedIssue.objects.get(device=device)
    expected = Refused(gettext_lazy(
        "Refused: device %(serial)s belongs to %(device_unit)s and may only be issued to its "
        "own staff; %(name)s is in %(holder_unit)s (profile %(profile)s, issue scope: unit)."),
        serial=device.serial, device_unit=org.field.name, name=outsider.name,
        holder_unit=org.field2.name, profile=str(refused.profile_version))
    lines = result.stderr.strip().splitlines()
    assert expected.en in lines
    assert expected.zh in lines
    assert not DeviceIssue.objects.filter(device=device).exists()
    assert _refusals(device).count() == 1
    assert _refusals(device).get().actor_label.startswith("cli:")
