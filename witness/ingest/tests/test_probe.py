"""ffprobe-based media facts, on real files made by Debian's ffmpeg in tmp_path."""

from __future__ import annotations

import os
import shutil
import struct
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import translation

from witness.core.errors import NotFound, WitnessError
from witness.ingest.probe import moov_before_mdat, parse_iso6709, probe, read_exif
from witness.testing import media

if not media.ffmpeg_available():
    if os.environ.get("CI") == "true":
        pytest.fail("ffmpeg/ffprobe missing on CI: run scripts/install-system.sh",
                    pytrace=False)
    pytest.skip("ffmpeg is not installed (Debian package ffmpeg; scripts/install-system.sh)",
                allow_module_level=True)


def test_h264_mp4_faststart_is_browser_playable(tmp_path):
    facts = probe(media.make_video(tmp_path / "a.mp4", 1, faststart=True))
    assert facts.readable and facts.reason is None
    assert facts.kind == "video"
    assert facts.video_codec == "h264" and facts.audio_codec == "aac"
    assert (facts.width, facts.height) == (320, 240)
    assert facts.duration == Decimal("1")
    assert "mp4" in facts.container
    assert facts.faststart is True
    assert facts.browser_playable is True


def test_h264_mp4_with_index_at_the_end_is_not_playable(tmp_path):
    path = media.make_video(tmp_path / "a.mp4", 1, faststart=False)
    facts = probe(path)
    assert facts.readable and facts.video_codec == "h264"
    assert facts.faststart is False and moov_before_mdat(path) is False
    assert facts.browser_playable is False


def test_hevc_is_not_playable(tmp_path):
    facts = probe(media.make_video(tmp_path / "a.mp4", 1, codec="hevc"))
    assert facts.readable and facts.video_codec == "hevc"
    assert facts.faststart is True
    assert facts.browser_playable is False


def test_avi_is_not_playable(tmp_path):
    facts = probe(media.make_video(tmp_path / "a.avi", 1, container="avi"))
    assert facts.readable and facts.kind == "video" and facts.container == "avi"
    assert facts.faststart is None
    assert facts.browser_playable is False


def test_mov_with_tags_reads_back_time_encoder_and_location(tmp_path):
    when = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    path = media.make_video(tmp_path / "a.mov", 1, container="mov", creation_time=when,
                            encoder="BodyCam DSJ-1 v2.3", gps=(34.1234, 112.5678))
    facts = probe(path)
    assert facts.creation_time == when and facts.creation_time.tzinfo is not None
    assert facts.encoder == "BodyCam DSJ-1 v2.3"
    assert facts.gps.latitude == pytest.approx(34.1234)
    assert facts.gps.longitude == pytest.approx(112.5678)
    assert facts.browser_playable is True


def test_untagged_video_has_no_creation_time_or_location(tmp_path):
    facts = probe(media.make_video(tmp_path / "a.mp4", 1, with_audio=False))
    assert facts.creation_time is None and facts.gps is None
    assert facts.audio_codec is None and facts.browser_playable is True


def test_wav_is_playable_audio(tmp_path):
    facts = probe(media.make_wav(tmp_path / "a.wav", 2))
    assert facts.readable and facts.kind == "audio"
    assert facts.video_codec is None and facts.audio_codec == "pcm_s16le"
    assert facts.duration == Decimal("2")
    assert facts.browser_playable is True


def test_jpeg_photo_with_exif_time_and_gps(tmp_path):
    shot = datetime(2026, 11, 20, 9, 30, 5)
    path = media.make_photo(tmp_path / "a.jpg", exif_datetime=shot, gps=(34.5, -112.25))
    facts = probe(path)
    assert facts.readable and facts.kind == "photo"
    assert facts.video_codec == "mjpeg" and facts.duration is None
    assert facts.camera_time == shot and facts.camera_time.tzinfo is None
    assert facts.creation_time is None  # no offset recorded: the camera clock is not UTC
    assert facts.gps.latitude == pytest.approx(34.5)
    assert facts.gps.longitude == pytest.approx(-112.25)
    assert facts.browser_playable is True


def test_jpeg_without_exif(tmp_path):
    facts = probe(media.make_photo(tmp_path / "a.jpg"))
    assert facts.kind == "photo" and facts.camera_time is None and facts.gps is None


