"""CSRF on every state-changing form (issue 5, "Done when"), generic over the root URL
resolver: every pattern whose view accepts POST refuses a POST without a CSRF token — with
Django's CSRF failure, told apart from a role's 403 by a failure view of this test's own —
and the same POST with a valid token is not refused for CSRF. The API's unsafe operations
with the web session are held to the same (DRF's session authentication).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.http import HttpResponseForbidden
from django.test import Client
from django.utils.crypto import get_random_string

from witness.access import policy
from witness.access.tests.test_walk import _BRACES, INT, NOT_PAGES, policy_map, routes
from witness.org.models import Role
from witness.web.access import OPEN, PAGES

MARK = "CSRF-REFUSED"
CSRF_VIEW = "witness.access.tests.test_csrf.csrf_failure"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def csrf_failure(request, reason=""):
    """The failure view of these tests: 403 with a mark no other refusal writes."""
    return HttpResponseForbidden(f"{MARK}: {reason}", content_type="text/plain")


def is_csrf_failure(response) -> bool:
    return response.status_code == 403 and response.content.startswith(MARK.encode())


def first_role_allowed(action: str) -> str | None:
    return next((role.value for role in Role if policy.may({role.value}, action)), None)


def with_token(client) -> str:
    """A fresh CSRF secret as the browser would hold it (the cookie), returned for the
    form field."""
    secret = get_random_string(32)
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    return secret


def strict(client):
    """The test client skips the CSRF check unless told: tell it."""
    client.handler.enforce_csrf_checks = True
    return client


def form_pages():
    """Every web pattern (Django's language switch included: a form on every page)."""
    return [r for r in routes() if not r.api and r.view != "django.views.static.serve"]


@pytest.fixture
def people(site, settings):
    settings.CSRF_FAILURE_VIEW = CSRF_VIEW
    return site().people


def test_the_failure_view_is_the_one_django_calls(people):
    client = strict(Client())
    response = client.post("/login/", {"username": "x", "password": "y"})
    assert is_csrf_failure(response), response.content[:200]


def test_every_form_refuses_a_post_without_a_csrf_token(people, login):
    """For each pattern whose view takes POST (a POST with a valid token is not 405): the
    POST without a token gets Django's CSRF failure; with the token, no CSRF failure.
    Posted as a role the policy admits (or anonymously for the open pages), so that the
    role's 403 cannot stand in for the CSRF one."""
    checked, wrong = [], []
    for route in form_pages():
        if route.name in OPEN or route.view in NOT_PAGES:
            client = strict(Client())
        else:
            role = first_role_allowed(PAGES.get(route.name, "home"))
            if role is None:
                continue  # an action no role holds: nothing to post as
            client = strict(login(people[role]))
        client.cookies.pop(settings.CSRF_COOKIE_NAME, None)
        without = client.post(route.url, {})
        token = with_token(client)
        posted = client.post(route.url, {"csrfmiddlewaretoken": token})
        if posted.status_code == 405:
            continue  # the view takes no POST; the middleware refused it all the same
        checked.append(route.name)
        if not is_csrf_failure(without):
            wrong.append(f"{route}: without a token {without.status_code}, not the CSRF "
                         f"failure")
        if is_csrf_failure(posted):
            wrong.append(f"{route}: refused for CSRF with a valid token: "
                         f"{posted.content[:120]!r}")
    assert not wrong, "\n  ".join(["CSRF:", *wrong])
    # the forms of the issue 4 pages are there at least (the walk did not go blind)
    assert {"device_register", "device_return", "case_create", "activity_create",
            "recording_assign", "station_retry", "login", "logout"} <= set(checked), checked


def test_every_unsafe_api_operation_refuses_the_session_without_a_csrf_token(people, login):
    """The web session used against the API: an unsafe method without the token is 403
    with DRF's CSRF reason; with the token, not refused for CSRF."""
    wrong, checked = [], []
    for (path, method), action in sorted(policy_map().items()):
        if method not in UNSAFE:
            continue
        role = first_role_allowed(action)
        if role is None:
            continue
        client = strict(login(people[role]))
        url = _BRACES.sub(INT, path)
        client.cookies.pop(settings.CSRF_COOKIE_NAME, None)
        without = client.generic(method, url, "{}", content_type="application/json")
        token = with_token(client)
        posted = client.generic(method, url, "{}", content_type="application/json",
                                HTTP_X_CSRFTOKEN=token)
        checked.append((path, method))
        if without.status_code != 403 or b"csrf" not in without.content.lower():
            wrong.append(f"{method} {path} without a token: {without.status_code} "
                         f"{without.content[:120]!r}")
        if posted.status_code == 403 and b"csrf" in posted.content.lower():
            wrong.append(f"{method} {path} refused for CSRF with a valid token")
    assert checked, "no unsafe API operation found"
    assert not wrong, "\n  ".join(["API CSRF:", *wrong])
