"""People, their dated unit history and roles (DEV-3 needs a person's unit at any moment;
三员分立, GB/T 22239-2019 level 3, keeps the three administrator roles apart)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.core.errors import NotFound, Refused, WitnessError
from witness.org import services
from witness.org.models import Agency, PersonUnitHistory, Role, RoleAssignment
from witness.testing import factories as f

NOW = timezone.now()
DAY = timedelta(days=1)


def entries(action, person):
    return list(AuditEntry.objects.filter(action=action, object_type="org.person",
                                          object_id=str(person.pk)))


@pytest.fixture
def org(make_agency):
    return make_agency("lushan-2019")


def test_create_person_writes_unit_history_and_audit(org):
    person = services.create_person(org.agency, " 王五 ", org.field, badge_number=" 41049999 ",
                                    phone="13800000000", roles=("officer", "custodian"),
                                    effective_from=NOW - 10 * DAY, actor="system:test")
    assert (person.name, person.badge_number, person.unit, person.active) == \
        ("王五", "41049999", org.field, True)
    history = list(PersonUnitHistory.objects.filter(person=person))
    assert [(h.unit, h.effective_from) for h in history] == [(org.field, NOW - 10 * DAY)]
    [created] = entries("person.create", person)
    assert created.actor_label == "system:test"
    assert created.details == {"name": "王五", "unit": org.field.name,
                               "badge_number": "41049999", "active": True}
    assert sorted(e.details["role"] for e in entries("role.assign", person)) == \
        ["custodian", "officer"]
    assert services.roles_at(person, NOW - 9 * DAY) == {"officer", "custodian"}


def test_create_person_inactive(org):
    person = services.create_person(org.agency, "离职人员", org.office, active=False)
    assert not person.active
    assert entries("person.create", person)[0].details["active"] is False


def test_duplicate_badge_is_an_error_and_writes_nothing(org):
    services.create_person(org.agency, "甲", org.field, badge_number="41040001")
    people, audits = org.agency.people.count(), AuditEntry.objects.count()
    with pytest.raises(WitnessError) as info:
        services.create_person(org.agency, "乙", org.field2, badge_number="41040001")
    assert info.value.code == "duplicate_badge"
    assert "41040001" in info.value.en
    assert (org.agency.people.count(), AuditEntry.objects.count()) == (people, audits)


def test_blank_badge_means_no_badge(org):
    a = services.create_person(org.agency, "甲", org.field, badge_number="  ")
    b = services.create_person(org.agency, "乙", org.field, badge_number="")
    assert a.badge_number is None and b.badge_number is None


def test_create_person_needs_a_name_and_a_unit_of_the_agency(org, make_agency):
    with pytest.raises(WitnessError) as info:
        services.create_person(org.agency, "  ", org.field)
    assert info.value.code == "name_required"
    other = make_agency("full-process-b")
    with pytest.raises(WitnessError) as info:
        services.create_person(org.agency, "甲", other.field)
    assert info.value.code == "unit_agency"


def test_move_person_is_dated_and_unit_at_answers_for_any_time(org):
    """DEV-3 compares a holder's unit at the time of issue with later moves."""
    person = services.create_person(org.agency, "王五", org.field,
                                    effective_from=NOW - 30 * DAY)
    services.move_person(person, org.field2, NOW - 10 * DAY, actor="system:test")
    person.refresh_from_db()
    assert person.unit == org.field2
    assert services.unit_at(person, NOW - 40 * DAY) == org.field  # before the first entry
    assert services.unit_at(person, NOW - 30 * DAY) == org.field
    assert services.unit_at(person, NOW - 11 * DAY) == org.field
    assert services.unit_at(person, NOW - 10 * DAY) == org.field2
    assert services.unit_at(person, NOW) == org.field2
    [moved] = entries("person.move", person)
    assert moved.details == {"from": org.field.name, "to": org.field2.name,
                             "effective_from": (NOW - 10 * DAY).isoformat()}


