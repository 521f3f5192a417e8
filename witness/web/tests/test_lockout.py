"""Accounts (issue 5 item 6; GB/T 22239-2019 level 3, identification and authentication):
the lock after failed log-ins, its audit entries, Argon2 password hashing and the password
policy."""

import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import aauthenticate, authenticate
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone, translation

from witness import settings as project_settings
from witness.audit.models import ActorType, AuditEntry, Outcome
from witness.testing import factories as f
from witness.web import lockout
from witness.web.models import LoginLock
from witness.web.tests.conftest import PASSWORD

WRONG = "not-the-password"


class Clock:
    """The lock's clock, moved by hand."""

    def __init__(self):
        self.at = timezone.now().replace(microsecond=0)

    def __call__(self):
        return self.at

    def advance(self, **delta):
        self.at += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(lockout, "now", clock)
    return clock


@pytest.fixture
def officer(site):
    return site().people["officer"].user


@pytest.fixture
def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def log_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def form_error(response):
    """The code and text of the login form's one error (the view shows it with status 200,
    as for any wrong password)."""
    assert response.status_code == 200
    [error] = response.context["form"].non_field_errors().as_data()
    with translation.override(response["Content-Language"]):  # the page's language
        text = next(iter(error))
    assert text in response.content.decode()
    return error.code, text


def fail(client, username, times):
    for _ in range(times):
        response = log_in(client, username, WRONG)
    return response


def last_id() -> int:
    return AuditEntry.objects.aggregate(top=Max("id"))["top"] or 0


def entries(since, action, outcome=None):
    found = AuditEntry.objects.filter(id__gt=since, action=action).order_by("id")
    return list(found if outcome is None else found.filter(outcome=outcome))


