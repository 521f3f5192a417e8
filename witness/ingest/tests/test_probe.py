"""ffprobe-based media facts, on real files made by Debian's ffmpeg in tmp_path."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import translation

from witness.core.errors import NotFound, WitnessError
from witness.ingest.probe import moov_before_mdat, parse_iso6709, probe
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
