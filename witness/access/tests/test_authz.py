"""The authorisation module, witness.access.authz (issue 5 item 1; EVD-2, EVD-4, ING-3):
the scope of each role, and who gets a recording's content — nobody without a grant in
force, the holder included, unless the profile's ``viewing.without_grant`` says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from witness.access import authz
from witness.access.labels import Label
from witness.access.models import AccessRequest, Grant, RequestItem, RequestStatus
from witness.org.models import RoleAssignment
from witness.profiles import services as profiles
from witness.testing import factories as f

STAFF = ["officer", "custodian", "unit_head", "leader", "legal"]
ADMINS = ["sysadmin", "secadmin", "auditadmin"]
ROLES = STAFF + ADMINS


def subject(person):
    """A fresh subject (the module keeps one per user object: a fresh user object)."""
    return authz.subject_of(get_user_model().objects.get(pk=person.user_id))


@pytest.fixture
def world(site):
    """Activities: ``own`` (field unit, the officer on it), ``unit`` (field unit, the
    officer not on it), ``other_unit`` (second field unit, the unit head on it as an
    officer), ``foreign`` (another agency). Recordings: ``held`` (the officer's, in
    ``own``), ``neighbour`` (same activity, another device holder), ``loose`` (the second
    unit, no activity), ``foreign_rec`` (another agency)."""
    ns = site()
    p = ns.people
    ns.own = f.ActivityFactory(unit=ns.field)
    f.ActivityOfficerFactory(activity=ns.own, person=p["officer"], is_recorder=True)
    ns.unit = f.ActivityFactory(unit=ns.field)
    ns.other_unit = f.ActivityFactory(unit=ns.field2)
    f.ActivityOfficerFactory(activity=ns.other_unit, person=p["unit_head"])
    elsewhere = f.UnitFactory()
    ns.foreign = f.ActivityFactory(unit=elsewhere)
    ns.case = f.CaseFactory(agency=ns.agency, leader_in_charge=p["leader"])
    ns.foreign_case = f.CaseFactory(agency=elsewhere.agency)
    device = f.DeviceFactory(unit=ns.field)
    ns.held = f.RecordingFactory(device=device, holder=p["officer"], activity=ns.own)
    ns.neighbour = f.RecordingFactory(device=device, activity=ns.own,
                                      holder=f.PersonFactory(unit=ns.field))
    second = f.PersonFactory(unit=ns.field2)
    ns.loose = f.RecordingFactory(device=f.DeviceFactory(unit=ns.field2), holder=second)
    ns.foreign_rec = f.RecordingFactory(device=f.DeviceFactory(unit=elsewhere))
    return ns


def seen(world, role) -> set[str]:
    names = {"own", "unit", "other_unit", "foreign"}
    visible = set(authz.visible_activities(subject(world.people[role]))
                  .values_list("pk", flat=True))
    return {n for n in names if getattr(world, n).pk in visible}


# -- scope ------------------------------------------------------------------------------------


def test_activity_scope_of_each_role(world):
    """Officers: their own; a unit head: the unit they head and their own; leaders and
    the legal role: the agency; custodians and administrators: none; another agency:
    nobody."""
    assert {role: seen(world, role) for role in ROLES} == {
        "officer": {"own"},
        "unit_head": {"own", "unit", "other_unit"},
        "leader": {"own", "unit", "other_unit"},
        "legal": {"own", "unit", "other_unit"},
        "custodian": set(),
        "sysadmin": set(),
        "secadmin": set(),
        "auditadmin": set(),
    }


def test_can_see_activity_agrees_with_the_list(world):
    for role in ROLES:
        s = subject(world.people[role])
        for name in ("own", "unit", "other_unit", "foreign"):
            assert authz.can_see_activity(s, getattr(world, name)) is (name in seen(world, role))


def test_a_unit_head_assigned_to_another_unit_heads_that_unit(world):
    """The unit of the unit-head assignment, not the person's own unit, is headed."""
    head = f.PersonFactory(unit=world.field)
    RoleAssignment.objects.create(person=head, role="unit_head", unit=world.field2,
                                  effective_from=timezone.now() - timedelta(days=1))
    head.user = f.UserFactory(username="head-of-field2")
    head.save(update_fields=["user"])
    visible = set(authz.visible_activities(subject(head)).values_list("pk", flat=True))
    assert visible == {world.other_unit.pk}


