"""Property tests of the people import's role parsing and of whole people files: any
spelling the agencies use parses the same way, and no text makes a parser fail with
anything but the import's own error type (DEV-1)."""

import csv

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from witness.core.tabular import CellError, ImportFailed
from witness.org import importing
from witness.org.models import Role

# The vocabulary of the task, written out here rather than read from the module.
ROLE_NAMES = {
    "执法人员": "officer", "保管人": "custodian", "设备管理员": "custodian",
    "部门负责人": "unit_head", "局领导": "leader", "法规股": "legal",
    "系统管理员": "sysadmin", "安全管理员": "secadmin", "审计管理员": "auditadmin",
    **{code: code for code in Role.values},
}
SEPARATORS = ["、", "，", ",", ";", "；", " ", "\u3000", " 、 ", ", "]


@given(st.lists(st.sampled_from(sorted(ROLE_NAMES)), min_size=1, max_size=8), st.data())
def test_any_order_and_separator_of_role_names_gives_the_same_roles(names, data):
    expected = {ROLE_NAMES[n] for n in names}
    shuffled = data.draw(st.permutations(names))
    seps = data.draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(names),
                              max_size=len(names)))
    text = "".join(name + sep for name, sep in zip(shuffled, seps, strict=True))
    if data.draw(st.booleans()):
        text = text.upper()  # codes in capitals still parse; Chinese is unchanged
    assert importing.parse_roles(text) == expected
    assert importing.parse_roles(" ".join(names)) == expected


@given(st.text())
def test_role_parsing_of_any_text_returns_roles_or_a_cell_error(text):
    try:
        roles = importing.parse_roles(text)
    except CellError as exc:
        assert exc.code == "unknown_role"
    else:
        assert roles <= set(Role)


def test_unknown_role_names_the_token():
    with pytest.raises(CellError) as info:
        importing.parse_roles("执法人员、国王")
    assert "国王" in info.value.en and "执法人员" in info.value.en


@given(st.sets(st.sampled_from(sorted(Role.values)), max_size=8))
def test_admin_separation_allows_at_most_one_admin_role(roles):
    admins = roles & {"sysadmin", "secadmin", "auditadmin"}
    if len(admins) > 1:
        with pytest.raises(CellError) as info:
            importing.check_admin_separation(roles)
        assert info.value.code == "admin_separation"
    else:
        importing.check_admin_separation(roles)


def column(*valid: str):
    return st.one_of(st.sampled_from(valid), st.text(max_size=12))


ROW = st.tuples(
    column("王五", "赵六"), column("41049001", ""), column("执法一科", "办公室"),
    column("执法人员、保管人", "系统管理员", "系统管理员 审计管理员"), column("13800000000", ""),
    column("wangwu", ""), column("是", "否", ""),
)


@pytest.fixture
def org(make_agency):
    return make_agency("lushan-2019")


@pytest.mark.django_db
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, min_size=1, max_size=3))
def test_any_rows_are_accepted_or_rejected_by_row_never_crash(org, tmp_path, rows):
    """Whatever the cells hold, checking the file either accepts every row or reports
    rows by their number."""
    path = tmp_path / "p.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["姓名", "执法证号", "单位", "角色", "电话", "用户名", "在职"],
                                  *rows])
    try:
        checked = importing.check_people(path)
    except ImportFailed as exc:
        assert exc.errors
        assert all(e.row is None or 2 <= e.row <= len(rows) + 1 for e in exc.errors)
    else:
        assert len(checked.rows) <= len(rows)
