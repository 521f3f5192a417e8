"""The player's controls and markers (issue 8 item 3; EVD-2): the source switch between the
playback copy and the original, the probed frame rate for frame steps, the gaps and
neighbouring segments, and markers set and removed with HTMX by those who may play the
recording only — audited, refused with a ``denied`` entry for others."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from witness.access.models import PlaySession
from witness.audit.models import AuditEntry, Outcome
from witness.derivatives import services as derivatives
from witness.derivatives.models import Kind, Status
from witness.recordings import segments
from witness.recordings.models import Marker
from witness.testing import factories as f
from witness.testing.media import make_video
from witness.web.tests.test_player import grant, need_ffmpeg, store, stored_recording  # noqa: F401

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(site, store, tmp_path):  # noqa: F811
    need_ffmpeg()
    ns = site()
    clip = make_video(tmp_path / "FILE_0001.MP4", 2, size="160x120", title="one")
    ns.rec = stored_recording(ns, clip, holder=ns.people["officer"])
    ns.viewer = ns.people["unit_head"]
    return ns


def entries(action, outcome=Outcome.SUCCESS, **filters):
    """This test's entries (the audit table survives the flush after browser tests)."""
    return list(AuditEntry.objects.filter(action=action, outcome=outcome, **filters)
                .order_by("id"))


