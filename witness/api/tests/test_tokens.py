"""Issue 5 item 7: API tokens (SHA-256 only, expiry, revocation, last use), the
``witness api-token`` command, and session authentication with CSRF enforced."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from witness.api import services
from witness.api.models import ApiToken
from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError


def get(token: str | None, url: str = "/api/recordings/", keyword: str = "Bearer"):
    headers = {"HTTP_AUTHORIZATION": f"{keyword} {token}"} if token is not None else {}
    return Client().get(url, **headers)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_a_valid_token_signs_in_as_its_account_and_records_its_use(world):
    token = world.tokens["custodian"]
    row = ApiToken.objects.get(digest=hashlib.sha256(token.encode()).hexdigest())
    assert row.last_used_at is None
    assert get(token).status_code == 200
    assert get(token, keyword="Token").status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None and row.user == world.person("custodian").user


def test_only_the_sha256_of_a_token_is_stored(world):
    token = world.tokens["officer"]
    for row in ApiToken.objects.values():
        assert token not in json.dumps(row, default=str)
    assert ApiToken.objects.filter(digest=hashlib.sha256(token.encode()).hexdigest()).exists()
    assert token.startswith("wit_") and len(token) > 40


def test_a_wrong_expired_or_revoked_token_is_refused_with_401(world):
    officer = world.person("officer").user
    expired_row, expired = services.create_token(officer, days=1, actor="test")
    ApiToken.objects.filter(pk=expired_row.pk).update(
        created_at=timezone.now() - timedelta(days=3),
        expires_at=timezone.now() - timedelta(seconds=1))
    revoked_row, revoked = services.create_token(officer, days=1, actor="test")
    with_audit_revoke = services.revoke_token(revoked_row.pk, actor="test")
    assert with_audit_revoke.revoked_at is not None
    cases = {"wit_not-a-token": "token_invalid", expired: "token_expired",
             revoked: "token_revoked", "two parts": "token_malformed"}
    for token, code in cases.items():
        response = get(token)
        assert response.status_code == 401, token
        assert error_code(response) == code
        assert response["WWW-Authenticate"].startswith("Bearer")
        body = response.json()["error"]
        assert body["zh"] and body["en"]
    assert get(None).status_code == 401
    assert error_code(get(None)) == "not_authenticated"


def test_a_disabled_account_is_refused_and_an_administrator_gets_only_its_actions(world):
    officer = world.person("officer").user
    officer.is_active = False
    officer.save(update_fields=["is_active"])
    response = get(world.tokens["officer"])
    assert response.status_code == 401 and error_code(response) == "token_inactive"
    # an administrator's token works as the account: the schema yes, recordings no (policy)
    assert get(world.tokens["sysadmin"], "/api/schema/").status_code == 200
    refused = get(world.tokens["sysadmin"])
    assert refused.status_code == 403 and error_code(refused) == "role"


def test_token_service_refuses_bad_input(world):
    user = world.person("officer").user
    for days in (0, 366):
        with pytest.raises(WitnessError) as caught:
            services.create_token(user, days=days)
        assert caught.value.code == "bad_days"
    row, _token = services.create_token(user, days=1, actor="test")
    services.revoke_token(row.pk, actor="test")
    with pytest.raises(WitnessError) as caught:
        services.revoke_token(row.pk, actor="test")
    assert caught.value.code == "already_revoked"


# -- the command -----------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command("api-token", *args, stdout=out)
    return out.getvalue()


def test_api_token_command_creates_lists_and_revokes_with_audit(world):
    user = world.person("leader").user
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    created = json.loads(run("create", user.username, "--days", "3", "--name", "sync",
                             "--json"))
    token = created["token"]
    assert created["user"] == user.username and created["state"] == "active"
    assert get(token).status_code == 200
    listed = run("list", "--user", user.username, "--json")
    assert token not in listed
    assert json.loads(listed)[0]["id"] == created["id"]
    human = run("create", user.username)
    assert "wit_" in human
    revoked = json.loads(run("revoke", str(created["id"]), "--json"))
    assert revoked["state"] == "revoked"
    assert error_code(get(token)) == "token_revoked"
    entries = AuditEntry.objects.filter(id__gt=since).order_by("id")
    actions = [(e.action, e.object_id) for e in entries]
    assert ("api.token.create", str(created["id"])) in actions
    assert ("api.token.revoke", str(created["id"])) in actions
    assert all(token not in json.dumps(e.details) for e in entries)


def test_api_token_command_errors_are_bilingual(world):
    with pytest.raises(CommandError) as caught:
        run("create", "nobody-here")
    assert "nobody-here" in str(caught.value)
    with pytest.raises(CommandError):
        run("revoke", "999999")


# -- session and CSRF ------------------------------------------------------------------------


def test_a_session_post_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.person("unit_head").user)
    assert client.get("/api/cases/").status_code == 200  # safe methods need none
    response = client.post("/api/cases/", {}, content_type="application/json")
    assert response.status_code == 403 and error_code(response) == "csrf"
    csrf = "k" * 32  # the browser's CSRF cookie, sent back in the header
    client.cookies["csrftoken"] = csrf
    wrong = client.post("/api/cases/", {}, content_type="application/json",
                        HTTP_X_CSRFTOKEN="j" * 32)
    assert wrong.status_code == 403 and error_code(wrong) == "csrf"
    response = client.post("/api/cases/", {}, content_type="application/json",
                           HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 400  # past the CSRF check: the empty body is refused
    assert set(response.json()["error"]["fields"]) >= {"number", "name", "leader_in_charge"}


def test_a_token_post_needs_no_csrf_token(world):
    client = Client(enforce_csrf_checks=True, **world.auth("unit_head"))
    assert client.post("/api/cases/", {}, content_type="application/json").status_code == 400


def test_a_session_does_not_ride_along_on_an_authorization_header_that_is_no_token(world):
    """The second-factor gate lets /api/ requests with an Authorization header through to
    the API's own authentication; a browser session must not pass with any such header."""
    client = Client()
    client.force_login(world.person("leader").user)
    response = client.get("/api/cases/", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")
    assert response.status_code == 401
    assert client.get("/api/cases/", HTTP_AUTHORIZATION=f"Bearer {world.tokens['leader']}"
                      ).status_code == 200
