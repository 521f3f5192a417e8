"""Disclosure links (EVD-3, issue 5 item 5): issued only for a granted disclosure request
delivered as a link, only the token's SHA-256 kept; the recipient streams the request's
items, and nothing else, with their name and the time as a watermark, while the link is
valid and not revoked; one ``disclosure.play`` entry per play start.

Answers: unknown token 404 (not audited); expired or revoked 410 Gone; not valid yet 403;
a recording that is not an item of the request 404 (audited as denied)."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from witness.access import disclosure as links
from witness.access.models import (
    Delivery,
    DisclosureLink,
    Grant,
    PlaySession,
    RecipientKind,
    RequestKind,
    RequestStatus,
)
from witness.audit.models import ActorType, AuditEntry, Outcome
from witness.core.errors import Refused, WitnessError
from witness.storage.config import get_backend
from witness.testing import factories as f
from witness.web.tests import test_player as player
from witness.web.tests.test_player import body, entries, grant

store, world = player.store, player.world  # the fixtures of the player's tests

RECIPIENT = "张三（当事人）"


def disclosure(ns, *recordings, delivery=Delivery.LINK, status=RequestStatus.GRANTED,
               hours=48):
    """A disclosure request granted for ``recordings`` (its grants name no person)."""
    grants = grant(ns, None, *recordings, hours=hours, kind=RequestKind.DISCLOSURE,
                   recipient_kind=RecipientKind.PARTY, recipient_name=RECIPIENT,
                   recipient_org="某超市", delivery=delivery)
    grants = grants if isinstance(grants, list) else [grants]
    request = grants[0].request
    if status != RequestStatus.GRANTED:
        request.status = status
        request.save(update_fields=["status"])
    return request


def issue(ns, request, hours=24):
    return links.issue_link(request, ns.people["custodian"], RECIPIENT,
                            timezone.now() + timedelta(hours=hours))


@pytest.fixture
def linked(world):
    world.request = disclosure(world, world.rec)
    world.link, world.token = issue(world, world.request)
    return world


def page_url(token, **query):
    url = reverse("disclosure_view", args=[token])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


# -- issuing and revoking -------------------------------------------------------------------


def test_only_the_tokens_sha256_is_kept_and_the_issue_is_audited(linked):
    link, token = linked.link, linked.token
    assert len(token) >= 40
    assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert link.recipient_name == RECIPIENT and link.created_by == linked.people["custodian"]
    with connection.cursor() as cursor:  # the token is nowhere in the database
        for table in ("access_disclosurelink", "audit_auditentry"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed names
            assert token not in repr(cursor.fetchall())
    entry = entries("disclosure.link_issue")[0]
    assert entry.object_id == str(link.pk) and entry.details["recipient"] == RECIPIENT
    assert links.find(token) == link
    assert links.find(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert links.find("../../etc") is None


@pytest.mark.parametrize(("change", "code"), [
    ({"kind": RequestKind.VIEWING}, "not_a_link_request"),
    ({"delivery": Delivery.PACKAGE}, "not_a_link_request"),
    ({"status": RequestStatus.PENDING}, "not_granted"),
    ({"status": RequestStatus.REJECTED}, "not_granted"),
])
def test_a_link_only_for_a_granted_disclosure_delivered_as_a_link(world, change, code):
    request = disclosure(world, world.rec)
    type(request).objects.filter(pk=request.pk).update(**change)
    with pytest.raises(Refused) as caught:
        issue(world, request)
    assert caught.value.code == code
    assert not DisclosureLink.objects.exists()


def test_a_link_needs_a_recipient_a_future_end_and_stays_within_the_grant(world):
    request = disclosure(world, world.rec, hours=48)
    custodian = world.people["custodian"]
    now = timezone.now()
    for name, until, code in [("  ", now + timedelta(hours=1), "recipient_missing"),
                              ("x" * 201, now + timedelta(hours=1), "recipient_too_long"),
                              (RECIPIENT, now - timedelta(minutes=1), "link_period"),
                              (RECIPIENT, now + timedelta(hours=49), "link_beyond_grant")]:
        with pytest.raises(WitnessError) as caught:
            links.issue_link(request, custodian, name, until)
        assert caught.value.code == code
    Grant.objects.filter(request=request).update(revoked_at=now)
    with pytest.raises(Refused) as caught:
        links.issue_link(request, custodian, RECIPIENT, now + timedelta(hours=1))
    assert caught.value.code == "nothing_granted"
    assert not DisclosureLink.objects.exists()


def test_revoking_a_link_is_audited_once(linked):
    links.revoke_link(linked.link, linked.people["custodian"])
    linked.link.refresh_from_db()
    assert linked.link.revoked_at is not None
    assert linked.link.revoked_by == linked.people["custodian"]
    with pytest.raises(Refused):
        links.revoke_link(linked.link, linked.people["custodian"])
    assert len(entries("disclosure.link_revoke")) == 1


# -- the recipient's page and stream ---------------------------------------------------------


def test_the_recipient_streams_with_their_name_as_watermark_one_entry_per_play(linked):
    client = Client()  # no account
    response = client.get(page_url(linked.token))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count(RECIPIENT) >= 6  # the watermark tiles
    assert "data-watermark-clock" in html and "witness/player.js" in html
    assert response["Referrer-Policy"] == "no-referrer"
    url = response.context["stream_url"]
    assert url.startswith(reverse("disclosure_stream", args=[linked.token, linked.rec.pk]))

    data, size = linked.data, len(linked.data)
    for header, (start, end) in {"bytes=0-0": (0, 0), "bytes=100-199": (100, 199),
                                 "bytes=-7": (size - 7, size - 1),
                                 f"bytes={size - 3}-": (size - 3, size - 1)}.items():
        got = client.get(url, HTTP_RANGE=header)
        assert got.status_code == 206 and body(got) == data[start:end + 1], header
        assert got["Content-Range"] == f"bytes {start}-{end}/{size}"
    assert client.get(url, HTTP_RANGE=f"bytes={size}-").status_code == 416
    for i in range(20):
        assert body(client.get(url, HTTP_RANGE=f"bytes={i * 50}-")) == data[i * 50:]
    assert body(client.get(url)) == data

    played = entries("disclosure.play")
    assert len(played) == 1
    assert played[0].actor_type == ActorType.ANONYMOUS
    assert played[0].details["link"] == linked.link.pk
    assert played[0].details["recipient"] == RECIPIENT
    session = PlaySession.objects.get(link=linked.link)
    assert session.person is None and session.expires_at <= linked.link.valid_until

    again = client.get(page_url(linked.token)).context["stream_url"]
    assert body(client.get(again, HTTP_RANGE="bytes=0-")) == data
    assert len(entries("disclosure.play")) == 2


def test_an_unknown_token_is_404_and_not_audited(linked):
    client = Client()
    before = AuditEntry.objects.count()
    for token in (links.new_token(), "short", linked.token.upper() + "x"):
        assert client.get(page_url(token)).status_code == 404
        assert client.get(reverse("disclosure_stream", args=[token, linked.rec.pk])
                          ).status_code == 404
    assert AuditEntry.objects.count() == before


def test_an_expired_link_is_gone(linked):
    client = Client()
    url = client.get(page_url(linked.token)).context["stream_url"]
    assert client.get(url, HTTP_RANGE="bytes=0-9").status_code == 206
    DisclosureLink.objects.filter(pk=linked.link.pk).update(
        valid_from=timezone.now() - timedelta(days=2),
        valid_until=timezone.now() - timedelta(seconds=1))
    page = client.get(page_url(linked.token))
    assert page.status_code == 410
    assert page.templates[0].name == "web/player/link_gone.html"
    assert client.get(url, HTTP_RANGE="bytes=10-19").status_code == 410
    denied = entries("disclosure.play", Outcome.DENIED)
    assert len(denied) == 2 and {e.details["code"] for e in denied} == {"link_expired"}


def test_a_revoked_link_is_gone_at_the_next_request(linked):
    client = Client()
    url = client.get(page_url(linked.token)).context["stream_url"]
    assert client.get(url, HTTP_RANGE="bytes=0-9").status_code == 206
    links.revoke_link(linked.link, linked.people["custodian"])
    assert client.get(url, HTTP_RANGE="bytes=10-19").status_code == 410
    assert client.get(page_url(linked.token)).status_code == 410
    assert {e.details["code"] for e in entries("disclosure.play", Outcome.DENIED)} == {
        "link_revoked"}


def test_a_link_not_valid_yet_is_refused(linked):
    DisclosureLink.objects.filter(pk=linked.link.pk).update(
        valid_from=timezone.now() + timedelta(hours=1))
    assert Client().get(page_url(linked.token)).status_code == 403


def test_other_recordings_of_the_agency_are_not_disclosed(linked, login):
    client = Client()
    other = linked.neighbour
    assert client.get(page_url(linked.token, r=other.pk)).status_code == 404
    assert client.get(page_url(linked.token, r="x")).status_code == 404
    session = client.get(page_url(linked.token)).context["stream_url"].split("s=")[1]
    stream = reverse("disclosure_stream", args=[linked.token, other.pk])
    assert client.get(stream + f"?s={session}").status_code == 404
    assert client.get(reverse("disclosure_stream", args=[linked.token, 99999])
                      ).status_code == 404
    denied = entries("disclosure.play", Outcome.DENIED)
    assert len(denied) == 4 and {e.details["code"] for e in denied} == {"not_an_item"}
    # nor does a grant of the same recording to a person open it through the link
    grant(linked, linked.viewer, other)
    assert client.get(stream + f"?s={session}").status_code == 404


def test_an_item_whose_grant_was_revoked_stops_playing(linked):
    client = Client()
    url = client.get(page_url(linked.token)).context["stream_url"]
    Grant.objects.filter(request=linked.request).update(revoked_at=timezone.now())
    assert client.get(url).status_code == 404
    page = client.get(page_url(linked.token))
    assert page.status_code == 200 and page.context["items"] == []


def test_a_session_of_another_link_or_none_is_refused(linked):
    client = Client()
    _second, token2 = issue(linked, linked.request)
    foreign = client.get(page_url(token2)).context["stream_url"].split("s=")[1]
    url = reverse("disclosure_stream", args=[linked.token, linked.rec.pk])
    assert client.get(url + f"?s={foreign}").status_code == 403
    assert client.get(url).status_code == 403
    assert entries("disclosure.play") == []
    assert len(entries("disclosure.play", Outcome.DENIED)) == 2


def test_no_storage_location_reaches_the_recipient(linked, tmp_path):
    client = Client()
    page = client.get(page_url(linked.token))
    answers = [page, client.get(page.context["stream_url"], HTTP_RANGE="bytes=0-9")]
    for response in answers:
        text = "\n".join(f"{k}: {v}" for k, v in response.items())
        if not response.streaming:
            text += response.content.decode()
        for needle in (linked.rec.blob.key, str(tmp_path / "store"), get_backend().location,
                       "sha256/"):
            assert needle not in text


# -- the custodian's page -------------------------------------------------------------------


def test_the_custodian_issues_a_link_shown_once_and_revokes_it(world, login):
    request = disclosure(world, world.rec)
    client = login(world.people["custodian"])
    url = reverse("disclosure_link_issue", args=[request.pk])
    form = client.get(url)
    assert form.status_code == 200 and RECIPIENT in form.content.decode()

    until = timezone.localtime(timezone.now() + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, {"recipient_name": "李四律师", "valid_until": until})
    assert response.status_code == 200
    shown = response.context["issued"]["url"]
    token = shown.rstrip("/").rsplit("/", 1)[1]
    link = DisclosureLink.objects.get()
    assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert link.recipient_name == "李四律师"
    assert response["Cache-Control"] == "no-store"
    assert token not in client.get(url).content.decode()  # shown once
    assert Client().get(page_url(token)).status_code == 200

    bad = client.post(url, {"recipient_name": "", "valid_until": until})
    assert bad.status_code == 400 and DisclosureLink.objects.count() == 1
    beyond = timezone.localtime(timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(url, {"recipient_name": "王五", "valid_until": beyond})
    assert refused.status_code == 422 and DisclosureLink.objects.count() == 1

    revoked = client.post(reverse("disclosure_link_revoke", args=[link.pk]))
    assert revoked.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert Client().get(page_url(token)).status_code == 410
    assert len(entries("disclosure.link_issue")) == 1
    assert len(entries("disclosure.link_revoke")) == 1


@pytest.mark.parametrize("role", ["officer", "unit_head", "leader", "legal", "sysadmin"])
def test_only_the_custodian_issues_or_revokes_links(linked, login, role):
    client = login(linked.people[role])
    until = timezone.localtime(timezone.now() + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    url = reverse("disclosure_link_issue", args=[linked.request.pk])
    assert client.post(url, {"recipient_name": "x", "valid_until": until}).status_code == 403
    assert client.post(reverse("disclosure_link_revoke", args=[linked.link.pk])
                       ).status_code == 403
    assert DisclosureLink.objects.count() == 1
    assert DisclosureLink.objects.get().revoked_at is None


def test_links_of_another_agency_or_a_viewing_request_are_not_found(linked, login, site):
    other = site()
    custodian = login(other.people["custodian"])
    assert custodian.get(reverse("disclosure_link_issue", args=[linked.request.pk])
                         ).status_code == 404
    assert custodian.post(reverse("disclosure_link_revoke", args=[linked.link.pk])
                          ).status_code == 404
    viewing = grant(linked, linked.viewer, linked.rec).request
    own = login(linked.people["custodian"])
    assert own.get(reverse("disclosure_link_issue", args=[viewing.pk])).status_code == 404


def test_the_link_forms_need_the_csrf_token(linked):
    client = Client(enforce_csrf_checks=True)
    client.force_login(linked.people["custodian"].user)
    until = timezone.localtime(timezone.now() + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(reverse("disclosure_link_issue", args=[linked.request.pk]),
                       {"recipient_name": "x", "valid_until": until}).status_code == 403
    assert client.post(reverse("disclosure_link_revoke", args=[linked.link.pk])
                       ).status_code == 403
    assert DisclosureLink.objects.count() == 1


def test_a_state_secret_item_never_plays_through_a_link(linked):
    type(linked.rec).objects.filter(pk=linked.rec.pk).update(label="state_secret")
    client = Client()
    page = client.get(page_url(linked.token))
    assert page.context["items"] == []
    stream = reverse("disclosure_stream", args=[linked.token, linked.rec.pk])
    assert client.get(stream + "?s=" + "a" * 43).status_code == 404
    assert f.RecordingFactory._meta.model.objects.get(pk=linked.rec.pk).label == "state_secret"


@pytest.mark.browser
def test_the_recipient_plays_in_chromium_under_their_name(
        browser, live_server, transactional_db, site, settings, tmp_path):
    player.need_ffmpeg()
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    ns = site()
    clip = player.make_video(tmp_path / "FILE_0010.MP4", 4, size="320x240")
    rec = player.stored_recording(ns, clip, holder=ns.people["officer"])
    _link, token = issue(ns, disclosure(ns, rec))

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{live_server.url}{page_url(token)}")  # no login
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; "
                  "return v.play(); }")
    page.wait_for_function(
        "() => document.querySelector('video').currentTime > 0.5", timeout=15000)
    tile = page.locator(".watermark-tile").first
    assert tile.is_visible() and RECIPIENT in tile.inner_text()
    assert problems == []
    context.close()
    assert len(entries("disclosure.play")) == 1
