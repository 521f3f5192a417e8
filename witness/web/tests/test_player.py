"""The player, the stream and downloads (issue 5 item 2; EVD-2, ING-3): range requests
byte-exact against the stored original, one audit entry per play start and per download,
the grant asked again on every request, no storage location in any answer, the
watermark."""

import hashlib
import os
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from witness.access.models import (
    AccessRequest,
    Grant,
    PlaySession,
    RequestItem,
    RequestKind,
    RequestStatus,
)
from witness.audit.models import AuditEntry, Outcome
from witness.derivatives import services as derivatives
from witness.derivatives.models import Kind, Status
from witness.ingest.probe import probe
from witness.storage.backends.base import content_key
from witness.storage.config import get_backend
from witness.storage.models import Blob
from witness.storage.pipeline import store_file
from witness.testing import factories as f
from witness.testing.media import ffmpeg_available, make_video
from witness.web.tests.conftest import PASSWORD

GIB = 1024 ** 3


# -- set-up shared with test_disclosure_link.py ------------------------------------------------


@pytest.fixture
def store(settings, tmp_path):
    """This test's own blob store."""
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    return get_backend()


def stored_recording(ns, path, *, holder=None, name=None, **fields):
    """A recording of ``path`` stored through the real pipeline, facts from ffprobe."""
    stored = store_file(path, get_backend(), actor="test")
    facts = probe(path)
    name = name or path.name
    device = f.DeviceFactory(unit=ns.field)
    values = {"kind": facts.kind or "video", "container": facts.container or "",
              "video_codec": facts.video_codec or "", "audio_codec": facts.audio_codec or "",
              "browser_playable": facts.browser_playable, "duration": facts.duration,
              "faststart": facts.faststart, **fields}
    return f.RecordingFactory(blob=stored.blob, device=device, holder=holder,
                              source_path=f"DCIM/100MEDIA/{name}",
                              source_path_bytes=f"DCIM/100MEDIA/{name}".encode(), **values)


def grant(ns, person, *recordings, download=False, hours=2, kind=RequestKind.VIEWING,
          starts=None, **request_fields):
    """An approved request (standing for the approval chain) and its grants."""
    now = timezone.now()
    starts = starts or now - timedelta(minutes=5)
    request = AccessRequest.objects.create(
        agency=ns.agency, kind=kind, requester=person or ns.people["officer"],
        reason="复核执法过程", wanted_from=starts, wanted_until=now + timedelta(hours=hours),
        may_download=download, status=RequestStatus.GRANTED, decided_at=now,
        **request_fields)
    grants = []
    for rec in recordings:
        RequestItem.objects.create(request=request, recording=rec)
        grants.append(Grant.objects.create(
            request=request, person=person, recording=rec, may_download=download,
            valid_from=starts, valid_until=now + timedelta(hours=hours)))
    return grants[0] if len(grants) == 1 else grants


def body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def entries(action, outcome=Outcome.SUCCESS, **filters):
    return list(AuditEntry.objects.filter(action=action, outcome=outcome, **filters)
                .order_by("id"))


def need_ffmpeg():
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")


@pytest.fixture
def world(site, store, tmp_path):
    """An agency, a playable recording made by the officer and its bytes, and a second
    recording of the same activity's unit (the neighbour)."""
    need_ffmpeg()
    ns = site()
    ns.clip = make_video(tmp_path / "FILE_0001.MP4", 1, size="160x120", title="one")
    ns.rec = stored_recording(ns, ns.clip, holder=ns.people["officer"])
    ns.data = ns.clip.read_bytes()
    other = make_video(tmp_path / "FILE_0002.MP4", 1, size="160x120", title="two")
    ns.neighbour = stored_recording(ns, other, holder=ns.people["officer"])
    ns.viewer = ns.people["unit_head"]
    return ns


def open_player(client, rec, status=200):
    response = client.get(reverse("recording_play", args=[rec.pk]))
    assert response.status_code == status, body(response)[-2000:]
    return response


def stream_url(client, rec) -> str:
    return open_player(client, rec).context["stream_url"]


# -- range requests, byte-exact -------------------------------------------------------------