def test_backdated_move_between_two_others_keeps_the_latest_unit_current(org):
    person = services.create_person(org.agency, "王五", org.field,
                                    effective_from=NOW - 30 * DAY)
    services.move_person(person, org.office, NOW - 5 * DAY)
    services.move_person(person, org.field2, NOW - 20 * DAY)  # entered late
    person.refresh_from_db()
    assert person.unit == org.office
    assert services.unit_at(person, NOW - 25 * DAY) == org.field
    assert services.unit_at(person, NOW - 15 * DAY) == org.field2
    assert services.unit_at(person, NOW - DAY) == org.office


def test_move_to_a_unit_of_another_agency_is_refused(org, make_agency):
    other = make_agency("full-process-b")
    person = services.create_person(org.agency, "王五", org.field)
    with pytest.raises(WitnessError) as info:
        services.move_person(person, other.field, NOW)
    assert info.value.code == "unit_agency"
    assert services.unit_at(person, NOW + DAY) == org.field


def test_roles_at_respects_effective_from_and_to(org):
    person = services.create_person(org.agency, "王五", org.field,
                                    effective_from=NOW - 30 * DAY)
    head = services.assign_role(person, "unit_head", unit=org.field,
                                effective_from=NOW - 20 * DAY)
    services.assign_role(person, Role.OFFICER, effective_from=NOW - 30 * DAY)
    services.end_role(head, NOW - 10 * DAY, actor="system:test")
    assert services.roles_at(person, NOW - 25 * DAY) == {"officer"}
    assert services.roles_at(person, NOW - 20 * DAY) == {"officer", "unit_head"}
    assert services.roles_at(person, NOW - 10 * DAY - timedelta(seconds=1)) == \
        {"officer", "unit_head"}
    assert services.roles_at(person, NOW - 10 * DAY) == {"officer"}  # the end is exclusive
    assert services.roles_at(person) == {"officer"}
    [ended] = entries("role.end", person)
    assert ended.details["role"] == "unit_head"


def test_assigning_a_held_role_again_returns_the_same_assignment(org):
    person = services.create_person(org.agency, "王五", org.field, roles=("officer",))
    first = RoleAssignment.objects.get(person=person)
    assert services.assign_role(person, "officer") == first
    assert RoleAssignment.objects.filter(person=person).count() == 1


def test_unknown_role_is_an_error(org):
    person = services.create_person(org.agency, "王五", org.field)
    with pytest.raises(WitnessError) as info:
        services.assign_role(person, "king")
    assert info.value.code == "unknown_role"


def test_admin_separation_refuses_a_second_admin_role(org):
    """三员分立: system, security and audit administrators are three different accounts."""
    person = services.create_person(org.agency, "王五", org.office, roles=("sysadmin",))
    before = AuditEntry.objects.count()
    with pytest.raises(Refused) as info:
        services.assign_role(person, "auditadmin")
    assert info.value.code == "admin_separation"
    assert "王五" in info.value.en and "system administrator" in info.value.en
    assert services.roles_at(person) == {"sysadmin"}
    assert AuditEntry.objects.count() == before
    with pytest.raises(Refused):
        services.create_person(org.agency, "赵六", org.office, roles=("secadmin", "auditadmin"))
    assert not org.agency.people.filter(name="赵六").exists()


def test_admin_role_after_the_other_ended_is_allowed(org):
    person = services.create_person(org.agency, "王五", org.office,
                                    effective_from=NOW - 30 * DAY)
    sysadmin = services.assign_role(person, "sysadmin", effective_from=NOW - 30 * DAY)
    services.end_role(sysadmin, NOW - 10 * DAY)
    audit = services.assign_role(person, "auditadmin", effective_from=NOW - 10 * DAY)
    assert audit.role == "auditadmin"
    assert services.roles_at(person, NOW - 20 * DAY) == {"sysadmin"}
    assert services.roles_at(person) == {"auditadmin"}