def test_truncated_file_is_unreadable_with_a_reason(tmp_path):
    path = media.truncate(media.make_video(tmp_path / "a.mp4", 2, faststart=False), 0.5)
    facts = probe(path)
    assert facts.readable is False
    with translation.override("en"):
        assert "ffprobe could not read the file" in str(facts.reason)
    with translation.override("zh-hans"):
        assert "无法读取" in str(facts.reason)
    assert facts.browser_playable is False
    assert facts.as_dict()["reason"] == str(facts.reason)


def test_zero_byte_file_is_unreadable(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    facts = probe(path)
    assert facts.readable is False
    with translation.override("en"):
        assert "empty" in str(facts.reason)


def test_garbage_is_unreadable_not_an_exception(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(os.urandom(4096))
    facts = probe(path)
    assert facts.readable is False and facts.reason


def test_chinese_file_name(tmp_path):
    path = media.make_video(tmp_path / "执法记录仪_张三_现场检查.mp4", 1)
    facts = probe(path)
    assert facts.readable and facts.browser_playable


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        probe(tmp_path / "nope.mp4")


def test_missing_ffprobe_names_the_debian_package(tmp_path, monkeypatch):
    path = media.make_wav(tmp_path / "a.wav", 1)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(WitnessError) as raised:
        probe(path)
    assert raised.value.code == "ffprobe_missing"
    assert "ffmpeg" in raised.value.en


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_speech_is_audio(tmp_path):
    facts = probe(media.espeak_wav(tmp_path / "speech.wav", "ni3 hao3, zhe4 shi4 zhi2 fa3"))
    assert facts.kind == "audio" and facts.browser_playable
    assert facts.duration > Decimal("0.5")


@pytest.mark.parametrize(("text", "expected"), [
    ("+34.1234+112.5678/", (34.1234, 112.5678)),
    ("-33.8568+151.2153+012.345/", (-33.8568, 151.2153)),
    ("+3407.5+11234.5/", (34 + 7.5 / 60, 112 + 34.5 / 60)),
    ("+340730-1123430/", (34 + 7 / 60 + 30 / 3600, -(112 + 34 / 60 + 30 / 3600))),
])
def test_iso6709_locations(text, expected):
    gps = parse_iso6709(text)
    assert (gps.latitude, gps.longitude) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "nowhere", "+95.0+10.0/", "+1.0+10.0/"])
def test_iso6709_rejects_nonsense(text):
    assert parse_iso6709(text) is None


# --- regressions: damaged media never raise, odd names, playlists --------------------------

ASCII, SHORT, LONG, RATIONAL = 2, 3, 4, 5
STAMP = b"2026:11:20 09:30:05\x00"
SHOT = datetime(2026, 11, 20, 9, 30, 5)
GPS = [(1, ASCII, 2, b"N\x00"), (2, RATIONAL, 3, media._rationals(34.5)),
       (3, ASCII, 2, b"E\x00"), (4, RATIONAL, 3, media._rationals(112.25))]


def _tiff(ifd0=(), exif=(), gps=()) -> bytes:
    """Big-endian TIFF: IFD0 at 8, the Exif IFD at 1024 and the GPS IFD at 2048 when given."""
    entries = list(ifd0)
    if exif:
        entries.append((0x8769, LONG, 1, struct.pack(">I", 1024)))
    if gps:
        entries.append((0x8825, LONG, 1, struct.pack(">I", 2048)))
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + media._ifd(entries, 8)
    tiff = tiff.ljust(1024, b"\x00") + (media._ifd(list(exif), 1024) if exif else b"")
    return tiff.ljust(2048, b"\x00") + (media._ifd(list(gps), 2048) if gps else b"")


def _photo_with_exif(path, tiff: bytes):
    path = media.make_photo(path)
    data = path.read_bytes()
    app1 = b"Exif\x00\x00" + tiff
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    return path


