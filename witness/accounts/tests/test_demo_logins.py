"""The demo's printed logins still work (issue 5 item 6): the administrators, the leader and
the custodian go through enrolment of a second factor after the password — which works,
and lets them in — and the other roles go straight to the home page."""

import base64
import re

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp

from witness.accounts import otp
from witness.demo import data

REQUIRED = {"custodian", "leader", "sysadmin", "secadmin", "auditadmin"}


@pytest.mark.django_db
def test_issue5_every_demo_login_gets_in(settings):
    data.build()
    for username, _name, _badge, _unit, roles in data.PEOPLE:
        client = Client()
        response = client.post(reverse("login"), {"username": username,
                                                  "password": data.PASSWORD})
        assert response.status_code == 302, username
        home = client.get(reverse("home"))
        if username in REQUIRED:
            assert otp.required_for_roles({r.value for r in roles})
            assert home.status_code == 302 and home.url.startswith(reverse("otp_enrol"))
            page = client.get(home.url).content.decode()
            secret = re.search(r'<code id="otp-secret">([A-Z2-7]+)</code>', page).group(1)
            code = f"{totp(base64.b32decode(secret)):06d}"
            assert client.post(reverse("otp_enrol"), {"code": code}).status_code == 302
            home = client.get(reverse("home"))
        assert home.status_code == 200, username


def test_issue5_the_printed_demo_password_meets_the_password_policy():
    """Whoever copies the demo password into a real account is not taught a weak one."""
    from django.contrib.auth.password_validation import validate_password
    validate_password(data.PASSWORD)