def test_evd2_markers_are_added_listed_and_removed_with_htmx_and_audited(world, login):
    grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    page = client.get(reverse("recording_play", args=[world.rec.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    # make_video writes 15 frames a second: the step is the probed rate, not the default 25
    assert 'data-frame-rate="15.0"' in html and "1/15.0" in html
    assert f'hx-post="{reverse("marker_add", args=[world.rec.pk])}"' in html

    answer = client.post(reverse("marker_add", args=[world.rec.pk]),
                         {"position": "1.25", "note": "当事人出示证件"}, **HX)
    assert answer.status_code == 200
    text = answer.content.decode()
    assert text.lstrip().startswith('<div id="markers"') and "当事人出示证件" in text
    assert "<html" not in text  # a fragment, not a page
    marker = Marker.objects.get()
    assert marker.position == Decimal("1.250") and marker.person == world.viewer
    (entry,) = entries("recording.marker_add", object_id=str(world.rec.pk))
    assert entry.details["marker"] == marker.pk and entry.actor_id == str(world.viewer.user.pk)

    bad = client.post(reverse("marker_add", args=[world.rec.pk]),
                      {"position": "99", "note": ""}, **HX)  # past the end (2 s)
    assert bad.status_code == 422 and "field-error" in bad.content.decode()
    assert Marker.objects.count() == 1

    gone = client.post(reverse("marker_delete", args=[marker.pk]), **HX)
    assert gone.status_code == 200 and "当事人出示证件" not in gone.content.decode()
    assert not Marker.objects.exists()
    assert len(entries("recording.marker_delete", object_id=str(world.rec.pk))) == 1


def test_evd2_markers_need_the_players_grant_and_only_the_setter_removes(world, client,
                                                                          login):
    grant(world, world.viewer, world.rec)
    marker = Marker.objects.create(recording=world.rec, person=world.viewer, position=1)
    officer = world.people["officer"]
    login(officer)  # no grant: neither the page nor the markers
    assert client.get(reverse("recording_play", args=[world.rec.pk])).status_code == 403
    refused = client.post(reverse("marker_add", args=[world.rec.pk]), {"position": "0.5"}, **HX)
    assert refused.status_code == 403 and Marker.objects.count() == 1
    assert client.post(reverse("marker_delete", args=[marker.pk]), **HX).status_code == 403
    assert len(entries("recording.play", Outcome.DENIED, actor_id=str(officer.user.pk))) == 3

    grant(world, officer, world.rec)  # with a grant: sees it, still cannot remove it
    page = client.get(reverse("recording_play", args=[world.rec.pk])).content.decode()
    assert 'data-marker-at="1.000"' in page
    assert reverse("marker_delete", args=[marker.pk]) not in page
    assert client.post(reverse("marker_delete", args=[marker.pk]), **HX).status_code == 403
    assert Marker.objects.filter(pk=marker.pk).exists()


def test_act5_the_player_jumps_to_the_gaps_and_neighbouring_segments(world, tmp_path, login):
    activity = f.ActivityFactory(unit=world.field)
    first = world.rec
    later = stored_recording(world, make_video(tmp_path / "FILE_0002.MP4", 1, size="160x120",
                                               title="two"), name="FILE_0002.MP4")
    for rec, start in ((first, activity.arrived_at),
                       (later, activity.arrived_at + timedelta(minutes=3))):
        rec.device, rec.activity, rec.attribution = first.device, activity, "attributed"
        rec.started_at, rec.ended_at = start, start + timedelta(seconds=2)
        rec.save()
    segments.recompute(activity.pk, first.device_id)
    grant(world, world.viewer, first, later)
    client = login(world.viewer)
    html = client.get(reverse("recording_play", args=[first.pk])).content.decode()
    assert 'data-gap="after"' in html and 'data-seek="2.000"' in html
    assert reverse("recording_play", args=[later.pk]) in html and "data-next" in html
    html = client.get(reverse("recording_play", args=[later.pk])).content.decode()
    assert 'data-gap="before"' in html and "data-previous" in html


def test_the_switch_plays_the_original_or_the_playback_copy(world, login, tmp_path):
    hevc = make_video(tmp_path / "HEVC_0001.MP4", 1, codec="hevc", size="160x120")
    rec = stored_recording(world, hevc, holder=world.people["officer"])
    rows = {d.kind: d for d in derivatives.make_for_recording(rec.pk)}
    assert rows[Kind.PLAYBACK].status == Status.DONE
    grant(world, world.viewer, rec)
    client = login(world.viewer)
    copy = client.get(reverse("recording_play", args=[rec.pk])).content.decode()
    original = client.get(reverse("recording_play", args=[rec.pk]) + "?source=original")
    assert 'data-plays="playback"' in copy and "data-source-switch" in copy
    assert 'data-plays="original"' in original.content.decode()
    sessions = list(PlaySession.objects.filter(recording=rec).order_by("pk"))
    assert [s.playback_copy for s in sessions] == [True, False]
    # the original's session streams the original's bytes
    stream = client.get(original.context["stream_url"], HTTP_RANGE="bytes=0-99")
    assert stream.status_code == 206
    assert b"".join(stream.streaming_content) == hevc.read_bytes()[:100]


@pytest.mark.browser
def test_the_player_in_chromium_speed_keys_and_a_marker_without_reload(
        browser, live_server, transactional_db, site, store, tmp_path):  # noqa: F811
    """Issue 8 item 3 in a real browser: the speed control, the ] and . shortcuts, M adds a
    marker listed by HTMX without a reload; no console error, no other host."""
    from witness.web.tests.test_browser import log_in

    need_ffmpeg()
    ns = site()
    clip = make_video(tmp_path / "FILE_0009.MP4", 3, size="160x120", title="browser")
    rec = stored_recording(ns, clip, holder=ns.people["officer"])
    viewer = ns.people["unit_head"]
    grant(ns, viewer, rec)

    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    problems, hosts = [], set()
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("request", lambda req: hosts.add(req.url.split("/")[2]))
    page.goto(f"{live_server.url}/login/")
    log_in(page, live_server.url, viewer.user)
    page.goto(f"{live_server.url}{reverse('recording_play', args=[rec.pk])}")
    page.wait_for_function("document.querySelector('video').readyState >= 1")
    page.evaluate("window.__sameDocument = true")

    page.select_option("[data-speed]", "1.5")
    assert page.evaluate("document.querySelector('video').playbackRate") == 1.5
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("]")
    assert page.evaluate("document.querySelector('video').playbackRate") == 2
    page.keyboard.press(".")  # one frame at the probed 15 fps
    page.wait_for_function("Math.abs(document.querySelector('video').currentTime - 1/15) < 0.01")

    page.keyboard.press("m")
    assert page.evaluate("document.activeElement.name") == "note"
    page.keyboard.type("浏览器中的标记")
    with page.expect_response(lambda r: "/markers/" in r.url) as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200
    page.locator("[data-marker]", has_text="浏览器中的标记").wait_for(timeout=5000)
    assert page.evaluate("window.__sameDocument") is True  # no reload
    marker = Marker.objects.get()
    assert abs(float(marker.position) - 1 / 15) < 0.01
    page.screenshot(path=str(tmp_path / "player.png"), full_page=True)
    assert problems == []
    assert hosts == {live_server.url.split("/")[2]}
    context.close()


@pytest.mark.parametrize("position", ["1e20", "1000000000", "99999999999999"])
def test_evd2_a_huge_marker_position_without_a_duration_is_422_not_500(world, login,
                                                                      position):
    """numeric(12,3) on PostgreSQL overflows beyond 999999999.999: refused before the row."""
    world.rec.duration = None
    world.rec.save(update_fields=["duration"])
    grant(world, world.viewer, world.rec)
    client = login(world.viewer)
    bad = client.post(reverse("marker_add", args=[world.rec.pk]),
                      {"position": position, "note": ""}, **HX)
    assert bad.status_code == 422 and "field-error" in bad.content.decode()
    assert not Marker.objects.exists()
    ok = client.post(reverse("marker_add", args=[world.rec.pk]),
                     {"position": "999999999.999", "note": ""}, **HX)
    assert ok.status_code == 200
    assert Marker.objects.get().position == Decimal("999999999.999")
