"""Importing people from CSV/XLSX (DEV-1): every row is checked first, a bad
row rejects the whole file and is named as Excel numbers it (header = row 1), good files
are saved in one transaction through the audited services."""


import pytest
from django.contrib.auth import get_user_model

from witness.audit.models import AuditEntry
from witness.core.tabular import ImportFailed
from witness.devices.models import Device
from witness.org import importing
from witness.org.models import Person, PersonUnitHistory
from witness.org.services import create_person, roles_at
from witness.testing.tables import write_csv, write_xlsx

PEOPLE_HEADER = ["姓名", "执法证号", "单位", "角色", "电话", "用户名", "在职"]




WRITERS = {
    "csv-utf8": lambda tmp, rows: write_csv(tmp / "people.csv", rows),
    "csv-utf8-bom": lambda tmp, rows: write_csv(tmp / "people.csv", rows, "utf-8-sig"),
    "csv-gb18030": lambda tmp, rows: write_csv(tmp / "people.csv", rows, "gb18030"),
    "xlsx": lambda tmp, rows: write_xlsx(tmp / "people.xlsx", rows),
    # Excel's "Unicode text" (UTF-16, tabs) and semicolon CSV of some locales
    "txt-utf16-tabs": lambda tmp, rows: write_csv(tmp / "people.csv", rows, "utf-16", "\t"),
    "csv-semicolon": lambda tmp, rows: write_csv(tmp / "people.csv", rows, "utf-8", ";"),
}


@pytest.fixture
def org(make_agency):
    return make_agency("lushan-2019")


def good_people(org):
    return [
        PEOPLE_HEADER,
        ["王五", "41049001", "执法一科", "执法人员、保管人", "13800000001", "wangwu", "是"],
        ["赵六", "41049002", org.field2.code, "执法人员,部门负责人", "", "", ""],
        ["钱七", "", "办公室", "系统管理员", "", "qianqi", ""],
        ["孙八", "41049003", "办公室", "legal", "", "", "否"],
    ]


def rejected(call) -> list[tuple]:
    with pytest.raises(ImportFailed) as info:
        call()
    return [(e.row, e.column, e.value, e.error.code) for e in info.value.errors]


def counts():
    return (Person.objects.count(), PersonUnitHistory.objects.count(),
            get_user_model().objects.count(), Device.objects.count(), AuditEntry.objects.count())


@pytest.mark.parametrize("writer", WRITERS)
def test_good_people_file_imports_everyone_with_roles_and_unit_history(org, tmp_path, writer):
    path = WRITERS[writer](tmp_path, good_people(org))
    checked = importing.check_people(path)
    assert [r.number for r in checked.rows] == [2, 3, 4, 5]
    accounts = importing.save_people(checked, actor="system:test")
    assert accounts == ["wangwu", "qianqi"]
    wang = Person.objects.get(badge_number="41049001")
    assert (wang.name, wang.unit, wang.phone, wang.active) == ("王五", org.field, "13800000001",
                                                               True)
    assert roles_at(wang) == {"officer", "custodian"}
    assert [h.unit for h in wang.unit_history.all()] == [org.field]
    assert not wang.user.has_usable_password()
    zhao = Person.objects.get(badge_number="41049002")
    assert (zhao.unit, roles_at(zhao), zhao.user) == (org.field2, {"officer", "unit_head"}, None)
    qian = Person.objects.get(name="钱七", agency=org.agency)
    assert (qian.badge_number, qian.user.username, roles_at(qian)) == \
        (None, "qianqi", {"sysadmin"})
    sun = Person.objects.get(badge_number="41049003")
    assert not sun.active and roles_at(sun) == {"legal"}


