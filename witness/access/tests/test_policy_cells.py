"""The cells that matter most, written out by hand (issue 5, "Done when"): play, download,
export, the audit log and role assignment, for every role. The table below is NOT read
from witness.access.policy, so that a wrong policy cannot pass its own test; it says what
the requirements say (EVD-2, ING-3, GB/T 22239-2019 三员分立):

* content (play, download) is for the enforcement staff and only with a grant — the role
  cell is the first of two locks, the grant the second; no administrator ever;
* exporting an evidence package is the custodian's (on an approved request);
* the audit log is the audit administrator's alone; roles are the security
  administrator's alone; the system administrator has none of these.

Then end to end, through the real pages: the audit log for every role; the player and
the download of a real stored recording for every role, without a grant (nobody, the
holder included — ING-3) and with one (exactly the roles of the table); the role consoles.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from witness.access import policy
from witness.access.models import AccessRequest, Grant, RequestItem, RequestStatus
from witness.org import services as org
from witness.org.models import Role
from witness.storage.config import get_backend
from witness.storage.pipeline import store_file
from witness.testing import factories as f

CELLS = {
    #              play   download export  audit  roles
    "officer":    (True,  True,    False,  False, False),
    "custodian":  (True,  True,    True,   False, False),
    "unit_head":  (True,  True,    False,  False, False),
    "leader":     (True,  True,    False,  False, False),
    "legal":      (True,  True,    False,  False, False),
    "sysadmin":   (False, False,   False,  False, False),
    "secadmin":   (False, False,   False,  False, True),
    "auditadmin": (False, False,   False,  True,  False),
}
COLUMNS = ("recording.play", "recording.download", "recording.export", "audit.read",
           "role.assign")
TABLE = {role: dict(zip(COLUMNS, row, strict=True)) for role, row in CELLS.items()}
CASES = [(role, action) for role in CELLS for action in COLUMNS]


def test_the_table_has_every_role():
    assert set(TABLE) == {role.value for role in Role}


@pytest.mark.parametrize("role,action", CASES, ids=[f"{r}-{a}" for r, a in CASES])
def test_the_policy_agrees_with_the_hand_written_cell(role, action):
    assert policy.may({role}, action) is TABLE[role][action], (role, action)


@pytest.mark.parametrize("admin", ["sysadmin", "secadmin", "auditadmin"])
@pytest.mark.parametrize("other", ["officer", "custodian", "leader", "legal"])
def test_an_administrator_holding_an_enforcement_role_gets_no_content(admin, other):
    """三员分立: the administrator role alone decides, whatever else the account holds."""
    for action in ("recording.play", "recording.download", "recording.export"):
        assert policy.may({admin, other}, action) is False
    assert policy.may({admin, other}, "audit.read") is (admin == "auditadmin")
    assert policy.may({admin, other}, "role.assign") is (admin == "secadmin")


def test_two_administrator_roles_get_nothing():
    for action in COLUMNS:
        assert policy.may({"auditadmin", "secadmin"}, action) is False


# -- end to end ---------------------------------------------------------------------------


def registered(name: str) -> bool:
    try:
        reverse(name, args=[1]) if name.startswith("recording_") else reverse(name)
    except NoReverseMatch:
        return False
    return True


def awaits(*names: str):
    missing = [n for n in names if not registered(n)]
    return pytest.mark.skipif(bool(missing), reason=f"url name(s) not registered yet: "
                                                    f"{', '.join(missing)}")


@pytest.fixture
def world(site, settings, tmp_path):
    """An agency with accounts for every role and one recording stored through the real
    pipeline (random bytes: the check is the answer, not the picture), held by the
    officer, in an activity of the officer's unit the officer is on."""
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    ns = site()
    source = tmp_path / "FILE_0001.MP4"
    ns.data = os.urandom(200_000)
    source.write_bytes(ns.data)
    stored = store_file(source, get_backend(), actor="test")
    activity = f.ActivityFactory(unit=ns.field)
    f.ActivityOfficerFactory(activity=activity, person=ns.people["officer"], is_recorder=True)
    ns.recording = f.RecordingFactory(
        blob=stored.blob, device=f.DeviceFactory(unit=ns.field), holder=ns.people["officer"],
        activity=activity, attribution="auto", queue_reason="", browser_playable=True,
        container="mp4", source_path="DCIM/100MEDIA/FILE_0001.MP4",
        source_path_bytes=b"DCIM/100MEDIA/FILE_0001.MP4")
    return ns


