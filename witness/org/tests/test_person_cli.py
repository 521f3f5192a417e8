"""`witness person list|show|add|move|role-add|role-end`: people with unit and role changes
dated by when they took effect (DEV-3 needs a holder's unit at any moment; 三员分立,
GB/T 22239-2019 level 3)."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.utils import timezone, translation

from witness.audit.models import AuditEntry
from witness.core.commands import BilingualCommandError
from witness.org import services
from witness.org.management.commands.person import Command
from witness.org.models import Person, PersonUnitHistory, Role, RoleAssignment

DAY = timedelta(days=1)


def iso(moment) -> str:
    """A time as the CLI takes it: ISO 8601 local time without an offset."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")


def run(*args):
    out = StringIO()
    call_command("person", *[str(a) for a in args], "--json", stdout=out)
    return json.loads(out.getvalue())


def text(*args) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("person", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def refused(*args):
    with pytest.raises(BilingualCommandError) as err:
        call_command("person", *[str(a) for a in args], stdout=StringIO())
    return err.value.error


def audited(action, person):
    return list(AuditEntry.objects.filter(action=action, object_type="org.person",
                                          object_id=str(person.pk)))


@pytest.fixture
def org(make_agency):
    return make_agency("lushan-2019")


@pytest.fixture
def past():
    return timezone.now().replace(microsecond=0) - 10 * DAY


def test_every_subcommand_has_help():
    command = Command()
    with translation.override("en"):
        parser = command.create_parser("witness", "person")
        assert parser.description == command.help and command.help
        sub = next(a for a in parser._actions if a.dest == "subcommand")
        assert set(sub.choices) == {"list", "show", "add", "move", "role-add", "role-end"}
        for name, child in sub.choices.items():
            assert child.description == str(command.subcommands[name]) and child.description
            assert all(a.help for a in child._actions), name


def test_list_filters_by_unit_role_and_inactive(org):
    gone = org.people["legal"]
    gone.active = False
    gone.save()
    everyone = run("list")
    assert {p["badge_number"] for p in everyone} == {
        p.badge_number for p in org.people.values() if p.active}
    officer = next(p for p in everyone if p["badge_number"] == org.people["officer"].badge_number)
    assert (officer["unit"], officer["roles"]) == (org.field.code, ["officer"])
    assert [p["name"] for p in run("list", "--role", "执法人员")] == [org.people["officer"].name]
    assert [p["name"] for p in run("list", "--role", "custodian")] == \
        [org.people["custodian"].name]
    field = {p["name"] for p in run("list", "--unit", org.field.name)}
    assert field == {org.people["officer"].name, org.people["unit_head"].name}
    with_inactive = run("list", "--inactive")
    assert [p["active"] for p in with_inactive if p["name"] == gone.name] == [False]
    assert "enforcement officer" in text("list")


def test_list_with_an_unknown_role_or_unit_is_a_bilingual_error(org):
    assert refused("list", "--role", "厨师").code == "unknown_role"
    assert refused("list", "--unit", "nowhere").code == "unknown_unit"
    assert refused("list", "--role", "officer,custodian").code == "one_role"


def test_add_with_roles_in_chinese_and_a_date(org, past):
    """DEV-3: the unit and roles are dated from --effective-from."""
    data = run("add", "--name", "王五", "--unit", org.field2.code, "--badge", "41049999",
               "--phone", "13800000000", "--role", "执法人员、保管人", "--role", "unit_head",
               "--effective-from", iso(past))
    assert (data["name"], data["badge_number"], data["unit"]) == ("王五", "41049999",
                                                                   org.field2.code)
    assert data["roles"] == ["custodian", "officer", "unit_head"]
    person = Person.objects.get(badge_number="41049999")
    assert [(h.unit, h.effective_from) for h in PersonUnitHistory.objects.filter(
        person=person)] == [(org.field2, past)]
    assert {(r.role, r.effective_from) for r in person.roles.all()} == {
        (role, past) for role in ("custodian", "officer", "unit_head")}
    assert services.roles_at(person, past - DAY) == set()
    [entry] = audited("person.create", person)
    assert entry.actor_label.startswith("cli")
    assert "Added 赵六 to 执法一科." in text("add", "--name", "赵六", "--unit", org.field.name)


def test_add_two_administrator_roles_is_refused_and_adds_nobody(org):
    """三员分立: one person cannot be two of the three administrators."""
    error = refused("add", "--name", "王五", "--unit", org.office.code, "--role", "sysadmin",
                    "--role", "安全管理员")
    assert error.code == "admin_separation"
    assert "三员分立" in error.zh and "three different accounts" in error.en
    assert not Person.objects.filter(name="王五").exists()


def test_add_a_taken_badge_is_refused(org):
    error = refused("add", "--name", "王五", "--unit", org.field.code, "--badge",
                    org.people["officer"].badge_number)
    assert error.code == "duplicate_badge"


def test_move_is_dated_and_the_old_unit_still_answers_for_the_past(org, past):
    """DEV-3: the unit at the time of an issue is the unit then, not the current one."""
    officer = org.people["officer"]
    data = run("move", officer.badge_number, "--unit", org.field2.name,
               "--effective-from", iso(past))
    assert (data["from"], data["to"], data["current_unit"]) == (org.field.code,
                                                                org.field2.code,
                                                                org.field2.code)
    assert data["effective_from"] == timezone.localtime(past).isoformat()
    officer.refresh_from_db()
    assert officer.unit == org.field2
    assert services.unit_at(officer, past - DAY) == org.field
    assert services.unit_at(officer, past + DAY) == org.field2
    [entry] = audited("person.move", officer)
    assert entry.details["to"] == org.field2.name and entry.actor_label.startswith("cli")
    # A move that changes nothing is refused rather than recorded.
    again = refused("move", officer.name, "--unit", org.field2.code, "--effective-from",
                    iso(past + DAY))
    assert again.code == "same_unit"
    with pytest.raises(CommandError, match="--effective-from"):   # it is required
        call_command("person", "move", officer.name, "--unit", org.field.code,
                     stdout=StringIO())
    assert refused("move", officer.name, "--unit", org.field.code, "--effective-from",
                   "next week").code == "bad_datetime"
    assert len(audited("person.move", officer)) == 1


def test_a_future_move_leaves_the_current_unit(org):
    officer = org.people["officer"]
    later = timezone.now().replace(microsecond=0) + 5 * DAY
    data = run("move", officer.name, "--unit", org.field2.code, "--effective-from", iso(later))
    assert data["current_unit"] == org.field.code
    assert services.unit_at(officer, later + DAY) == org.field2


def test_show_lists_dated_units_and_roles(org, past):
    officer = org.people["officer"]
    services.move_person(officer, org.field2, past, actor="system:test")
    services.end_role(officer.roles.get(role="officer"), past)
    services.assign_role(officer, Role.CUSTODIAN, unit=org.field2, effective_from=past)
    data = run("show", officer.badge_number)
    assert data["person"]["unit"] == org.field2.code
    assert data["person"]["roles"] == ["custodian"]
    assert [h["unit"] for h in data["units"]] == [org.field.code, org.field2.code]
    assert data["units"][1]["effective_from"] == timezone.localtime(past).isoformat()
    roles = {r["role"]: r for r in data["roles"]}
    assert roles["officer"]["effective_to"] == timezone.localtime(past).isoformat()
    assert not roles["officer"]["current"]
    assert roles["custodian"]["current"] and roles["custodian"]["unit"] == org.field2.code
    shown = text("show", officer.name)
    assert "Unit history" in shown and "custodian" in shown and "执法二科" in shown
    assert refused("show", "nobody").code == "unknown_person"


def test_role_add_scoped_and_dated_then_already_held(org, past):
    officer = org.people["officer"]
    data = run("role-add", officer.badge_number, "保管人", "--unit", org.field.code,
               "--effective-from", iso(past))
    assert (data["role"], data["unit"], data["already_held"]) == ("custodian", org.field.code,
                                                                  False)
    assignment = RoleAssignment.objects.get(person=officer, role="custodian")
    assert (assignment.unit, assignment.effective_from) == (org.field, past)
    [entry] = audited("role.assign", officer)
    assert entry.details["role"] == "custodian" and entry.actor_label.startswith("cli")
    again = run("role-add", officer.badge_number, "custodian")
    assert again["already_held"] and again["id"] == assignment.pk
    assert len(audited("role.assign", officer)) == 1
    assert "already holds" in text("role-add", officer.name, "custodian")


def test_role_add_a_second_administrator_role_is_refused(org):
    """三员分立: the security administrator cannot also become the audit administrator."""
    secadmin = org.people["secadmin"]
    error = refused("role-add", secadmin.badge_number, "审计管理员")
    assert error.code == "admin_separation"
    assert not RoleAssignment.objects.filter(person=secadmin, role="auditadmin").exists()


@pytest.mark.django_db(transaction=True)
def test_refusal_from_the_command_line_exits_1_with_both_languages(make_agency, capsys):
    """As `witness person role-add … --json` in a shell: exit 1, Chinese and English on
    stderr, the error as JSON on stdout."""
    secadmin = make_agency("lushan-2019").people["secadmin"]
    command = load_command_class("witness.org", "person")
    with pytest.raises(SystemExit) as info:
        command.run_from_argv(["witness", "person", "role-add", secadmin.badge_number,
                               "sysadmin", "--json"])
    assert info.value.code == 1
    captured = capsys.readouterr()
    assert "三员分立" in captured.err and "three different accounts" in captured.err
    assert json.loads(captured.out)["error"]["code"] == "admin_separation"


def test_role_end_at_a_time_and_refusals(org, past):
    head = org.people["unit_head"]
    data = run("role-end", head.name, "部门负责人", "--at", iso(past))
    assert data["role"] == "unit_head"
    assert data["effective_to"] == timezone.localtime(past).isoformat()
    assert [a["effective_to"] for a in data["ended"]] == [data["effective_to"]]
    assert services.roles_at(head, past - DAY) == {"unit_head"}
    assert services.roles_at(head, past) == set()
    [entry] = audited("role.end", head)
    assert entry.actor_label.startswith("cli")
    assert refused("role-end", head.name, "unit_head").code == "role_not_held"
    long_ago = timezone.now() - 1000 * DAY
    assert refused("role-end", head.name, "unit_head", "--at", iso(long_ago)).code == \
        "role_not_held"
    officer = org.people["officer"]
    assert "no longer holds" in text("role-end", officer.badge_number, "officer")
    assert services.roles_at(officer) == set()