def test_an_ended_role_gives_no_scope(world):
    officer = world.people["officer"]
    RoleAssignment.objects.filter(person=officer).update(
        effective_to=timezone.now() - timedelta(minutes=1))
    assert not authz.visible_activities(subject(officer)).exists()


def test_case_scope_is_the_agency_for_the_heads_and_nothing_for_the_others(world):
    for role in ROLES:
        cases = set(authz.visible_cases(subject(world.people[role])))
        assert cases == ({world.case} if role in ("unit_head", "leader", "legal") else set())


def test_recording_metadata_scope(world):
    """Officers: what they hold and what their activities hold; custodians, leaders, the
    legal role: the agency's; a unit head: the units they head; another agency: none."""
    names = ("held", "neighbour", "loose", "foreign_rec")

    def rec_seen(role):
        s = subject(world.people[role])
        return {n for n in names if authz.can_see_recording(s, getattr(world, n))}

    assert {role: rec_seen(role) for role in ROLES} == {
        "officer": {"held", "neighbour"},
        "custodian": {"held", "neighbour", "loose"},
        "unit_head": {"held", "neighbour"},
        "leader": {"held", "neighbour", "loose"},
        "legal": {"held", "neighbour", "loose"},
        "sysadmin": set(),
        "secadmin": set(),
        "auditadmin": set(),
    }


def test_authorize_refuses_by_role_then_by_scope(world):
    officer = world.people["officer"].user
    assert authz.authorize(officer, "activity.view", world.own).person == world.people[
        "officer"]
    with pytest.raises(authz.Denied) as refused:
        authz.authorize(officer, "activity.view", world.unit)
    assert refused.value.code == "scope"
    with pytest.raises(authz.Denied) as refused:
        authz.authorize(officer, "audit.read")
    assert refused.value.code == "role"
    assert refused.value.zh and refused.value.en  # the reason in both languages


# -- content ----------------------------------------------------------------------------------


def grant(world, person, recording, *, download=False, starts=None, ends=None,
          revoked=False):
    now = timezone.now()
    starts = starts or now - timedelta(hours=1)
    ends = ends or now + timedelta(hours=1)
    request = AccessRequest.objects.create(
        agency=world.agency, requester=person, reason="复核", wanted_from=starts,
        wanted_until=ends, may_download=download, status=RequestStatus.GRANTED,
        decided_at=now)
    RequestItem.objects.create(request=request, recording=recording)
    return Grant.objects.create(request=request, person=person, recording=recording,
                                may_download=download, valid_from=starts, valid_until=ends,
                                revoked_at=now if revoked else None)


def refusal(person, recording, **kwargs) -> str:
    with pytest.raises(authz.Denied) as refused:
        authz.content_allowance(subject(person), recording, **kwargs)
    return refused.value.code


@pytest.mark.parametrize("role", ROLES)
def test_without_a_grant_every_role_is_refused_the_holder_included_ING3(world, role):
    person = world.people[role]
    expected = "role" if role in ADMINS else "no_grant"
    assert refusal(person, world.held) == expected
    assert refusal(person, world.held, download=True) == expected


def test_the_holder_without_a_grant_is_refused_ING3(world):
    assert world.held.holder == world.people["officer"]
    assert refusal(world.people["officer"], world.held) == "no_grant"


@pytest.mark.parametrize("role", STAFF)
def test_an_active_grant_opens_exactly_its_recording(world, role):
    person = world.people[role]
    given = grant(world, person, world.held)
    assert authz.content_allowance(subject(person), world.held).grant == given
    assert refusal(person, world.neighbour) == "no_grant"  # IDOR: not the neighbour


