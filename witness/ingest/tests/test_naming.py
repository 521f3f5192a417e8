"""Device file-name patterns (issue 3 item 3): start, end, sequence number (holes visible,
ACT-5), important-file mark, serial and badge (DEV-3 attribution)."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from witness.core.errors import WitnessError
from witness.ingest.naming import (
    DEFAULT,
    PATTERNS,
    NameFacts,
    NamePattern,
    format_name,
    parse_name,
    patterns_named,
)


def test_generic_body_camera_name():
    facts = parse_name("DSJ-V9-0001_41042319001_20261120093005_0012.MP4")
    assert facts == NameFacts(pattern="serial-badge-time-seq",
                              start=datetime(2026, 11, 20, 9, 30, 5), end=None, seq=12,
                              serial="DSJ-V9-0001", badge="41042319001", important=False)
    assert facts.start.tzinfo is None  # device-local; made aware later with the drift (DEV-4)


@pytest.mark.parametrize("name", [
    "DSJ-V9-0001_41042319001_20261120093005_0012_IMP.MP4",
    "DSJ-V9-0001_41042319001_20261120093005_0012_imp.mp4",
    "!DSJ-V9-0001_41042319001_20261120093005_0012.MP4",
    "IMP_DSJ-V9-0001_41042319001_20261120093005_0012.MP4",
])
def test_important_mark_kept(name):
    facts = parse_name(name)
    assert facts.important is True
    assert (facts.serial, facts.badge, facts.seq) == ("DSJ-V9-0001", "41042319001", 12)


def test_variants():
    both = parse_name("DSJ-V9-0001_20261120093005_20261120094005_0013.MP4")
    assert (both.pattern, both.serial, both.badge) == ("serial-start-end-seq", "DSJ-V9-0001", "")
    assert (both.start, both.end) == (datetime(2026, 11, 20, 9, 30, 5),
                                      datetime(2026, 11, 20, 9, 40, 5))
    plain = parse_name("20261120_093005_0007.WAV")
    assert (plain.pattern, plain.start, plain.seq, plain.serial) == (
        "date-time-seq", datetime(2026, 11, 20, 9, 30, 5), 7, "")
    split = parse_name("DSJ_41042319001_20261120_093005_0001.MP4")
    assert (split.pattern, split.badge, split.start) == (
        "serial-badge-date-time-seq", "41042319001", datetime(2026, 11, 20, 9, 30, 5))


def test_a_path_or_bytes_is_read_by_its_last_part():
    path = Path("/media/cam/DCIM/100MEDIA/DSJ_123_20261120093005_0001.MP4")
    assert parse_name(path).seq == 1
    assert parse_name(b"/media/cam/DSJ_123_20261120093005_0001.MP4").badge == "123"
    assert parse_name(b"/media/cam/\xb2\xe2\xca\xd4_20261120093005_0001.MP4") is None


@pytest.mark.parametrize("name", [
    "DSJ_123_20261320093005_0001.MP4",  # month 13
    "DSJ_123_20260230093005_0001.MP4",  # 30 February
    "DSJ_123_20261120246005_0001.MP4",  # hour 24
    "DSJ_123_20261120093060_0001.MP4",  # second 60
    "DSJ_123_00001120093005_0001.MP4",  # year 0
    "DSJ_20261120094005_20261120093005_0001.MP4",  # ends before it starts
    "DSJ_20261120093005_20261320094005_0001.MP4",  # impossible end
    "DSJ_123_２０２６１１２００９３００５_0001.MP4",  # full-width digits
    "DSJ_123_20261120093005.MP4",  # no sequence number
    "holiday.jpg", "", ".", "/",
])
def test_impossible_or_foreign_names_give_none(name):
    assert parse_name(name) is None


def test_patterns_selected_by_name_for_a_device_model():
    only = patterns_named(["serial-start-end-seq"])
    assert parse_name("DSJ_123_20261120093005_0001.MP4", only) is None
    assert parse_name("DSJ_20261120093005_20261120094005_0001.MP4", only).end is not None
    with pytest.raises(WitnessError) as err:
        patterns_named(["serial-badge-time-seq", "nope"])
    assert err.value.code == "unknown_name_pattern"
    assert set(PATTERNS) == {p.name for p in DEFAULT}
    for pattern in DEFAULT:  # the examples shipped with each pattern parse with it
        assert parse_name(pattern.example, [pattern]).pattern == pattern.name


def test_configured_pattern():
    custom = NamePattern.compile("recorder", r"REC(?P<seq>[0-9]{3})_(?P<start>[0-9]{14})\.amr")
    facts = parse_name("REC042_20261120093005.AMR", [custom])
    assert (facts.pattern, facts.seq, facts.serial, facts.important) == ("recorder", 42, "", False)
    for bad in (r"(?P<start>[0-9]{14}", r"(?P<seq>[0-9]+)", r"(?P<start>.*)(?P<officer>.*)"):
        with pytest.raises(WitnessError) as err:
            NamePattern.compile("bad", bad)
        assert err.value.code == "invalid_name_pattern"


serials = st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,15}", fullmatch=True)
badges = st.from_regex(r"[A-Z0-9]{1,12}", fullmatch=True)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)
                     ).map(lambda t: t.replace(microsecond=0))
seqs = st.integers(min_value=0, max_value=99_999_999)
marks = st.sampled_from(["", "!", "IMP_", "_IMP"])
exts = st.sampled_from([".MP4", ".mp4", ".MOV", ".wav", ".JPG", ""])


def _marked(body, mark, ext):
    if mark == "_IMP":
        return f"{body}_IMP{ext}"
    return f"{mark}{body}{ext}"


@given(serials, badges, times, seqs, marks, exts)
def test_generated_generic_names_round_trip(serial, badge, start, seq, mark, ext):
    name = _marked(f"{serial}_{badge}_{start:%Y%m%d%H%M%S}_{seq:04d}", mark, ext)
    assert parse_name(name) == NameFacts("serial-badge-time-seq", start, None, seq, serial,
                                         badge, bool(mark))


@given(serials, badges, times, seqs, st.booleans())
def test_format_name_is_what_parse_name_reads(serial, badge, start, seq, important):
    """The writer the demo and the test volumes use names files as cameras do (ACT-5:
    sequence numbers and the important mark survive)."""
    name = format_name(serial, badge, start, seq, important=important)
    assert parse_name(name) == NameFacts("serial-badge-time-seq", start, None, seq, serial,
                                         badge, important)


@given(serials, times, st.integers(min_value=0, max_value=86_400 * 2), seqs, marks, exts)
def test_generated_start_end_names_round_trip(serial, start, seconds, seq, mark, ext):
    end = start + timedelta(seconds=seconds)
    name = _marked(f"{serial}_{start:%Y%m%d%H%M%S}_{end:%Y%m%d%H%M%S}_{seq:04d}", mark, ext)
    assert parse_name(name) == NameFacts("serial-start-end-seq", start, end, seq, serial, "",
                                         bool(mark))


@given(times, seqs, marks, exts)
def test_generated_date_time_names_round_trip(start, seq, mark, ext):
    name = _marked(f"{start:%Y%m%d_%H%M%S}_{seq:04d}", mark, ext)
    assert parse_name(name) == NameFacts("date-time-seq", start, None, seq, "", "", bool(mark))


@given(st.one_of(st.text(), st.binary(), st.from_regex(r"[A-Z0-9_!.-]{0,60}", fullmatch=True),
                 st.from_regex(r"[A-Z]{3}_[0-9]{1,12}_[0-9]{14}_[0-9]{4}\.MP4", fullmatch=True)))
def test_arbitrary_text_never_raises(name):
    facts = parse_name(name)
    assert facts is None or isinstance(facts.start, datetime)
