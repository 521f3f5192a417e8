"""The idle timeout (GB/T 22239-2019 level 3 session control; WITNESS_SESSION_MINUTES):
a session in use has its expiry moved forward at most once a minute, not written on every
request — a playing video sends many Range requests (issue 8: Range TTFB under load)."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.accounts import sessions

pytestmark = pytest.mark.django_db


def session_writes(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries
            if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))
            and "django_session" in q["sql"]]


@pytest.fixture
def signed_in(site, login):
    ns = site()
    client = login(ns.people["unit_head"])
    client.get(reverse("home"))  # the first request of the session marks it touched
    return client


def expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_requests_within_a_minute_do_not_write_the_session(signed_in):
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(3):
            assert signed_in.get(reverse("home")).status_code == 200
    assert session_writes(ctx) == []


def test_a_request_a_minute_later_moves_the_expiry_forward(signed_in, monkeypatch, settings):
    before = expiry(signed_in)
    later = sessions.time.time() + sessions.TOUCH_EVERY + 1
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    with CaptureQueriesContext(connection) as ctx:
        assert signed_in.get(reverse("home")).status_code == 200
    assert len(session_writes(ctx)) == 1
    after = expiry(signed_in)
    assert after > before
    assert abs((after - timezone.now()) - timedelta(seconds=settings.SESSION_COOKIE_AGE)) \
        < timedelta(seconds=30)


def test_an_idle_session_ends(signed_in):
    Session.objects.filter(session_key=signed_in.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1))
    answer = signed_in.get(reverse("home"))
    assert answer.status_code == 302 and reverse("login") in answer["Location"]


def test_an_anonymous_visit_makes_no_session(client):
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("login"))
    assert session_writes(ctx) == []
