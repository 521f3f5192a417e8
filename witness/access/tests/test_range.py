"""The Range / If-Range logic of the streaming endpoint (issue 5 item 2; RFC 9110 §13.1.5,
§14), checked against Python's own slicing as the oracle."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils.http import http_date
from hypothesis import given
from hypothesis import strategies as st

from witness.access.stream import (
    MAX_RANGE_FIELD,
    ByteRange,
    Unsatisfiable,
    attachment,
    content_type,
    etag_of,
    if_range_matches,
    parse_range,
    plan,
)

SHA = "ab" * 32
STORED = datetime(2026, 3, 1, 8, 30, 15, 250000, tzinfo=UTC)


def sliced(size: int, header: str):
    """What the bytes of a range are, by slicing: the oracle."""
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    got = parse_range(header, size)
    assert got is not None
    assert 0 <= got.start <= got.end < size
    return data[got.start:got.end + 1], data


@given(size=st.integers(1, 10**13), first=st.integers(0, 10**13),
       last=st.one_of(st.none(), st.integers(0, 2 * 10**13)))
def test_int_range_is_the_slice_or_unsatisfiable(size, first, last):
    header = f"bytes={first}-{'' if last is None else last}"
    if last is not None and last < first:
        assert parse_range(header, size) is None  # invalid syntax: ignored
        return
    if first >= size:
        with pytest.raises(Unsatisfiable):
            parse_range(header, size)
        return
    got = parse_range(header, size)
    end = size - 1 if last is None else min(last, size - 1)
    assert got == ByteRange(first, end)
    assert got.length == end - first + 1
    assert got.content_range(size) == f"bytes {first}-{end}/{size}"


@given(size=st.integers(1, 5000), first=st.integers(0, 6000),
       last=st.one_of(st.none(), st.integers(0, 6000)))
def test_int_range_bytes_equal_python_slicing(size, first, last):
    if first >= size or (last is not None and last < first):
        return
    header = f"bytes={first}-{'' if last is None else last}"
    part, data = sliced(size, header)
    assert part == (data[first:] if last is None else data[first:last + 1])


@given(size=st.integers(1, 5000), n=st.integers(1, 10**12))
def test_suffix_range_is_the_last_n_bytes(size, n):
    part, data = sliced(size, f"bytes=-{n}")
    assert part == data[-n:] if n <= size else part == data


@given(st.text(max_size=60))
def test_any_text_gives_a_range_within_the_file_none_or_416(text):
    size = 1000
    try:
        got = parse_range(text, size)
    except Unsatisfiable:
        return
    assert got is None or 0 <= got.start <= got.end < size


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)), min_size=2, max_size=5))
def test_several_ranges_are_answered_with_the_whole_file(pairs):
    header = "bytes=" + ", ".join(f"{min(a, b)}-{max(a, b)}" for a, b in pairs)
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize("header", [
    "bytes=5-1", "bytes=abc", "items=0-1", "bytes 0-1", "bytes=0-1x", "bytes=--1",
    "bytes=", "bytes=,", "bytes=\u0661-\u0662", "bytes=1_0-20", "bytes=+1-2", "bytes =0-1",
    "bytes=0 -1", "bytes=-", "bytes=-1-2", "=0-1", "bytes=0-1,5-1",
    "bytes=0-" + "9" * MAX_RANGE_FIELD,
])
def test_invalid_syntax_is_ignored(header):
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-0", ByteRange(0, 0)),  # the first byte
    ("bytes=0-", ByteRange(0, 999)),
    ("bytes=400-499", ByteRange(400, 499)),  # the middle
    ("bytes=999-", ByteRange(999, 999)),  # the last byte
    ("bytes=990-5000", ByteRange(990, 999)),  # past the end: to the end
    ("bytes=-10", ByteRange(990, 999)),  # suffix
    ("bytes=-5000", ByteRange(0, 999)),  # suffix longer than the file: all of it
    ("BYTES=1-2", ByteRange(1, 2)),  # the unit is case-insensitive
    ("bytes=1-2,", ByteRange(1, 2)),  # an empty list element is allowed
    (" bytes=1-2 ", ByteRange(1, 2)),
])
def test_single_ranges(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=5000-6000",
                                    "bytes=-0"])
def test_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


def test_no_field_and_empty_file():
    assert parse_range(None, 1000) is None
    assert parse_range("bytes=0-10", 0) is None  # an empty file is sent whole (200)


def headers(**fields):
    return {k.replace("_", "-"): v for k, v in fields.items()}


def test_plan_full_partial_and_416():
    full = plan(1000, SHA, STORED, {})
    assert (full.status, full.start, full.stop) == (200, 0, 1000)
    assert full.headers == {"Accept-Ranges": "bytes", "ETag": f'"{SHA}"',
                            "Last-Modified": http_date(STORED.timestamp()),
                            "Content-Length": "1000"}
    part = plan(1000, SHA, STORED, headers(Range="bytes=10-19"))
    assert (part.status, part.start, part.stop, part.length) == (206, 10, 20, 10)
    assert part.headers["Content-Range"] == "bytes 10-19/1000"
    assert part.headers["Content-Length"] == "10"
    bad = plan(1000, SHA, STORED, headers(Range="bytes=1000-"))
    assert bad.status == 416 and bad.headers["Content-Range"] == "bytes */1000"
    assert bad.length == 0
    ignored = plan(1000, SHA, STORED, headers(Range="bytes=9-1"))
    assert ignored.status == 200 and "Content-Range" not in ignored.headers


def test_if_range_with_the_strong_etag_or_the_date_keeps_the_range():
    for validator in (etag_of(SHA), http_date(STORED.timestamp())):
        got = plan(1000, SHA, STORED, headers(Range="bytes=5-9", If_Range=validator))
        assert (got.status, got.start, got.stop) == (206, 5, 10), validator


@pytest.mark.parametrize("validator", [
    '"' + "cd" * 32 + '"',  # another entity
    f'W/"{SHA}"',  # weak: never matches
    SHA,  # not quoted
    http_date((STORED - timedelta(seconds=1)).timestamp()),
    http_date((STORED + timedelta(seconds=1)).timestamp()),
    "yesterday",
])
def test_if_range_that_does_not_match_gives_the_whole_file(validator):
    got = plan(1000, SHA, STORED, headers(Range="bytes=5-9", If_Range=validator))
    assert (got.status, got.start, got.stop) == (200, 0, 1000)
    # and an unsatisfiable range under a stale validator is no 416 either (RFC 9110 §13.2.2)
    got = plan(1000, SHA, STORED, headers(Range="bytes=5000-", If_Range=validator))
    assert got.status == 200


def test_if_range_date_is_compared_to_the_second():
    assert if_range_matches(http_date(STORED.timestamp()), etag_of(SHA), STORED)
    assert if_range_matches(f"  {etag_of(SHA)} ", etag_of(SHA), STORED)


def test_content_types():
    assert content_type("FILE_0001.MP4") == "video/mp4"
    assert content_type("REC_0001.WAV") in ("audio/x-wav", "audio/wav")
    assert content_type("copy.m4a") == "audio/mp4"
    assert content_type("VOICE.MP4", kind="audio") == "audio/mp4"
    assert content_type("no-suffix", "avi") == "video/x-msvideo"
    assert content_type("no-suffix") == "application/octet-stream"


def test_attachment_names_the_file_in_utf8_with_an_ascii_fallback():
    assert attachment("FILE_0001.MP4") == (
        "attachment; filename=\"FILE_0001.MP4\"; filename*=utf-8''FILE_0001.MP4")
    got = attachment("执法记录 01.MP4")
    assert got == ("attachment; filename=\"_____01.MP4\"; "
                   "filename*=utf-8''%E6%89%A7%E6%B3%95%E8%AE%B0%E5%BD%95%2001.MP4")
    # nothing of a hostile name escapes the quoted string or the header line
    got = attachment('a"b\\c\r\nSet-Cookie: x=1;.mp4')
    assert "\r" not in got and "\n" not in got
    assert got.split(";")[1] == ' filename="a_b_c__Set-Cookie__x_1_.mp4"'


@given(st.text(max_size=80))
def test_attachment_is_always_one_safe_header_line(name):
    got = attachment(name)
    assert all(32 <= ord(c) < 127 for c in got)
    assert got.count('"') == 2
