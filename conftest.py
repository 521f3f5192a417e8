"""Fixtures shared by every app's tests."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from witness.org.models import Role
from witness.testing import factories as f
from witness.testing.browser import CHROMIUM, CHROMIUM_ARGS, chromium_available

pytest_plugins = ["witness.testing.s3"]  # s3_server, s3_backend: a real Ceph RGW


@pytest.fixture(scope="session", autouse=True)
def _append_only_tables_survive_flush():
    """Transactional tests end with a flush (DELETE/TRUNCATE of every table); the audit
    table's triggers rightly refuse that, so flush leaves append-only tables alone.
    Only the test run is changed: a real `witness flush` still fails on the audit log."""
    from django.db.backends.base.introspection import BaseDatabaseIntrospection

    from witness.audit.models import APPEND_ONLY_TABLES

    original = BaseDatabaseIntrospection.django_table_names

    def django_table_names(self, *args, **kwargs):
        return [t for t in original(self, *args, **kwargs) if t not in APPEND_ONLY_TABLES]

    BaseDatabaseIntrospection.django_table_names = django_table_names
    yield
    BaseDatabaseIntrospection.django_table_names = original


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 takes ~1 s here by design; tests need not pay it for every user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_agency(db):
    """An agency under the named profile: a field unit, an office unit, and a person in
    every role. Returns a namespace of what it made."""

    from witness.profiles import services as profiles

    def make(profile: str = "lushan-2019", **kwargs):
        agency = f.AgencyFactory(**kwargs)
        field = f.UnitFactory(agency=agency, name="执法一科", code=f"{agency.code}-field",
                              has_field_duty=True)
        field2 = f.UnitFactory(agency=agency, name="执法二科", code=f"{agency.code}-field2",
                               has_field_duty=True)
        office = f.UnitFactory(agency=agency, name="办公室", code=f"{agency.code}-office",
                               has_field_duty=False)
        people = {}
        for role in Role:
            unit = office if role in (Role.CUSTODIAN, Role.SYSADMIN, Role.SECADMIN,
                                      Role.AUDITADMIN, Role.LEADER, Role.LEGAL) else field
            people[role.value] = f.PersonFactory(unit=unit, roles=[role])
        agency.principal_leader = people[Role.LEADER.value]
        agency.save()
        profiles.apply(agency, profile, effective_from=timezone.now() - timedelta(days=400))

        class NS:
            pass

        ns = NS()
        ns.agency, ns.field, ns.field2, ns.office, ns.people = agency, field, field2, office, people
        return ns

    return make


@pytest.fixture
def browser():
    """A headless Chromium (Debian's) driven by playwright; fails under CI if missing."""
    if not chromium_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium not found at {CHROMIUM}; `make install` installs it")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # playwright's sync API runs an event loop in this thread; Django's ORM calls made by
    # the test itself are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # Code run under playwright's sync API has a context of its own, and Django
            # opened a database connection for it: close it, or PostgreSQL cannot drop
            # the test database at the end of the run.
            from django.db import connections

            connections.close_all()


@pytest.fixture
def site(make_agency):
    """make_agency(profile) where every person has a user account
    (username ``<role>-<agency code>``, password ``factories.PASSWORD``)."""

    def build(profile="lushan-2019"):
        ns = make_agency(profile)
        for role, person in ns.people.items():
            person.user = f.UserFactory(username=f"{role}-{ns.agency.code}",
                                        password=f.PASSWORD)
            person.save(update_fields=["user"])
        return ns

    return build


@pytest.fixture
def login(client):
    """Log a person in the way the log-in pages do: password, then — where the account has
    or its role requires a second factor — a verified TOTP device in the session
    (witness.accounts.testing.verified_login, issue 5 item 6)."""
    from witness.accounts.testing import verified_login

    def as_person(person):
        return verified_login(client, person.user)

    return as_person