def give_grant(ns, person, recording, *, download: bool):
    """An approved request (standing in for the approval chain) and its grant, in force."""
    now = timezone.now()
    request = AccessRequest.objects.create(
        agency=ns.agency, requester=person, reason="复核执法过程",
        wanted_from=now - timedelta(minutes=5), wanted_until=now + timedelta(hours=2),
        may_download=download, status=RequestStatus.GRANTED, decided_at=now)
    RequestItem.objects.create(request=request, recording=recording)
    return Grant.objects.create(request=request, person=person, recording=recording,
                                may_download=download, valid_from=now - timedelta(minutes=5),
                                valid_until=now + timedelta(hours=2))


def downloaded(client, url) -> tuple[int, bytes]:
    """Follow the download's redirect to its session; the status and the bytes."""
    response = client.get(url)
    if response.status_code == 302:
        response = client.get(response.url)
    data = b"".join(response.streaming_content) if response.streaming else b""
    return response.status_code, data


ROLES = list(CELLS)


@pytest.mark.parametrize("role", ROLES)
def test_the_audit_log_page_opens_for_the_audit_administrator_alone(world, login, role):
    response = login(world.people[role]).get(reverse("audit_log"))
    assert response.status_code == (200 if TABLE[role]["audit.read"] else 403)


@awaits("recording_play", "recording_download")
@pytest.mark.parametrize("role", ROLES)
def test_without_a_grant_nobody_plays_or_downloads_the_holder_included_ING3(
        world, login, role):
    """ING-3 and EVD-2: under the default profile (viewing.without_grant empty) the
    officer who recorded and holds the recording is refused like everyone else."""
    assert world.recording.holder == world.people["officer"]
    client = login(world.people[role])
    assert client.get(reverse("recording_play", args=[world.recording.pk])).status_code \
        == 403
    status, data = downloaded(client, reverse("recording_download",
                                              args=[world.recording.pk]))
    assert status == 403 and data == b""


@awaits("recording_play", "recording_download")
@pytest.mark.parametrize("role", ROLES)
def test_with_a_grant_exactly_the_roles_of_the_table_play_and_download(world, login, role):
    """A grant (play and download) in force for each role's own person: the roles whose
    cells say so get the player and the stored bytes; the administrators stay refused even
    with the grant row."""
    person = world.people[role]
    give_grant(world, person, world.recording, download=True)
    client = login(person)
    play = client.get(reverse("recording_play", args=[world.recording.pk]))
    assert play.status_code == (200 if TABLE[role]["recording.play"] else 403)
    status, data = downloaded(client, reverse("recording_download",
                                              args=[world.recording.pk]))
    if TABLE[role]["recording.download"]:
        assert (status, data) == (200, world.data)
    else:
        assert (status, data) == (403, b"")


@awaits("recording_play", "recording_download")
@pytest.mark.parametrize("role", ["officer", "custodian", "leader"])
def test_a_play_only_grant_does_not_download(world, login, role):
    person = world.people[role]
    give_grant(world, person, world.recording, download=False)
    client = login(person)
    assert client.get(reverse("recording_play", args=[world.recording.pk])).status_code \
        == 200
    assert downloaded(client, reverse("recording_download",
                                      args=[world.recording.pk]))[0] == 403


@awaits("recording_play")
def test_a_grant_for_one_person_opens_nothing_for_another(world, login):
    """The grant is the viewer's: the holder's colleague with the same role is refused."""
    give_grant(world, world.people["custodian"], world.recording, download=True)
    client = login(world.people["officer"])
    assert client.get(reverse("recording_play", args=[world.recording.pk])).status_code \
        == 403


@awaits("role_list", "role_assign")
@pytest.mark.parametrize("role", ROLES)
def test_roles_are_assigned_by_the_security_administrator_alone(world, login, role):
    """The role console opens, and a real assignment (POST) is made, for the cells that
    say so; everyone else gets 403 and nothing is assigned."""
    newcomer = f.PersonFactory(unit=world.field)
    client = login(world.people[role])
    allowed = TABLE[role]["role.assign"]
    assert client.get(reverse("role_list")).status_code == (200 if allowed else 403)
    response = client.post(reverse("role_assign"),
                           {"person": newcomer.pk, "role": Role.OFFICER.value})
    assert response.status_code == (302 if allowed else 403)
    assert org.roles_at(newcomer) == ({Role.OFFICER.value} if allowed else set())