def test_range_requests_are_byte_exact_against_the_stored_original(world, login):
    grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    url = stream_url(client, world.rec)
    data, size = world.data, len(world.data)
    assert world.rec.blob.size == size
    assert hashlib.sha256(data).hexdigest() == world.rec.blob.sha256

    whole = client.get(url)
    assert whole.status_code == 200 and body(whole) == data
    assert whole["Content-Length"] == str(size) and whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Type"] == "video/mp4"
    assert whole["ETag"] == f'"{world.rec.blob.sha256}"'
    assert "no-store" in whole["Cache-Control"]

    cases = {
        "bytes=0-0": (0, 0),  # the first byte
        "bytes=0-99": (0, 99),
        f"bytes={size // 2 - 50}-{size // 2 + 49}": (size // 2 - 50, size // 2 + 49),  # middle
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),  # the last byte
        f"bytes={size - 10}-": (size - 10, size - 1),  # open-ended: the last bytes
        "bytes=100-": (100, size - 1),
        "bytes=-1": (size - 1, size - 1),  # suffix ranges
        "bytes=-500": (size - 500, size - 1),
        f"bytes=-{size * 3}": (0, size - 1),
        f"bytes=10-{size * 3}": (10, size - 1),
    }
    for header, (start, end) in cases.items():
        response = client.get(url, HTTP_RANGE=header)
        assert response.status_code == 206, header
        assert response["Content-Range"] == f"bytes {start}-{end}/{size}", header
        assert response["Content-Length"] == str(end - start + 1), header
        assert body(response) == data[start:end + 1], header

    for header in (f"bytes={size}-", f"bytes={size + 100}-{size + 200}", "bytes=-0"):
        response = client.get(url, HTTP_RANGE=header)
        assert response.status_code == 416, header
        assert response["Content-Range"] == f"bytes */{size}"
        assert body(response) == b""

    # invalid syntax and several ranges: ignored, the whole file (documented choice)
    for header in ("bytes=9-1", "bytes=abc", "bytes=0-1,5-6", "lines=1-2"):
        response = client.get(url, HTTP_RANGE=header)
        assert response.status_code == 200 and body(response) == data, header


def test_if_range_matching_and_not(world, login):
    grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    url = stream_url(client, world.rec)
    blob, data = world.rec.blob, world.data
    etag = f'"{blob.sha256}"'
    date = http_date(blob.stored_at.timestamp())

    for validator in (etag, date):
        response = client.get(url, HTTP_RANGE="bytes=20-29", HTTP_IF_RANGE=validator)
        assert response.status_code == 206 and body(response) == data[20:30], validator
    assert client.get(url).headers["Last-Modified"] == date
    for validator in ('"' + "0" * 64 + '"', f"W/{etag}",
                      http_date(blob.stored_at.timestamp() - 60)):
        response = client.get(url, HTTP_RANGE="bytes=20-29", HTTP_IF_RANGE=validator)
        assert response.status_code == 200 and body(response) == data, validator


