"""Recordings of tiny generated media, stored in a local blob store under tmp_path."""

import os

import pytest

from witness.ingest.probe import probe
from witness.recordings.models import Attribution, Recording, TimeSource
from witness.storage.config import get_backend
from witness.storage.pipeline import store_file


@pytest.fixture
def backend(settings, tmp_path):
    """The configured backend: a LocalBackend under tmp_path; WITNESS_HOME (whose tmp/ holds
    the working folders) under tmp_path too."""
    home = tmp_path / "home"
    home.mkdir()
    settings.WITNESS_HOME = home
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    return get_backend()


@pytest.fixture
def recording_of(db, backend):
    """``recording_of(path)``: store the file and make its Recording from ffprobe's facts,
    as ingest does."""

    def make(path) -> Recording:
        stored = store_file(path, backend)
        facts = probe(path)
        return Recording.objects.create(
            blob=stored.blob, kind=facts.kind or "video", source_path=path.name,
            source_path_bytes=os.fsencode(path.name),
            time_source=TimeSource.FILE_TIME, attribution=Attribution.QUEUED,
            readable=facts.readable, unreadable_reason=str(facts.reason or ""),
            container=facts.container or "", video_codec=facts.video_codec or "",
            audio_codec=facts.audio_codec or "", width=facts.width, height=facts.height,
            duration=facts.duration, browser_playable=facts.browser_playable,
            faststart=facts.faststart)

    return make

