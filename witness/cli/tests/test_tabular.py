"""Property tests of the generic spreadsheet reading in witness.core.tabular (DEV-1): yes/no
cells, cell values as text and header rows in any order and spelling; no input makes a
parser fail with anything but the import's own error types."""

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from witness.core import tabular
from witness.devices.importing import DEVICE_COLUMNS
from witness.org.importing import PEOPLE_COLUMNS


@given(st.text())
def test_yes_no_parsing_never_fails_otherwise(text):
    try:
        assert tabular.parse_bool(text) in (True, False)
    except tabular.CellError as exc:
        assert exc.code == "bad_bool"


@pytest.mark.parametrize(("text", "expected"), [
    ("", True), ("是", True), ("在职", True), ("Y", True), ("TRUE", True), ("1", True),
    ("否", False), ("离职", False), ("no", False), ("false", False), ("0", False),
])
def test_yes_no_names(text, expected):
    assert tabular.parse_bool(text) is expected


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.text(),
                 st.floats(allow_nan=False, allow_infinity=False), st.datetimes()))
def test_cell_text_always_gives_text(value):
    text = tabular.cell_text(value)
    assert isinstance(text, str)
    if isinstance(value, float) and value.is_integer():
        assert text == str(int(value))


def test_cell_text_examples():
    assert tabular.cell_text(13800000001.0) == "13800000001"
    assert tabular.cell_text(None) == ""
    assert tabular.cell_text(" 王五 ") == "王五"
    assert tabular.cell_text(datetime(2026, 1, 2, 3, 4)) == "2026-01-02T03:04:00"


HEADER_SPELLINGS = {
    "name": ["姓名", "Name", "*姓名", "姓名（必填）"],
    "badge_number": ["执法证号", "badge_number", "Badge number", "执法证号(选填)"],
    "unit": ["单位", "unit", "Unit"],
    "roles": ["角色", "roles", "Roles"],
    "phone": ["电话", "phone", "联系电话"],
    "username": ["用户名", "username", "User name"],
    "active": ["在职", "active"],
}


@given(st.data())
def test_header_in_any_order_and_spelling_maps_every_column(data):
    fields = data.draw(st.permutations(sorted(HEADER_SPELLINGS)))
    extras = data.draw(st.lists(st.sampled_from(["备注", "序号", "Notes", ""]), max_size=3))
    cells = [data.draw(st.sampled_from(HEADER_SPELLINGS[f])) for f in fields] + extras
    header = tabular.parse_header(cells, PEOPLE_COLUMNS)
    assert header.index == {f: i for i, f in enumerate(fields)}
    assert header.ignored == [e for e in extras if e]
    assert header.labels["name"] == cells[fields.index("name")]


@given(st.lists(st.text(max_size=20), max_size=10))
def test_header_parsing_of_any_cells_returns_a_header_or_import_failed(cells):
    try:
        header = tabular.parse_header(cells, DEVICE_COLUMNS)
    except tabular.ImportFailed as exc:
        assert exc.errors and all(e.row == 1 for e in exc.errors)
        assert {e.error.code for e in exc.errors} <= {"missing_column", "duplicate_column"}
    else:
        assert {"kind", "serial", "model", "unit"} <= set(header.index)