def test_import_writes_audit_entries_for_every_row(org, tmp_path):
    path = write_csv(tmp_path / "p.csv", good_people(org))
    importing.save_people(importing.check_people(path), actor="system:test")
    people = Person.objects.filter(badge_number__in=["41049001", "41049002", "41049003"])
    for person in people:
        actions = set(AuditEntry.objects.filter(object_type="org.person", object_id=str(person.pk))
                      .values_list("action", flat=True))
        assert actions == {"person.create", "role.assign"}
    assert AuditEntry.objects.filter(action="user.create").count() == 2
    [summary] = AuditEntry.objects.filter(action="import.people")
    assert summary.details == {"file": "p.csv", "rows": 4}
    assert summary.object_type == "import.file" and len(summary.object_id) == 64
    assert set(AuditEntry.objects.filter(action__in=["person.create", "import.people"])
               .values_list("actor_label", flat=True)) == {"system:test"}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_bad_row_imports_nothing_and_is_named(org, tmp_path, writer):
    rows = good_people(org)
    rows.insert(3, ["周九", "41049004", "不存在的科", "执法人员", "", "", ""])
    path = WRITERS[writer](tmp_path, rows)
    before = counts()
    assert rejected(lambda: importing.check_people(path)) == \
        [(4, "单位", "不存在的科", "unknown_unit")]
    assert counts() == before


def test_every_bad_row_is_listed_with_column_and_value(org, tmp_path):
    create_person(org.agency, "已有", org.field, badge_number="41040000")
    get_user_model().objects.create_user("taken")
    rows = [
        PEOPLE_HEADER,
        ["王五", "41049001", "执法一科", "执法人员", "", "", ""],                   # 2 good
        ["", "41049002", "执法一科", "执法人员", "", "", ""],                       # 3 no name
        ["赵六", "41049001", "执法一科", "执法人员", "", "", ""],                   # 4 dup badge
        ["钱七", "41049005", "执法一科", "执法人员、国王", "", "", ""],             # 5 role
        ["孙八", "41049006", "办公室", "系统管理员、审计管理员", "", "", ""],       # 6 三员分立
        ["李九", "41040000", "执法一科", "执法人员", "", "", ""],                   # 7 in DB
        ["周十", "41049007", "执法一科", "执法人员", "", "taken", ""],              # 8 user
        ["吴一", "41049008", "执法一科", "执法人员", "", "bad name!", "也许"],      # 9 two
        ["郑二", "41049009", "执法一科", "", "", "", ""],                           # 10 no roles
        ["冯三", "x" * 51, "执法一科", "执法人员", "", "", ""],                     # 11 long
    ]
    path = write_csv(tmp_path / "p.csv", rows)
    before = counts()
    errors = rejected(lambda: importing.check_people(path))
    assert errors == [
        (3, "姓名", "", "required"),
        (4, "执法证号", "41049001", "duplicate_badge"),
        (5, "角色", "执法人员、国王", "unknown_role"),
        (6, "角色", "系统管理员、审计管理员", "admin_separation"),
        (7, "执法证号", "41040000", "duplicate_badge"),
        (8, "用户名", "taken", "duplicate_username"),
        (9, "用户名", "bad name!", "bad_username"),
        (9, "在职", "也许", "bad_bool"),
        (10, "角色", "", "required"),
        (11, "执法证号", "x" * 51, "too_long"),
    ]
    assert counts() == before


def test_error_report_is_bilingual_and_names_the_first_occurrence(org, tmp_path):
    rows = [PEOPLE_HEADER, ["王五", "41049001", "执法一科", "执法人员", "", "", ""],
            ["赵六", "41049001", "执法一科", "执法人员", "", "", ""]]
    with pytest.raises(ImportFailed) as info:
        importing.check_people(write_csv(tmp_path / "p.csv", rows))
    assert info.value.code == "import_failed"
    assert "p.csv" in info.value.en and "1" in info.value.en
    [error] = info.value.as_dict()["errors"]
    assert error["row"] == 3 and error["column"] == "执法证号" and error["value"] == "41049001"
    assert "row 2" in error["en"] and error["zh"]
    assert info.value.as_dict()["ok"] is False and info.value.as_dict()["imported"] == 0