def test_admin_role_overlapping_an_ended_one_is_refused(org):
    """Backdating the second role into the first one's period would give one account both."""
    person = services.create_person(org.agency, "王五", org.office,
                                    effective_from=NOW - 30 * DAY)
    sysadmin = services.assign_role(person, "sysadmin", effective_from=NOW - 30 * DAY)
    services.end_role(sysadmin, NOW - 10 * DAY)
    with pytest.raises(Refused):
        services.assign_role(person, "auditadmin", effective_from=NOW - 20 * DAY)


def test_admin_role_starting_later_still_blocks_an_open_ended_one(org):
    person = services.create_person(org.agency, "王五", org.office)
    services.assign_role(person, "secadmin", effective_from=NOW + 5 * DAY)
    with pytest.raises(Refused):
        services.assign_role(person, "sysadmin", effective_from=NOW)


def test_end_role_cannot_end_before_it_starts_or_twice(org):
    person = services.create_person(org.agency, "王五", org.field)
    role = services.assign_role(person, "custodian", effective_from=NOW - DAY)
    with pytest.raises(WitnessError) as info:
        services.end_role(role, NOW - 2 * DAY)
    assert info.value.code == "end_before_start"
    services.end_role(role, NOW - timedelta(hours=1))
    with pytest.raises(WitnessError) as info:
        services.end_role(role, NOW)
    assert info.value.code == "already_ended"


def test_role_scoped_to_a_unit_of_another_agency_is_refused(org, make_agency):
    other = make_agency("full-process-b")
    person = services.create_person(org.agency, "王五", org.field)
    with pytest.raises(WitnessError) as info:
        services.assign_role(person, "unit_head", unit=other.field)
    assert info.value.code == "unit_agency"


def test_people_with_role_checks_the_scope_on_the_same_assignment(org):
    """A custodian of the field unit is not the office's custodian because some other
    role of theirs is scoped to the office."""
    keeper = services.create_person(org.agency, "王五", org.field)
    services.assign_role(keeper, "custodian")
    services.assign_role(keeper, "unit_head", unit=org.office)
    office_keeper = org.people["custodian"]  # in the office, unscoped
    scoped = services.create_person(org.agency, "赵六", org.field2)
    services.assign_role(scoped, "custodian", unit=org.office)
    assert set(services.people_with_role("custodian", unit=org.office)) == \
        {office_keeper, scoped}
    assert keeper in set(services.people_with_role("custodian", unit=org.field))
    assert keeper in set(services.people_with_role("custodian"))


def test_people_with_role_leaves_out_inactive_people_and_ended_roles(org):
    gone = services.create_person(org.agency, "离职", org.field, roles=("legal",),
                                  active=False)
    ended = services.create_person(org.agency, "调岗", org.field,
                                   effective_from=NOW - 10 * DAY)
    services.end_role(services.assign_role(ended, "legal", effective_from=NOW - 10 * DAY),
                      NOW - DAY)
    legal = set(services.people_with_role("legal"))
    assert gone not in legal and ended not in legal
    assert ended in set(services.people_with_role("legal", NOW - 5 * DAY))


def test_current_roles_of_user(org):
    user = f.UserFactory()
    person = services.create_person(org.agency, "王五", org.field, user=user,
                                    roles=("officer", "custodian"))
    assert services.current_roles_of_user(user) == {"officer", "custodian"}
    assert person.user == user
    from django.contrib.auth.models import AnonymousUser
    assert services.current_roles_of_user(AnonymousUser()) == frozenset()


def test_default_agency(db):
    with pytest.raises(NotFound) as info:
        services.default_agency()
    assert info.value.code == "no_agency"
    first = f.AgencyFactory()
    f.AgencyFactory()
    assert services.default_agency() == first
    assert Agency.objects.count() == 2
