"""`witness demo` makes the week's footage with ffmpeg and ingests it through the pipeline."""

import json
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Max, Min
from django.utils import timezone

from witness.activities.models import Activity
from witness.audit.models import AuditEntry
from witness.demo import data, recordings
from witness.recordings.models import Attribution, IngestRun, Recording, RunStatus
from witness.storage.models import Blob


@pytest.fixture
def home(settings, tmp_path):
    """Blobs under a private WITNESS_HOME (the configured backend follows the setting)."""
    if recordings.missing_tools():
        pytest.fail(f"missing {recordings.missing_tools()}; `make install` installs them")
    settings.WITNESS_HOME = tmp_path / "home"
    settings.WITNESS_HOME.mkdir()
    return settings.WITNESS_HOME


def demo(*args: str) -> dict:
    out = StringIO()
    call_command("demo", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_demo_week_has_recordings_ingested_through_the_pipeline_ING1(db, home):
    first = demo()["recordings"]
    assert first["state"] == "created"
    assert first["files"]["failed"] == 0
    recs = Recording.objects.all()
    total = recs.count()
    assert total >= 30
    assert first["files"]["stored"] == total
    # attributed to the activities through the ledger, like a docked camera's files
    attributed = recs.filter(attribution=Attribution.ATTRIBUTED)
    assert attributed.count() >= 0.9 * total
    assert recs.filter(kind="video", video_codec="hevc").exists()
    assert recs.filter(kind="video", video_codec="h264", audio_codec="aac").exists()
    assert recs.filter(kind="photo", time_source="exif").count() >= 2
    assert recs.filter(kind="audio", audio_codec__startswith="pcm").count() == 1
    # the real pipeline: blobs in the configured store, audit entries by system:demo, the
    # volumes wiped and the temporary folders gone
    assert Blob.objects.count() == total
    assert any((home / "blobs").rglob("*"))
    assert AuditEntry.objects.filter(actor_label="system:demo",
                                     action="recording.ingest").count() == total
    runs = IngestRun.objects.all()
    assert {r.status for r in runs} == {RunStatus.DONE}
    assert not any(Path(r.volume).exists() for r in runs)

    gaps = (Activity.objects.filter(recordings__gap_before_seconds__gt=30).distinct())
    assert gaps.count() == 2
    for activity in Activity.objects.filter(recordings__isnull=False).distinct():
        segs = activity.recordings.exclude(kind="photo")
        span = segs.aggregate(first=Min("started_at"), last=Max("ended_at"))
        # coverage from arrival to departure: the names and real durations say so
        assert span["first"] <= activity.arrived_at
        assert span["last"] >= activity.departed_at
        assert segs.filter(segment_index=1).count() == 1
        if activity not in gaps:
            assert not segs.filter(gap_before_seconds__gt=0).exists()
    # handed over on time (ING-2: 24 h after departure) but for one late activity
    late = [a for a in Activity.objects.filter(recordings__isnull=False).distinct()
            if a.recordings.aggregate(t=Max("ingested_at"))["t"] - a.departed_at
            > timedelta(hours=24)]
    assert len(late) == 1
    assert late[0].recordings.first().ingest_run == runs.order_by("-id").first()


def test_running_the_demo_twice_adds_no_recording(db, home):
    demo()
    counts = (Recording.objects.count(), IngestRun.objects.count(), Blob.objects.count())
    again = demo()
    assert again["created"] is False
    assert again["recordings"]["state"] == "already present"
    assert (Recording.objects.count(), IngestRun.objects.count(),
            Blob.objects.count()) == counts


def test_no_recordings_option_and_missing_tools(db, home, monkeypatch):
    result = demo("--no-recordings")
    assert result["recordings"]["state"] == "skipped"
    assert not Recording.objects.exists()
    monkeypatch.setattr(recordings.shutil, "which", lambda tool: None)
    result = demo()
    assert result["recordings"]["state"] == "skipped"
    assert "ffmpeg" in result["recordings"]["reason"]
    assert not Recording.objects.exists()


@pytest.mark.parametrize("moment", [
    datetime(2026, 11, 16, 0, 30),   # Monday just after midnight: nothing today yet
    datetime(2026, 11, 22, 23, 30),  # Sunday night: today's camera is still out
])
def test_the_plan_is_the_same_at_any_hour(db, moment):
    """Variety is chosen from the data: one H.265 camera, two gaps, one late, stills."""
    now = timezone.make_aware(moment)
    plans = recordings.plan(data.build(now=now).agency, now)
    assert len(plans) == 9  # every activity whose camera is back in the ledger
    assert sum(p.codec == "hevc" for p in plans) == 1
    assert sum(p.gap for p in plans) == 2
    late = [p for p in plans if p.late]
    assert len(late) == 1
    assert now - late[0].activity.departed_at >= recordings.LATE_AFTER
    assert late[0].docked_at is None
    assert sum(len(p.photos) for p in plans) == 3
    assert sum(p.wav is not None for p in plans) == 1
    for p in plans:
        assert p.pieces[0].start == p.activity.arrived_at - recordings.LEAD
        assert all(piece.seconds <= recordings.SEGMENT_SECONDS for piece in p.pieces)
        assert [piece.speech for piece in p.pieces] == [True] + [False] * (len(p.pieces) - 1)
        if not p.late:
            assert p.activity.departed_at < p.docked_at <= now
