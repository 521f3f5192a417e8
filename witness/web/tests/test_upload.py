"""Single files uploaded through the web page go through the ingest pipeline (issue 3 item 6;
ING-1, ING-4): stored, read back, attributed, each outcome shown; names kept exactly."""

import subprocess
import uuid
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from witness.ingest.uploads import upload_root
from witness.recordings.models import Attribution, IngestRun, Recording
from witness.storage.backends.base import host_name
from witness.storage.config import get_backend
from witness.testing import factories as f
from witness.testing.media import ffmpeg_available, make_photo, make_wav

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(site, tmp_path, settings):
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "uploads"  # this test's own
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")
    ns = site()
    ns.device = f.DeviceFactory(unit=ns.field, serial="DSJ-UP-1")
    ns.photo = make_photo(tmp_path / "现场照片.jpg", exif_datetime=datetime(2026, 11, 20, 9, 30))
    ns.wav = make_wav(tmp_path / "REC_0001.WAV", 1)
    ns.big = make_wav(tmp_path / "long.wav", 70)  # over 2.5 MB: Django's temporary file
    return ns


def upload(path, name=None):
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def test_upload_stores_verifies_and_attributes_each_file_ING1(desk, login):
    client = login(desk.people["custodian"])
    done = client.post(reverse("ingest_upload"), {
        "device": desk.device.pk,
        "files": [upload(desk.photo), upload(desk.wav), desk.big.open("rb")]})
    assert done.status_code == 302, done.content.decode()[-2000:]
    run = IngestRun.objects.get()
    assert done["Location"] == reverse("ingest_run", args=[run.pk])
    assert run.counts["stored"] == 3 and run.device == desk.device
    assert run.volume.startswith("网页上传") or run.volume.startswith("web upload")
    recordings = {r.source_path: r for r in Recording.objects.select_related("blob")}
    assert set(recordings) == {"现场照片.jpg", "REC_0001.WAV", "long.wav"}
    photo = recordings["现场照片.jpg"]
    assert photo.kind == "photo" and photo.time_source == "exif"
    assert photo.blob.size == desk.photo.stat().st_size
    assert b"".join(get_backend().read(photo.blob.key)) == desk.photo.read_bytes()
    assert list(upload_root().iterdir()) == []  # nothing left behind
    page = client.get(done["Location"])
    assert "现场照片.jpg" in page.content.decode()


def test_the_same_file_again_is_a_duplicate_and_changes_nothing_ING1(desk, login):
    client = login(desk.people["custodian"])
    for _ in range(2):
        client.post(reverse("ingest_upload"), {"device": desk.device.pk,
                                               "files": [upload(desk.wav)]})
    assert Recording.objects.count() == 1
    assert IngestRun.objects.order_by("id").last().counts["duplicate"] == 1


def test_without_a_device_the_files_go_to_the_assignment_queue(desk, login):
    client = login(desk.people["custodian"])
    client.post(reverse("ingest_upload"), {"files": [upload(desk.wav)]})
    rec = Recording.objects.get()
    assert rec.device is None and rec.backfill and rec.attribution == Attribution.QUEUED


def test_same_name_twice_and_folder_parts_are_kept_apart_not_overwritten(desk, login):
    client = login(desk.people["custodian"])
    client.post(reverse("ingest_upload"), {"device": desk.device.pk, "files": [
        upload(desk.wav, "..\\..\\a.wav"), upload(desk.big, "a.wav")]})
    paths = sorted(Recording.objects.values_list("source_path", flat=True))
    assert paths == ["2/a.wav", "a.wav"]


def test_a_file_that_is_not_media_is_refused_in_both_languages_and_nothing_stored(desk, login):
    client = login(desk.people["custodian"])
    answer = client.post(reverse("ingest_upload"), {
        "device": desk.device.pk,
        "files": [upload(desk.wav), SimpleUploadedFile("DEVICE.TXT", b"SERIAL=OTHER\n")]})
    assert answer.status_code == 422
    body = answer.content.decode()
    assert "不是视频、音频或照片文件" in body and "is not a video, audio or photo file" in body
    assert not Recording.objects.exists() and not IngestRun.objects.exists()
    assert client.post(reverse("ingest_upload"), {"device": desk.device.pk}).status_code == 400


def test_only_custodians_upload(desk, login):
    for role in ("officer", "auditadmin"):
        assert login(desk.people[role]).get(reverse("ingest_upload")).status_code == 403


def test_an_upload_without_a_time_of_its_own_waits_in_the_queue_DEV3(desk, login):
    """The file's modification time is the upload's: it must not attribute the recording
    to whoever holds the device now, nor hide a late hand-in (ING-2)."""
    client = login(desk.people["custodian"])
    client.post(reverse("ingest_upload"), {"device": desk.device.pk,
                                           "files": [upload(desk.wav)]})
    rec = Recording.objects.get()
    assert rec.time_source == "none" and rec.started_at is None
    assert rec.attribution == Attribution.QUEUED and rec.queue_reason == "no_time"


def test_historical_footage_goes_to_the_uploaders_agency(desk, site, login):
    other = site()
    client = login(other.people["custodian"])
    done = client.post(reverse("ingest_upload"), {"files": [upload(desk.wav)]})
    run = IngestRun.objects.get()
    assert run.agency == other.agency and done["Location"] == reverse("ingest_run",
                                                                       args=[run.pk])
    assert client.get(done["Location"]).status_code == 200


def test_leftovers_of_a_killed_upload_are_removed_by_the_next(desk, login):
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = upload_root() / f"{host_name()}~{dead.pid}~{uuid.uuid4()}"
    left.mkdir(parents=True)
    (left / "half.wav").write_bytes(b"RIFF")
    login(desk.people["custodian"]).post(reverse("ingest_upload"), {
        "device": desk.device.pk, "files": [upload(desk.wav)]})
    assert not left.exists() and list(upload_root().iterdir()) == []