@pytest.mark.parametrize("state", ["expired", "revoked", "future"])
def test_an_expired_revoked_or_future_grant_opens_nothing(world, state):
    person = world.people["custodian"]
    now = timezone.now()
    kwargs = {"expired": {"starts": now - timedelta(days=2), "ends": now - timedelta(days=1)},
              "revoked": {"revoked": True},
              "future": {"starts": now + timedelta(hours=1), "ends": now + timedelta(days=1)},
              }[state]
    grant(world, person, world.held, **kwargs)
    assert refusal(person, world.held) == "no_grant"


def test_a_grant_in_force_at_a_time_is_judged_at_that_time(world):
    person = world.people["leader"]
    now = timezone.now()
    grant(world, person, world.held, starts=now + timedelta(hours=1),
          ends=now + timedelta(hours=3))
    later = now + timedelta(hours=2)
    assert authz.content_allowance(subject(person), world.held, at=later).grant is not None
    assert refusal(person, world.held, at=now + timedelta(hours=4)) == "no_grant"


def test_a_download_needs_a_grant_that_allows_downloads(world):
    person = world.people["unit_head"]
    grant(world, person, world.held, download=False)
    assert authz.content_allowance(subject(person), world.held).grant is not None
    assert refusal(person, world.held, download=True) == "no_grant"
    with_download = grant(world, person, world.neighbour, download=True)
    assert authz.content_allowance(subject(person), world.neighbour,
                                   download=True).grant == with_download


def test_a_grant_is_the_viewers_own(world):
    grant(world, world.people["custodian"], world.held)
    assert refusal(world.people["officer"], world.held) == "no_grant"


@pytest.mark.parametrize("role", ADMINS)
def test_administrators_never_get_content_even_with_a_grant_row(world, role):
    """三员分立: a grant row (which the chain would not make) opens nothing for them."""
    person = world.people[role]
    grant(world, person, world.held, download=True)
    assert refusal(person, world.held) == "role"
    assert refusal(person, world.held, download=True) == "role"
    with pytest.raises(authz.Denied):
        authz.authorize(person.user, "recording.play", world.held)


def test_state_secret_content_is_refused_even_with_a_grant(world):
    person = world.people["leader"]
    grant(world, person, world.held, download=True)
    world.held.label = Label.STATE_SECRET
    world.held.save(update_fields=["label"])
    assert refusal(person, world.held) == "state_secret"
    assert refusal(person, world.held, download=True) == "state_secret"


def test_another_agencys_recording_is_refused_even_with_a_grant(world):
    person = world.people["leader"]
    grant(world, person, world.foreign_rec)
    assert refusal(person, world.foreign_rec) == "other_agency"


@pytest.fixture
def holder_play(world, settings, tmp_path):
    """The default profile with ``viewing.without_grant = ["holder_play"]``, applied."""
    settings.WITNESS_PROFILE_DIR = tmp_path
    path = profiles.new("holder-play", "lushan-2019")
    text = path.read_text(encoding="utf-8")
    assert "without_grant = []" in text
    path.write_text(text.replace("without_grant = []", 'without_grant = ["holder_play"]'),
                    encoding="utf-8")
    profiles.apply(world.agency, "holder-play")
    assert profiles.profile_of(profiles.active_version(world.agency)).viewing_without_grant \
        == ("holder_play",)
    return world


def test_holder_play_lets_the_holder_play_their_own_recording_only(holder_play):
    world = holder_play
    officer = world.people["officer"]
    allowance = authz.content_allowance(subject(officer), world.held)
    assert (allowance.grant, allowance.rule) == (None, authz.HOLDER_PLAY)
    assert refusal(officer, world.held, download=True) == "no_grant"  # play, not download
    assert refusal(officer, world.neighbour) == "no_grant"  # same activity, not theirs
    assert refusal(world.people["leader"], world.held) == "no_grant"  # not the holder
    world.held.label = Label.STATE_SECRET
    world.held.save(update_fields=["label"])
    assert refusal(officer, world.held) == "state_secret"
