"""Playback copies, posters and waveforms made from stored originals (issue 3 item 6)."""

import hashlib
import io
import json
import struct
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.derivatives import services
from witness.derivatives.models import Derivative, Kind, Status
from witness.ingest.probe import moov_before_mdat
from witness.storage.models import Blob
from witness.testing.media import ffmpeg_available, make_video, make_wav, truncate

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg is not installed")]

SIZE = "160x120"


def streams(path) -> list[str]:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
                           "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout.split()


def by_kind(rows) -> dict[str, Derivative]:
    return {row.kind: row for row in rows}


def sha256_file(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def make_ogg(path):
    """Opus in Ogg: sound a browser is not assumed to play (like AMR)."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000", "-t", "1", "-c:a", "libopus",
                    "-f", "ogg", str(path)], check=True, timeout=60, capture_output=True)
    return path


def test_hevc_gets_an_h264_faststart_copy_and_the_original_is_untouched_ING4(
        tmp_path, backend, recording_of):
    rec = recording_of(make_video(tmp_path / "hevc.mp4", 1, codec="hevc", size=SIZE))
    assert not rec.browser_playable and rec.video_codec == "hevc"
    original = backend.path(rec.blob.key)
    mode = original.stat().st_mode

    rows = by_kind(services.make_for_recording(rec.pk))

    assert {k: r.status for k, r in rows.items()} == {
        Kind.PLAYBACK: Status.DONE, Kind.POSTER: Status.DONE, Kind.WAVEFORM: Status.DONE}
    copy = backend.path(rows[Kind.PLAYBACK].blob.key)
    assert streams(copy) == ["h264", "aac"] and moov_before_mdat(copy)
    assert sha256_file(copy) == rows[Kind.PLAYBACK].blob.sha256
    tool = rows[Kind.PLAYBACK].tool
    assert tool.startswith("ffmpeg version ") and "-nostdin" in tool
    assert "-c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p -c:a aac" in tool
    assert "-movflags +faststart" in tool and "file:INPUT" in tool and str(tmp_path) not in tool
    poster = backend.path(rows[Kind.POSTER].blob.key)
    assert poster.read_bytes()[:2] == b"\xff\xd8"
    assert "-ss 0.500" in rows[Kind.POSTER].tool  # the middle of a 1 s clip
    assert png_size(backend.path(rows[Kind.WAVEFORM].blob.key)) == (1200, 200)

    # the original: same bytes, still read-only, still the recording's blob
    assert sha256_file(original) == rec.blob.sha256
    assert original.stat().st_mode == mode
    rec.refresh_from_db()
    assert rec.blob.sha256 == sha256_file(original)
    # recorded as derived from it, with the audit trail, and no working folder left
    entries = AuditEntry.objects.filter(action="derivative.make")
    assert entries.count() == 3
    assert {e.details["source_sha256"] for e in entries} == {rec.blob.sha256}
    assert list((tmp_path / "home" / "tmp").iterdir()) == []


def test_playable_h264_needs_no_copy_but_gets_a_poster(tmp_path, recording_of):
    rec = recording_of(make_video(tmp_path / "h264.mp4", 1, size=SIZE))
    assert rec.browser_playable
    rows = by_kind(services.make_for_recording(rec.pk))
    playback = rows[Kind.PLAYBACK]
    assert playback.status == Status.NOT_NEEDED and playback.blob is None
    assert "plays in a browser" in playback.reason
    assert rows[Kind.POSTER].status == Status.DONE
    assert rows[Kind.WAVEFORM].status == Status.DONE


def test_avi_gets_a_playback_copy(tmp_path, backend, recording_of):
    rec = recording_of(make_video(tmp_path / "clip.avi", 1, container="avi", size=SIZE))
    row = by_kind(services.make_for_recording(rec.pk))[Kind.PLAYBACK]
    assert row.status == Status.DONE
    copy = backend.path(row.blob.key)
    assert streams(copy) == ["h264", "aac"] and moov_before_mdat(copy)


def test_wav_gets_a_waveform_only(tmp_path, backend, recording_of):
    rec = recording_of(make_wav(tmp_path / "tone.wav", 1))
    assert rec.kind == "audio" and rec.browser_playable
    rows = by_kind(services.make_for_recording(rec.pk))
    assert rows[Kind.PLAYBACK].status == Status.NOT_NEEDED
    assert rows[Kind.POSTER].status == Status.NOT_NEEDED
    assert "no picture" in rows[Kind.POSTER].reason
    assert rows[Kind.WAVEFORM].status == Status.DONE
    assert png_size(backend.path(rows[Kind.WAVEFORM].blob.key)) == (1200, 200)


def test_audio_a_browser_cannot_play_gets_an_aac_copy(tmp_path, backend, recording_of):
    rec = recording_of(make_ogg(tmp_path / "voice.ogg"))
    assert rec.kind == "audio" and not rec.browser_playable
    row = by_kind(services.make_for_recording(rec.pk))[Kind.PLAYBACK]
    assert row.status == Status.DONE
    copy = backend.path(row.blob.key)
    assert streams(copy) == ["aac"] and moov_before_mdat(copy)


def test_unreadable_video_needs_nothing(tmp_path, recording_of):
    path = truncate(make_video(tmp_path / "cut.mp4", 1, size=SIZE, faststart=False), 0.5)
    rec = recording_of(path)
    assert not rec.readable
    blobs = Blob.objects.count()
    rows = services.make_for_recording(rec.pk)
    assert [r.status for r in rows] == [Status.NOT_NEEDED] * 3
    assert all("not readable" in r.reason for r in rows)
    assert Blob.objects.count() == blobs
    assert AuditEntry.objects.filter(action="derivative.skip").count() == 3


def test_running_twice_makes_nothing_new(tmp_path, recording_of):
    rec = recording_of(make_video(tmp_path / "hevc.mp4", 1, codec="hevc", size=SIZE))
    first = services.make_for_recording(rec.pk)
    blobs, entries = Blob.objects.count(), AuditEntry.objects.count()
    second = services.make_for_recording(rec.pk)
    assert [(r.pk, r.blob_id, r.status, r.attempts) for r in second] == [
        (r.pk, r.blob_id, r.status, 1) for r in first]
    assert Derivative.objects.filter(recording=rec).count() == 3
    assert (Blob.objects.count(), AuditEntry.objects.count()) == (blobs, entries)


def test_missing_ffmpeg_fails_and_a_rerun_succeeds(tmp_path, monkeypatch, recording_of):
    rec = recording_of(make_wav(tmp_path / "tone.wav", 1))
    monkeypatch.setattr(services, "FFMPEG", "ffmpeg-not-installed-here")
    row = by_kind(services.make_for_recording(rec.pk))[Kind.WAVEFORM]
    assert row.status == Status.FAILED and row.blob is None
    assert "ffmpeg is not installed" in row.error
    assert AuditEntry.objects.filter(action="derivative.make", outcome="failure").count() == 1
    assert list((tmp_path / "home" / "tmp").iterdir()) == []

    monkeypatch.undo()
    row = by_kind(services.make_for_recording(rec.pk))[Kind.WAVEFORM]
    assert (row.status, row.error, row.attempts) == (Status.DONE, "", 2)
    assert row.blob is not None


def test_an_ffmpeg_error_is_recorded(tmp_path, monkeypatch, recording_of):
    rec = recording_of(make_wav(tmp_path / "tone.wav", 1))
    monkeypatch.setattr(services, "WAVEFORM_SIZE", "0x0")
    row = by_kind(services.make_for_recording(rec.pk))[Kind.WAVEFORM]
    assert row.status == Status.FAILED and "ffmpeg failed (exit status" in row.error


def test_a_worker_that_died_is_taken_over_but_a_running_one_is_not(tmp_path, recording_of):
    rec = recording_of(make_wav(tmp_path / "tone.wav", 1))
    rows = services.ensure_rows(rec)
    waveform = next(r for r in rows if r.kind == Kind.WAVEFORM)
    Derivative.objects.filter(pk=waveform.pk).update(status=Status.RUNNING,
                                                     started_at=timezone.now())
    assert by_kind(services.make_for_recording(rec.pk))[Kind.WAVEFORM].status == Status.RUNNING
    Derivative.objects.filter(pk=waveform.pk).update(
        started_at=timezone.now() - timedelta(days=1))
    assert by_kind(services.make_for_recording(rec.pk))[Kind.WAVEFORM].status == Status.DONE


def test_an_original_elsewhere_is_streamed_and_checked_ING4(tmp_path, backend, recording_of):
    rec = recording_of(make_wav(tmp_path / "tone.wav", 1))
    data = backend.path(rec.blob.key).read_bytes()

    class Remote:  # an S3-like backend: no local path, only reads in chunks
        def __init__(self, payload):
            self.payload = payload

        def read(self, key, chunk_size=1000):
            for at in range(0, len(self.payload), 1000):
                yield self.payload[at:at + 1000]

    folder = tmp_path / "work"
    folder.mkdir()
    copy = services.original_file(Remote(data), rec.blob, folder)
    assert copy.read_bytes() == data and copy.parent == folder
    copy.unlink()
    with pytest.raises(WitnessError) as err:
        services.original_file(Remote(data[:-1] + b"\x00"), rec.blob, folder)
    assert err.value.code == "original_mismatch"


def test_leftovers_of_a_dead_process_are_removed(tmp_path, settings):
    base = tmp_path / "tmp"
    base.mkdir()
    from witness.storage.backends.base import staging_token

    host, _pid, rest = staging_token().split("~")
    dead = base / f"{services.WORK_PREFIX}{host}~999999999~{rest}"
    mine = base / f"{services.WORK_PREFIX}{staging_token()}"
    dead.mkdir()
    mine.mkdir()
    assert services.clean_leftovers(base) == 1
    assert not dead.exists() and mine.exists()


def test_enqueue_runs_the_job(settings, tmp_path, recording_of):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    rec = recording_of(make_wav(tmp_path / "tone.wav", 1))
    services.enqueue_for_recording(rec.pk)
    assert by_kind(rec.derivatives.all())[Kind.WAVEFORM].status == Status.DONE


def test_enqueue_creates_pending_rows_and_a_queued_task(tmp_path, recording_of):
    from django_tasks_db.models import DBTaskResult

    rec = recording_of(make_wav(tmp_path / "tone.wav", 1))
    services.enqueue_for_recording(rec.pk)
    assert [r.status for r in rec.derivatives.all()] == [Status.PENDING] * 3
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "witness.derivatives.tasks.make_derivatives"
    assert queued.args_kwargs["args"] == [rec.pk]


def test_the_command(tmp_path, recording_of):
    rec = recording_of(make_wav(tmp_path / "tone.wav", 1))

    def run(*args):
        out = io.StringIO()
        call_command("derivatives", *[str(a) for a in args], stdout=out)
        return out.getvalue()

    idle = json.loads(run("--json"))
    assert idle == {"derivatives": [], "counts": {"playback": {}, "poster": {}, "waveform": {}}}
    made = json.loads(run("--pending", "--json"))
    assert [(d["recording"], d["kind"], d["status"]) for d in made["derivatives"]] == [
        (rec.pk, "playback", "not_needed"), (rec.pk, "poster", "not_needed"),
        (rec.pk, "waveform", "done")]
    assert made["counts"]["waveform"] == {"done": 1}
    assert json.loads(run("--pending", "--json"))["derivatives"] == []  # nothing left
    text = run("--recording", rec.pk)
    assert "SHA-256" in text and str(rec.pk) in text


def test_the_command_help():
    from witness.derivatives.management.commands.derivatives import Command

    text = Command().create_parser("witness", "derivatives").format_help()
    assert "--recording" in text and "--pending" in text and "--json" in text
