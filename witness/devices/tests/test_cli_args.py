"""witness.core.cli_args: the argument parsers `witness device` (and later commands) use."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from witness.core import cli_args
from witness.core.errors import WitnessError
from witness.devices.models import DeviceStatus
from witness.testing import factories as f

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_local_time_without_offset_is_shanghai_time():
    parsed = cli_args.parse_local_datetime("2026-11-20T09:30")
    assert parsed == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(hours=8)
    assert cli_args.parse_local_datetime(" 2026-11-20 09:30:15 ") == datetime(
        2026, 11, 20, 9, 30, 15, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-11-20T09:30Z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
    ("2026-11-20T09:30+00:00", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
    ("2026-11-20T09:30:00.250+0530", datetime(2026, 11, 20, 4, 0, 0, 250000, tzinfo=UTC)),
])
def test_an_explicit_offset_is_kept(text, utc):
    assert cli_args.parse_local_datetime(text) == utc


@pytest.mark.parametrize("text", [
    "", "2026-11-20", "20261120T0930", "2026-11-20T9:30", "2026-02-30T09:00",
    "2026-11-20T24:00", "2026-11-20T09:30+8", "1969-12-31T23:59", "2100-01-01T00:00",
    "２０２６-11-20T09:30", "yesterday 9:30",
])
def test_anything_else_is_a_bilingual_error(text):
    with pytest.raises(WitnessError) as caught:
        cli_args.parse_local_datetime(text)
    assert caught.value.code == "bad_datetime"
    assert "2026-11-20T09:30" in caught.value.en or "1970" in caught.value.en


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)),
       st.sampled_from(["T", " "]), st.sampled_from(["minutes", "seconds", "microseconds"]))
def test_local_times_round_trip(moment, sep, timespec):
    """Any local time written in ISO 8601 reads back as that Shanghai wall-clock time."""
    text = moment.isoformat(sep=sep, timespec=timespec)
    parsed = cli_args.parse_local_datetime(text)
    assert parsed.tzinfo is not None
    assert parsed.astimezone(SHANGHAI).replace(tzinfo=None) == datetime.fromisoformat(text)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30),
                    timezones=st.sampled_from([UTC, SHANGHAI,
                                               dt_timezone(timedelta(hours=-5))])))
def test_times_with_an_offset_are_the_same_instant(moment):
    # Compared in UTC: Python never calls a time in a DST gap (Shanghai 1986-1991) equal
    # to a time in another zone (PEP 495), though both name the same instant here.
    parsed = cli_args.parse_local_datetime(moment.isoformat())
    assert parsed.astimezone(UTC) == moment.astimezone(UTC)


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_fails_cleanly(text):
    try:
        parsed = cli_args.parse_local_datetime(text)
    except WitnessError as exc:
        assert exc.code == "bad_datetime"
    else:
        assert parsed.tzinfo is not None and 1970 <= parsed.year <= 2099


@given(st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2))
def test_amounts_in_yuan_round_trip(amount):
    assert cli_args.parse_yuan(str(amount)) == amount


@pytest.mark.parametrize("text", ["", "-5", "1e3", "12,5", "1.234", "NaN", "¥100", "12345678901"])
def test_bad_amounts(text):
    with pytest.raises(WitnessError) as caught:
        cli_args.parse_yuan(text)
    assert caught.value.code == "bad_amount"


def test_choices_by_code_or_english_label():
    assert cli_args.parse_choice("lost", DeviceStatus) == "lost"
    assert cli_args.parse_choice(" under repair ", DeviceStatus) == "under_repair"
    with pytest.raises(WitnessError) as caught:
        cli_args.parse_choice("broken", DeviceStatus)
    assert caught.value.code == "bad_choice" and "in_service" in caught.value.en


def test_resolve_person_by_badge_or_unique_name(make_agency):
    org = make_agency("lushan-2019")
    officer = org.people["officer"]
    assert cli_args.resolve_person(org.agency, officer.badge_number) == officer
    assert cli_args.resolve_person(org.agency, f" {officer.name} ") == officer
    twin = f.PersonFactory(unit=org.field2, name=officer.name)
    with pytest.raises(WitnessError) as caught:
        cli_args.resolve_person(org.agency, officer.name)
    error = caught.value
    assert error.code == "ambiguous_person"
    assert officer.badge_number in error.en and twin.badge_number in error.en
    assert org.field2.name in error.en
    with pytest.raises(WitnessError) as caught:
        cli_args.resolve_person(org.agency, "查无此人")
    assert caught.value.code == "unknown_person"
    with pytest.raises(WitnessError) as caught:
        cli_args.resolve_person(org.agency, "   ")
    assert caught.value.code == "person_required"


def test_people_of_another_agency_only_when_asked_for(make_agency):
    """A refusal must be recorded for an outsider (DEV-3), so `issue` asks for them;
    otherwise a badge of another agency is unknown here."""
    org, other = make_agency("lushan-2019"), make_agency("lushan-2019")
    stranger = f.PersonFactory(unit=other.field, name="外单位人员")
    with pytest.raises(WitnessError) as caught:
        cli_args.resolve_person(org.agency, stranger.badge_number)
    assert caught.value.code == "unknown_person" and other.agency.name in caught.value.en
    with pytest.raises(WitnessError):
        cli_args.resolve_person(org.agency, "外单位人员")
    assert cli_args.resolve_person(org.agency, stranger.badge_number,
                                   other_agencies=True) == stranger
    assert cli_args.resolve_person(org.agency, "外单位人员", other_agencies=True) == stranger
    # A name found in the own agency wins over the same name elsewhere.
    local = f.PersonFactory(unit=org.field, name="外单位人员")
    assert cli_args.resolve_person(org.agency, "外单位人员", other_agencies=True) == local


def test_resolve_unit_by_code_or_name(make_agency):
    org = make_agency("full-process-b")
    assert cli_args.resolve_unit(org.agency, org.field.code) == org.field
    assert cli_args.resolve_unit(org.agency, "办公室") == org.office
    with pytest.raises(WitnessError) as caught:
        cli_args.resolve_unit(org.agency, "财务科")
    assert caught.value.code == "unknown_unit" and org.office.code in caught.value.en
    other = make_agency("full-process-b")
    with pytest.raises(WitnessError):
        cli_args.resolve_unit(org.agency, other.field.code)