def test_admin_separation_in_one_row_is_also_refused_by_assign_role(org, tmp_path):
    """三员分立: if a row with two administrator roles got past the check, assign_role
    refuses it and the whole file is rolled back."""
    rows = [PEOPLE_HEADER, ["王五", "41049001", "执法一科", "执法人员", "", "u1", ""],
            ["孙八", "41049006", "办公室", "系统管理员", "", "", ""]]
    checked = importing.check_people(write_csv(tmp_path / "p.csv", rows))
    checked.rows[1].values["roles"] = frozenset({"sysadmin", "auditadmin"})
    before = counts()
    assert rejected(lambda: importing.save_people(checked)) == \
        [(3, "角色", "系统管理员", "admin_separation")]
    assert counts() == before


def test_conflict_found_while_saving_rolls_back_every_row(org, tmp_path):
    """Someone registers a badge of the file between the check and the save."""
    rows = good_people(org)
    checked = importing.check_people(write_csv(tmp_path / "p.csv", rows))
    create_person(org.agency, "抢先", org.field, badge_number="41049003")
    before = counts()
    assert rejected(lambda: importing.save_people(checked)) == \
        [(5, "执法证号", "41049003", "duplicate_badge")]
    assert counts() == before


def test_english_header_extra_columns_and_blank_rows(org, tmp_path):
    rows = [
        [],
        ["Name", "Badge number", "Unit", "Roles", "备注"],
        ["王五", "41049001", "执法一科", "officer custodian", "备注文字"],
        [],
        ["赵六", "41049002", "执法一科", "officer;unit_head", ""],
        ["", "", "", "", ""],
        ["钱七", "41049003", "没有", "officer", ""],
    ]
    path = write_csv(tmp_path / "p.csv", rows)
    assert rejected(lambda: importing.check_people(path)) == [(7, "Unit", "没有", "unknown_unit")]
    rows.pop()
    checked = importing.check_people(write_csv(tmp_path / "p.csv", rows))
    assert checked.header.ignored == ["备注"]
    assert [r.number for r in checked.rows] == [3, 5]


def test_missing_and_duplicate_columns(org, tmp_path):
    path = write_csv(tmp_path / "p.csv", [["姓名", "name", "电话"], ["王五", "王五", ""]])
    assert rejected(lambda: importing.check_people(path)) == [
        (1, "name", "name", "duplicate_column"),
        (1, "单位", "", "missing_column"),
        (1, "角色", "", "missing_column"),
    ]


def test_xlsx_numbers_become_text(org, tmp_path):
    rows = [PEOPLE_HEADER, ["王五", 41049001, "执法一科", "执法人员", 13800000001.0, None, True]]
    importing.save_people(importing.check_people(write_xlsx(tmp_path / "p.xlsx", rows)))
    person = Person.objects.get(badge_number="41049001")
    assert (person.phone, person.active) == ("13800000001", True)


@pytest.mark.parametrize(("name", "content", "code"), [
    ("p.xls", b"\xd0\xcf\x11\xe0", "bad_file_type"),
    ("p.xlsx", b"not a zip", "bad_xlsx"),
    ("p.csv", b"", "empty_file"),
    ("p.csv", "姓名,单位,角色\n".encode() + b"\x81\x20\xff\n", "bad_encoding"),
])
def test_unreadable_files_are_reported(org, tmp_path, name, content, code):
    path = tmp_path / name
    path.write_bytes(content)
    assert rejected(lambda: importing.check_people(path)) == [(None, "", "", code)]


def test_missing_file(org, tmp_path):
    assert rejected(lambda: importing.check_people(tmp_path / "nope.csv")) == \
        [(None, "", "", "file_not_found")]


def test_control_characters_are_refused(org, tmp_path):
    """A NUL cannot be stored (PostgreSQL refuses it); found by the property test."""
    rows = [PEOPLE_HEADER, ["王五", "41049001", "执法\x00一科", "执法人员", "", "", ""]]
    path = write_csv(tmp_path / "p.csv", rows)
    assert rejected(lambda: importing.check_people(path)) == \
        [(2, "单位", "执法\\x00一科", "control_character")]
