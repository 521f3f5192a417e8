"""Fixtures of the web tests: an agency whose people can log in."""

import pytest

from witness.testing import factories as f

PASSWORD = "correct-horse-battery"  # UserFactory's password


@pytest.fixture
def site(make_agency):
    """make_agency(profile) where every person has a user account
    (username ``<role>-<agency code>``, password PASSWORD)."""

    def build(profile="lushan-2019"):
        ns = make_agency(profile)
        for role, person in ns.people.items():
            person.user = f.UserFactory(username=f"{role}-{ns.agency.code}", password=PASSWORD)
            person.save(update_fields=["user"])
        return ns

    return build


@pytest.fixture
def login(client):
    def as_person(person):
        client.force_login(person.user)
        return client

    return as_person