def test_exif_offset_gives_utc_creation_time(tmp_path):
    path = _photo_with_exif(tmp_path / "a.jpg", _tiff(exif=[
        (0x9003, ASCII, 20, STAMP), (0x9011, ASCII, 7, b"+08:00\x00")]))
    facts = probe(path)
    assert facts.camera_time == SHOT
    assert facts.creation_time == datetime(2026, 11, 20, 1, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(("tiff", "camera_time", "has_gps"), [
    pytest.param(b"XX\x00\x2a\x00\x00\x00\x08", None, False, id="unknown-byte-order"),
    pytest.param(_tiff(ifd0=[(0x8769, ASCII, 4, b"abc\x00")], gps=GPS), None, True,
                 id="exif-pointer-as-ascii"),
    pytest.param(_tiff(exif=[(0x9003, SHORT, 1, b"\x00\x07")], gps=GPS), None, True,
                 id="datetime-original-as-short"),
    pytest.param(_tiff(ifd0=[(0x0132, SHORT, 2, b"\x00\x07\x00\x08")]), None, False,
                 id="datetime-as-short"),
    pytest.param(_tiff(exif=[(0x9003, ASCII, 20, STAMP), (0x9011, SHORT, 1, b"\x00\x08")]),
                 SHOT, False, id="offset-as-short"),
    pytest.param(_tiff(exif=[(0x9003, ASCII, 20, STAMP), (0x9011, ASCII, 7, b"+99:00\x00")]),
                 SHOT, False, id="offset-beyond-a-day"),
    pytest.param(_tiff(exif=[(0x9003, ASCII, 20, STAMP)],
                       gps=[(1, SHORT, 1, b"\x00\x01"), *GPS[1:]]), SHOT, False,
                 id="gps-ref-as-short"),
    pytest.param(_tiff(gps=[*GPS[:1], (2, ASCII, 4, b"abc\x00"), *GPS[2:]]), None, False,
                 id="gps-latitude-as-ascii"),
    pytest.param(_tiff(gps=[*GPS[:1], (2, SHORT, 2, b"\x00\x01\x00\x02"), *GPS[2:]]), None,
                 False, id="gps-latitude-two-values"),
])
def test_bad_exif_gives_no_facts_never_an_exception(tmp_path, tiff, camera_time, has_gps):
    """Damaged media are evidence too (ING-3): bad EXIF is no EXIF, the rest stays readable."""
    path = _photo_with_exif(tmp_path / "a.jpg", tiff)
    facts = probe(path)
    assert facts.readable and facts.kind == "photo"
    assert facts.camera_time == camera_time and facts.creation_time is None
    assert (facts.gps is not None) is has_gps
    if has_gps:
        assert (facts.gps.latitude, facts.gps.longitude) == pytest.approx((34.5, 112.25))


def test_exif_time_before_year_one_utc_keeps_the_camera_clock(tmp_path):
    path = _photo_with_exif(tmp_path / "a.jpg", _tiff(exif=[
        (0x9003, ASCII, 20, b"0001:01:01 00:00:00\x00"), (0x9011, ASCII, 7, b"+01:00\x00")]))
    assert read_exif(path) == {"camera_time": datetime(1, 1, 1)}


def test_container_time_out_of_range_is_no_time(tmp_path):
    """0001-01-01T00:00:00+01:00 lies before datetime.min in UTC: no creation time."""
    path = tmp_path / "a.flac"
    media.ffmpeg("-f", "lavfi", "-i", "sine", "-t", "1",
                  "-metadata", "creation_time=0001-01-01T00:00:00+01:00", str(path))
    facts = probe(path)
    assert facts.readable and facts.kind == "audio" and facts.creation_time is None


@pytest.mark.parametrize("name", ["a:b.jpg", "-y.jpg"])
def test_relative_names_with_colon_or_dash_are_files(tmp_path, monkeypatch, name):
    """Scan hands over relative paths: ':' is no protocol and '-' no option to ffprobe."""
    media.make_photo(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    facts = probe(name)
    assert facts.readable and facts.kind == "photo", facts.reason


@pytest.mark.parametrize("playlist", [
    "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nother.mp4\n#EXT-X-ENDLIST\n",
    "ffconcat version 1.0\nfile other.mp4\n",
])
def test_playlist_disguised_as_mp4_is_not_media(tmp_path, playlist):
    media.make_video(tmp_path / "other.mp4", 1)
    path = tmp_path / "a.mp4"
    path.write_text(playlist)
    facts = probe(path)
    assert facts.readable is False
    with translation.override("en"):
        assert "playlist" in str(facts.reason)


def test_atom_with_64_bit_size_cut_after_its_header(tmp_path):
    """A copy cut right after an atom header announcing a 64-bit size is not fast-start."""
    path = tmp_path / "a.mp4"
    path.write_bytes(struct.pack(">I4s", 16, b"ftyp") + b"isom\x00\x00\x02\x00"
                     + struct.pack(">I4s", 1, b"mdat") + b"\x00\x00")
    assert moov_before_mdat(path) is False
    path.write_bytes(struct.pack(">I4s", 1, b"free") + struct.pack(">Q", 16)
                     + struct.pack(">I4s", 8, b"moov"))
    assert moov_before_mdat(path) is True