def shown(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


# -- the lock -------------------------------------------------------------------------------


def test_the_settings_say_five_failures_and_fifteen_minutes():
    assert settings.WITNESS_LOCKOUT_FAILURES == 5
    assert settings.WITNESS_LOCKOUT_MINUTES == 15
    assert settings.AUTHENTICATION_BACKENDS == ["witness.web.lockout.LockoutBackend"]


def test_four_failures_then_the_right_password_logs_in_and_starts_a_new_count(
        client, officer, clock):
    for _ in range(4):
        assert form_error(log_in(client, officer.username, WRONG))[0] == "invalid_login"
    assert LoginLock.objects.get(username=officer.username).failures == 4
    assert log_in(client, officer.username, PASSWORD).status_code == 302
    assert logged_in(client)
    assert not LoginLock.objects.filter(username=officer.username).exists()

    client.logout()
    fail(client, officer.username, 4)  # 8 since the first, but only 4 since the log-in
    assert log_in(client, officer.username, PASSWORD).status_code == 302


def test_five_failures_lock_the_user_name_even_against_the_right_password(
        english, officer, clock):
    client, until = english, clock.at + timedelta(minutes=15)
    since = last_id()
    assert form_error(fail(client, officer.username, 4))[0] == "invalid_login"
    code, text = form_error(log_in(client, officer.username, WRONG))  # the fifth
    assert code == "locked"
    assert text == (f"Too many failed log-ins: this user name is locked until {shown(until)}. "
                    "Try again after that time.")
    assert LoginLock.objects.get(username=officer.username).locked_until == until

    clock.advance(minutes=5)
    response = log_in(client, officer.username, PASSWORD)
    assert form_error(response) == ("locked", text)
    assert not logged_in(client)

    # audited: five failures, the lock, then the refused attempt
    assert len(entries(since, "auth.login", Outcome.FAILURE)) == 5
    [locked] = entries(since, "auth.lockout")
    assert (locked.outcome, locked.actor_type) == (Outcome.SUCCESS, ActorType.ANONYMOUS)
    assert locked.details == {"username": officer.username, "failures": 5,
                              "until": timezone.localtime(until).isoformat()}
    assert locked.client_addr == "127.0.0.1"
    [denied] = entries(since, "auth.login", Outcome.DENIED)
    assert denied.actor_type == ActorType.ANONYMOUS
    assert denied.details == {"username": officer.username, "reason": "locked",
                              "until": timezone.localtime(until).isoformat()}
    assert denied.id > locked.id
    assert not entries(since, "auth.login", Outcome.SUCCESS)
    assert PASSWORD not in str([e.details for e in entries(since, "auth.login")])


def test_the_lock_ends_after_fifteen_minutes_and_refused_attempts_do_not_extend_it(
        client, officer, clock):
    fail(client, officer.username, 5)
    clock.advance(minutes=14, seconds=59)
    assert form_error(log_in(client, officer.username, PASSWORD))[0] == "locked"
    assert form_error(log_in(client, officer.username, WRONG))[0] == "locked"
    clock.advance(seconds=1)
    assert log_in(client, officer.username, PASSWORD).status_code == 302
    assert logged_in(client)


def test_after_the_lock_a_new_failure_counts_from_one(client, officer, clock):
    fail(client, officer.username, 5)
    clock.advance(minutes=15)
    assert form_error(log_in(client, officer.username, WRONG))[0] == "invalid_login"
    row = LoginLock.objects.get(username=officer.username)
    assert (row.failures, row.locked_until) == (1, None)
    fail(client, officer.username, 3)
    assert lockout.locked_until(officer.username) is None


def test_failures_more_than_fifteen_minutes_apart_do_not_add_up(client, officer, clock):
    fail(client, officer.username, 4)
    clock.advance(minutes=15, seconds=1)
    assert form_error(log_in(client, officer.username, WRONG))[0] == "invalid_login"
    assert LoginLock.objects.get(username=officer.username).failures == 1
    for _ in range(3):  # each within 15 minutes of the one before: they add up
        clock.advance(minutes=14)
        fail(client, officer.username, 1)
    clock.advance(minutes=14)
    assert form_error(log_in(client, officer.username, WRONG))[0] == "locked"


def test_unknown_user_names_are_counted_and_locked_with_the_same_messages(
        english, officer, clock):
    client = english
    known = form_error(log_in(client, officer.username, WRONG))
    unknown = form_error(log_in(client, "nobody-here", WRONG))
    assert known == unknown  # nothing tells which accounts exist

    since = last_id()
    fail(client, "nobody-here", 3)
    code, text = form_error(log_in(client, "nobody-here", WRONG))
    assert code == "locked"
    assert f"locked until {shown(clock.at + timedelta(minutes=15))}" in text
    [locked] = entries(since, "auth.lockout")
    assert locked.details["username"] == "nobody-here"
    assert form_error(log_in(client, "nobody-here", PASSWORD))[0] == "locked"
    assert entries(since, "auth.login", Outcome.DENIED)
    assert log_in(client, officer.username, PASSWORD).status_code == 302


def test_two_user_names_do_not_affect_each_other(client, site, clock):
    people = site().people
    locked, other = people["officer"].user, people["custodian"].user
    fail(client, other.username, 4)
    fail(client, locked.username, 5)
    assert lockout.locked_until(locked.username) is not None
    assert lockout.locked_until(other.username) is None
    assert LoginLock.objects.get(username=other.username).failures == 4
    assert log_in(client, other.username, PASSWORD).status_code == 302
    client.logout()
    assert form_error(log_in(client, locked.username, PASSWORD))[0] == "locked"


def test_user_names_are_case_sensitive_for_the_lock_as_for_the_log_in(client, officer, clock):
    fail(client, officer.username.upper(), 5)
    assert lockout.locked_until(officer.username.upper()) is not None
    assert log_in(client, officer.username, PASSWORD).status_code == 302


def test_the_lock_holds_for_every_caller_of_authenticate(db, officer, clock):
    """Not only the login form: authenticate() itself (an API or command logging in with
    a password) is counted, locked and audited."""
    since = last_id()
    for _ in range(5):
        assert authenticate(None, username=officer.username, password=WRONG) is None
    assert authenticate(None, username=officer.username, password=PASSWORD) is None
    assert len(entries(since, "auth.lockout")) == 1
    assert len(entries(since, "auth.login", Outcome.DENIED)) == 1
    assert async_to_sync(aauthenticate)(None, username=officer.username,
                                        password=PASSWORD) is None
    assert len(entries(since, "auth.login", Outcome.DENIED)) == 2
    clock.advance(minutes=15)
    assert authenticate(None, username=officer.username, password=PASSWORD) == officer


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_lock_once(site):
    """Workers failing at once (one connection each, as gunicorn's workers): every failure
    is counted under the row lock, the lock is written once, the rest are denied."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every write; the row lock is PostgreSQL's")
    officer = site().people["officer"].user
    since, start = last_id(), threading.Barrier(8)

    def attempt():
        try:
            start.wait()
            authenticate(None, username=officer.username, password=WRONG)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(entries(since, "auth.lockout")) == 1
    assert LoginLock.objects.get(username=officer.username).failures == 5
    failures = entries(since, "auth.login", Outcome.FAILURE)
    denied = entries(since, "auth.login", Outcome.DENIED)
    assert (len(failures), len(denied)) == (5, 3)


def test_stale_rows_are_forgotten(client, officer, clock):
    fail(client, officer.username, 2)
    fail(client, "someone-else", 5)
    clock.advance(minutes=15)
    fail(client, "a-third-name", 1)  # any failure sweeps what no longer counts
    assert set(LoginLock.objects.values_list("username", flat=True)) == {"a-third-name"}


# -- passwords ------------------------------------------------------------------------------


@pytest.fixture
def project_hashers(settings):
    """The project's hashers (the test run's conftest swaps in a fast one)."""
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    return settings.PASSWORD_HASHERS


def test_argon2_first_and_pbkdf2_still_verifies():
    assert project_settings.PASSWORD_HASHERS == [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def test_a_new_password_is_hashed_with_argon2(db, project_hashers):
    user = f.UserFactory(username="new-user")
    user.set_password("a long and new passphrase")
    user.save()
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password("a long and new passphrase")


def test_a_pbkdf2_hash_is_upgraded_to_argon2_at_log_in(client, officer, project_hashers):
    officer.password = PBKDF2PasswordHasher().encode(PASSWORD, "saltsaltsalt", iterations=1000)
    officer.save(update_fields=["password"])
    assert log_in(client, officer.username, PASSWORD).status_code == 302
    officer.refresh_from_db()
    assert officer.password.startswith("argon2$argon2id$")
    assert officer.check_password(PASSWORD)


@pytest.mark.parametrize("password", ["short-1", "1234567890123", "password12345",
                                      "officer-lushan"])
def test_the_password_policy_refuses_weak_passwords(db, password):
    user = f.UserFactory.build(username="officer-lushan")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_the_password_policy_accepts_a_long_passphrase(db):
    validate_password("seven horses cross the river", f.UserFactory.build(username="x"))