def test_head_gives_the_headers_without_bytes_and_starts_no_play(world, login):
    grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    url = stream_url(client, world.rec)
    response = client.head(url, HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206 and response.content == b""
    assert response["Content-Range"] == f"bytes 0-9/{len(world.data)}"
    assert response["Content-Length"] == "10"
    assert entries("recording.play") == []


# -- one entry per play start and per download -------------------------------------------------


def test_one_play_entry_per_play_start_not_per_range_request(world, login):
    g = grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    url = stream_url(client, world.rec)
    assert entries("recording.play") == []  # opening the page is not a play yet
    size = len(world.data)
    for i in range(40):  # a player seeking about
        start = (i * 997) % size
        response = client.get(url, HTTP_RANGE=f"bytes={start}-")
        assert response.status_code == 206 and body(response) == world.data[start:]
    played = entries("recording.play")
    assert len(played) == 1
    entry = played[0]
    assert entry.object_type == "recordings.recording" and entry.object_id == str(world.rec.pk)
    assert entry.actor_id == str(world.viewer.user.pk)
    assert entry.details["grant"] == g.pk and entry.details["copy"] == "original"
    session = PlaySession.objects.get(token=url.split("s=")[1])
    assert session.person == world.viewer and session.started_at < session.expires_at

    again = stream_url(client, world.rec)  # opening the player again is a new play start
    assert body(client.get(again, HTTP_RANGE="bytes=0-")) == world.data
    assert body(client.get(again, HTTP_RANGE="bytes=5-")) == world.data[5:]
    assert len(entries("recording.play")) == 2


def test_download_is_the_original_as_attachment_one_entry_resumes_write_none(
        world, login, tmp_path):
    name = "执法记录仪 2026-03-01 现场.MP4"
    rec = stored_recording(world, world.clip.rename(tmp_path / "renamed.mp4"),
                           holder=world.people["officer"], name=name)
    grant(world, world.viewer, rec, download=True)
    client = login(world.viewer)
    page = open_player(client, rec)
    assert reverse("recording_download", args=[rec.pk]) in page.content.decode()

    start = client.get(reverse("recording_download", args=[rec.pk]))
    assert start.status_code == 302
    url = start["Location"]
    assert url.startswith(reverse("recording_download", args=[rec.pk]) + "?s=")
    assert entries("recording.download") == []

    first = client.get(url)
    assert first.status_code == 200 and body(first) == world.data
    disposition = first["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=utf-8''{quote(name)}" in disposition
    assert 'filename="' in disposition  # and an ASCII fallback
    assert len(entries("recording.download")) == 1
    for offset in (100, 2000, len(world.data) - 1):  # resumed
        response = client.get(url, HTTP_RANGE=f"bytes={offset}-")
        assert response.status_code == 206 and body(response) == world.data[offset:]
    assert len(entries("recording.download")) == 1
    assert entries("recording.play") == []

    second = client.get(client.get(reverse("recording_download", args=[rec.pk]))["Location"])
    assert body(second) == world.data
    assert len(entries("recording.download")) == 2


def test_a_grant_without_download_plays_but_does_not_download(world, login):
    grant(world, world.viewer, world.rec, download=False)
    client = login(world.viewer)
    page = open_player(client, world.rec)
    assert reverse("recording_download", args=[world.rec.pk]) not in page.content.decode()
    response = client.get(reverse("recording_download", args=[world.rec.pk]))
    assert response.status_code == 403
    assert len(entries("recording.download", Outcome.DENIED)) == 1
    # a play session's token does not download
    url = page.context["stream_url"].replace("/stream/", "/download/")
    assert client.get(url).status_code == 403


# -- who may not: ING-3, expiry, revocation, IDOR ------------------------------------------------


@pytest.mark.parametrize("role", ["officer", "unit_head", "custodian", "leader", "legal"])
def test_nobody_plays_without_a_grant_not_even_the_uploader_ING3(world, login, role):
    person = world.people[role]
    client = login(person)
    response = client.get(reverse("recording_play", args=[world.rec.pk]))
    assert response.status_code == 403
    assert "approved viewing grant" in response.content.decode() or \
        "查阅" in response.content.decode()
    assert client.get(reverse("recording_download", args=[world.rec.pk])).status_code == 403
    denied = entries("recording.play", Outcome.DENIED)
    assert len(denied) == 1 and denied[0].details["reason"] == "no_grant"
    assert denied[0].actor_id == str(person.user.pk)
    assert PlaySession.objects.count() == 0


@pytest.mark.parametrize("role", ["sysadmin", "secadmin", "auditadmin"])
def test_the_administrators_never_play_even_with_a_grant(world, login, role):
    person = world.people[role]
    grant(world, person, world.rec, download=True)
    client = login(person)
    assert client.get(reverse("recording_play", args=[world.rec.pk])).status_code == 403
    assert client.get(reverse("recording_download", args=[world.rec.pk])).status_code == 403


def test_anonymous_is_sent_to_the_login(world, client):
    for name in ("recording_play", "recording_stream", "recording_download"):
        response = client.get(reverse(name, args=[world.rec.pk]))
        assert response.status_code == 302 and "/login/" in response["Location"], name


def test_an_expired_grant_is_refused(world, login):
    g = grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    url = stream_url(client, world.rec)
    assert client.get(url, HTTP_RANGE="bytes=0-9").status_code == 206
    Grant.objects.filter(pk=g.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert client.get(url, HTTP_RANGE="bytes=10-19").status_code == 403
    assert client.get(reverse("recording_play", args=[world.rec.pk])).status_code == 403
    assert len(entries("recording.play", Outcome.DENIED)) == 2


def test_revoking_the_grant_stops_the_stream_at_the_next_request(world, login):
    g = grant(world, world.viewer, world.rec, download=True)
    client = login(world.viewer)
    url = stream_url(client, world.rec)
    download = client.get(reverse("recording_download", args=[world.rec.pk]))["Location"]
    assert client.get(url, HTTP_RANGE="bytes=0-9").status_code == 206
    assert client.get(download, HTTP_RANGE="bytes=0-9").status_code == 206
    Grant.objects.filter(pk=g.pk).update(revoked_at=timezone.now(),
                                         revoked_by=world.people["custodian"])
    response = client.get(url, HTTP_RANGE="bytes=10-19")
    assert response.status_code == 403 and not response.streaming
    assert client.get(download, HTTP_RANGE="bytes=10-19").status_code == 403
    denied = entries("recording.play", Outcome.DENIED) + entries("recording.download",
                                                                 Outcome.DENIED)
    assert len(denied) == 2 and {e.details["reason"] for e in denied} == {"no_grant"}


def test_a_grant_for_one_recording_does_not_open_its_neighbour_IDOR(world, login):
    grant(world, world.viewer, world.rec, download=True)
    client = login(world.viewer)
    url = stream_url(client, world.rec)
    other = world.neighbour.pk
    assert client.get(reverse("recording_play", args=[other])).status_code == 403
    assert client.get(reverse("recording_download", args=[other])).status_code == 403
    # the session of the granted recording, used on the neighbour's address
    token = url.split("s=")[1]
    response = client.get(reverse("recording_stream", args=[other]) + f"?s={token}")
    assert response.status_code == 403
    assert client.get(reverse("recording_stream", args=[99999]) + f"?s={token}"
                      ).status_code == 404
    assert entries("recording.play") == []


def test_a_session_token_is_bound_to_its_viewer(world, login, client):
    grant(world, world.viewer, world.rec)
    grant(world, world.people["legal"], world.rec)
    url = stream_url(login(world.viewer), world.rec)
    client.force_login(world.people["legal"].user)  # has a grant too, but not this session
    assert client.get(url).status_code == 403
    assert client.get(reverse("recording_stream", args=[world.rec.pk])).status_code == 403
    assert client.get(reverse("recording_stream", args=[world.rec.pk]) + "?s=nonsense"
                      ).status_code == 403
    assert entries("recording.play") == []


def test_an_expired_play_session_is_refused(world, login):
    grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    url = stream_url(client, world.rec)
    PlaySession.objects.update(expires_at=timezone.now() - timedelta(seconds=1),
                               started_at=timezone.now() - timedelta(seconds=1))
    assert client.get(url).status_code == 403


def test_start_once_marks_a_session_started_exactly_once(world):
    """The conditional UPDATE: only the request that changes the row writes the entry."""
    from witness.web.views import stream

    session = stream.new_session(world.rec, person=world.viewer)
    assert session.started_at == session.expires_at  # not started yet
    results = [stream.start_once(session, "test", "recording.play", {}) for _i in range(5)]
    assert results == [True, False, False, False, False]
    assert len(entries("recording.play")) == 1
    session.refresh_from_db()
    assert session.started_at < session.expires_at


def test_bytes_the_store_cannot_give_are_503_and_start_no_play(world, login):
    """A register entry whose object is missing: a failure entry, no play entry, and no
    storage detail in the answer."""
    sha = hashlib.sha256(b"never stored").hexdigest()
    blob = Blob.objects.create(sha256=sha, size=100, backend="file", key=content_key(sha),
                               digests={"sha256": sha})
    rec = f.RecordingFactory(blob=blob, device=f.DeviceFactory(unit=world.field),
                             browser_playable=True)
    grant(world, world.viewer, rec)
    client = login(world.viewer)
    response = client.get(stream_url(client, rec))
    assert response.status_code == 503
    assert "sha256/" not in response.content.decode()
    assert entries("recording.play") == []
    assert len(entries("recording.read_failed", Outcome.FAILURE)) == 1


# -- playback copy ----------------------------------------------------------------------------


def test_the_playback_copy_plays_when_the_original_cannot_and_download_gives_the_original(
        world, login, tmp_path):
    hevc = make_video(tmp_path / "HEVC_0001.MP4", 1, codec="hevc", size="160x120")
    rec = stored_recording(world, hevc, holder=world.people["officer"])
    assert not rec.browser_playable
    grant(world, world.viewer, rec, download=True)
    client = login(world.viewer)

    page = open_player(client, rec)  # no copy yet: the original, and the page says so
    assert 'data-plays="original"' in page.content.decode()
    assert body(client.get(page.context["stream_url"])) == hevc.read_bytes()

    rows = {d.kind: d for d in derivatives.make_for_recording(rec.pk)}
    copy = rows[Kind.PLAYBACK]
    assert copy.status == Status.DONE and copy.blob_id != rec.blob_id
    copy_bytes = b"".join(get_backend().read(copy.blob.key))

    page = open_player(client, rec)
    assert 'data-plays="playback"' in page.content.decode()
    url = page.context["stream_url"]
    response = client.get(url)
    assert response["Content-Type"] == "video/mp4"
    assert response["ETag"] == f'"{copy.blob.sha256}"'
    assert body(response) == copy_bytes
    tail = client.get(url, HTTP_RANGE="bytes=-100")
    assert body(tail) == copy_bytes[-100:]
    assert entries("recording.play")[-1].details["copy"] == "playback"

    download = client.get(client.get(reverse("recording_download", args=[rec.pk]))["Location"])
    assert body(download) == hevc.read_bytes()  # always the original


# -- a multi-GB original ----------------------------------------------------------------------


def test_seeking_works_on_a_5_gib_original(world, login):
    """A sparse 5 GiB object (almost no disk) registered as a blob: range requests far past
    4 GiB are answered at once and byte-exact."""
    backend = get_backend()
    size = 5 * GIB
    marks = {3 * GIB + 7: b"three-gib", size - 6: b"ending"}
    sha = hashlib.sha256(b"sparse five gib").hexdigest()
    path = backend.path(content_key(sha))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        os.truncate(out.fileno(), size)
        for offset, mark in marks.items():
            out.seek(offset)
            out.write(mark)
    blob = Blob.objects.create(sha256=sha, size=size, backend="file", key=content_key(sha),
                               digests={"sha256": sha})
    rec = f.RecordingFactory(blob=blob, device=f.DeviceFactory(unit=world.field),
                             browser_playable=True)
    grant(world, world.viewer, rec)
    client = login(world.viewer)
    url = stream_url(client, rec)
    for offset, mark in marks.items():
        response = client.get(url, HTTP_RANGE=f"bytes={offset - 2}-{offset + len(mark) - 1}")
        assert response.status_code == 206
        assert response["Content-Range"] == f"bytes {offset - 2}-{offset + len(mark) - 1}/{size}"
        assert body(response) == b"\0\0" + mark
    response = client.get(url, HTTP_RANGE="bytes=-6")
    assert body(response) == b"ending"
    response = client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{size}"
    assert len(entries("recording.play")) == 1


# -- what reaches the browser ----------------------------------------------------------------


def test_no_storage_location_reaches_the_browser(world, login, settings, tmp_path):
    grant(world, world.viewer, world.rec, download=True)
    client = login(world.viewer)
    page = open_player(client, world.rec)
    url = page.context["stream_url"]
    answers = [page, client.get(url, HTTP_RANGE="bytes=0-99"), client.get(url),
               client.get(reverse("recording_download", args=[world.rec.pk]))]
    answers.append(client.get(answers[-1]["Location"]))
    answers.append(client.get(reverse("recording_play", args=[world.neighbour.pk])))
    forbidden = [world.rec.blob.key, world.neighbour.blob.key, str(tmp_path / "store"),
                 get_backend().location, "sha256/", "file://"]
    for response in answers:
        head = "\n".join(f"{k}: {v}" for k, v in response.items())
        text = head if response.streaming else head + body(response).decode("utf-8", "replace")
        for needle in forbidden:
            assert needle not in text, (needle, response.status_code)


def test_the_page_shows_the_viewer_watermark_without_inline_script(world, login):
    grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    html = open_player(client, world.rec).content.decode()
    watermark = re.search(r'<div class="watermark".*?</div>', html, re.S).group(0)
    assert watermark.count(world.viewer.name) >= 3
    assert "data-watermark-clock" in watermark and "data-start=" in watermark
    assert "witness/player.js" in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script
    assert 'controlslist="nodownload nofullscreen' in html


# -- a real browser ----------------------------------------------------------------------------


@pytest.mark.browser
def test_the_video_plays_in_chromium_under_the_viewers_watermark(
        browser, live_server, transactional_db, site, settings, tmp_path):
    need_ffmpeg()
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    ns = site()
    clip = make_video(tmp_path / "FILE_0009.MP4", 4, size="320x240")
    rec = stored_recording(ns, clip, holder=ns.people["officer"])
    viewer = ns.people["unit_head"]
    grant(ns, viewer, rec)

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", viewer.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].button-primary")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}{reverse('recording_play', args=[rec.pk])}")

    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; "
                  "return v.play(); }")
    page.wait_for_function(
        "() => document.querySelector('video').currentTime > 0.5", timeout=15000)
    tile = page.locator(".watermark-tile").first
    assert tile.is_visible() and viewer.name in tile.inner_text()
    first = page.locator("[data-watermark-clock]").first.inner_text()
    page.wait_for_timeout(1300)
    assert page.locator("[data-watermark-clock]").first.inner_text() != first  # it ticks
    assert problems == []
    context.close()
    # the audit table survives the flush between browser tests: count this viewer's only
    assert len(entries("recording.play", actor_id=str(viewer.user.pk))) == 1
