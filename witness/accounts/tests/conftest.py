"""Fixtures of the accounts tests: ``site`` and ``login`` come from the root conftest.py."""

import pytest
from django.urls import reverse

from witness.testing.factories import PASSWORD


@pytest.fixture
def ns(site):
    return site()


@pytest.fixture
def password_login(client):
    """Log in through the log-in page, as a person does (the password step only)."""

    def log_in(person, password=PASSWORD, c=None):
        c = c or client
        response = c.post(reverse("login"), {"username": person.user.username,
                                             "password": password})
        assert response.status_code == 302, response.content.decode()[-2000:]
        return c

    return log_in
