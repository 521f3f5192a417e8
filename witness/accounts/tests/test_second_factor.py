"""TOTP second factor (issue 5 item 6; GB/T 22239-2019 level 3: two factors for the
administrators): required for the three administrators, bureau leaders and custodians,
optional for others; wrong codes count towards the lock; no code is accepted twice."""

import base64
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from witness.accounts import otp
from witness.accounts.testing import confirmed_device, current_code
from witness.audit.models import AuditEntry, Outcome
from witness.testing.factories import PASSWORD
from witness.web import lockout
from witness.web.models import LoginLock

REQUIRED = ["sysadmin", "secadmin", "auditadmin", "leader", "custodian"]
OPTIONAL = ["officer", "unit_head", "legal"]
# One page each role may open once verified (its console or the home page).
PAGES_OF = {"sysadmin": "user_list", "secadmin": "role_list", "auditadmin": "audit_log",
            "leader": "case_list", "custodian": "device_list"}


def entries(action, **kwargs):
    return list(AuditEntry.objects.filter(action=action, **kwargs).order_by("id"))


def wrong(code: str) -> str:
    return f"{(int(code) + 500000) % 1000000:06d}"


@pytest.mark.django_db
@pytest.mark.parametrize("role", REQUIRED)
def test_issue5_totp_is_required_before_any_page(ns, password_login, client, role):
    """After the password alone nothing but the code page opens; a correct code (computed
    from the device's key) opens the role's pages."""
    person = ns.people[role]
    device = confirmed_device(person.user)
    password_login(person)
    for name in ("home", PAGES_OF[role], "account", "password_change", "otp_enrol"):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("otp_verify")), (name, response.url)
    # a state-changing POST is refused the same way, before its view runs
    assert client.post(reverse("role_assign"), {}).url.startswith(reverse("otp_verify"))
    page = client.get(reverse("otp_verify"))
    assert page.status_code == 200 and 'name="code"' in page.content.decode()
    response = client.post(reverse("otp_verify"), {"code": current_code(device)})
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse(PAGES_OF[role])).status_code == 200
    entry = entries("auth.otp")[-1]
    assert entry.outcome == Outcome.SUCCESS and entry.actor_label == person.user.username


@pytest.mark.django_db
@pytest.mark.parametrize("role", REQUIRED)
def test_issue5_a_required_role_without_a_device_must_enrol(ns, password_login, client, role):
    password_login(ns.people[role])
    for name in ("home", PAGES_OF[role], "account"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("otp_enrol"))
    assert client.get(reverse("otp_verify")).url == reverse("otp_enrol")


@pytest.mark.django_db
@pytest.mark.parametrize("role", OPTIONAL)
def test_issue5_totp_is_optional_for_other_roles(ns, password_login, client, role):
    password_login(ns.people[role])
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("account")).status_code == 200
    assert not otp.required(ns.people[role].user)


@pytest.mark.django_db
def test_issue5_an_officer_who_enrolled_must_verify_from_then_on(ns, password_login, client):
    person = ns.people["officer"]
    device = confirmed_device(person.user)
    password_login(person)
    assert client.get(reverse("home")).url.startswith(reverse("otp_verify"))
    client.post(reverse("otp_verify"), {"code": current_code(device)})
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_issue5_enrolment_end_to_end_in_the_web_client(ns, password_login, client):
    """The page shows the key as an inline SVG QR code and in base32 (nothing loaded from
    elsewhere); a wrong first code is refused; the right one confirms the device, verifies
    the session and is audited."""
    person = ns.people["custodian"]
    password_login(person)
    first = client.get(reverse("home"))
    page = client.get(first.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and "<path" in html
    assert "otpauth://totp/" in html
    assert not re.search(r'(src|href)="https?://', html)  # no CDN, no QR service
    secret = re.search(r'<code id="otp-secret">([A-Z2-7]+)</code>', html).group(1)
    key = base64.b32decode(secret)
    device = TOTPDevice.objects.get(user=person.user)
    assert device.bin_key == key and not device.confirmed
    # the same pending key is shown again until it is confirmed
    assert secret in client.get(reverse("otp_enrol")).content.decode()
    code = f"{totp(key):06d}"
    refused = client.post(reverse("otp_enrol"), {"code": wrong(code)})
    assert refused.status_code == 400
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.post(reverse("otp_enrol"), {"code": "12ab"}).status_code == 400
    done = client.post(reverse("otp_enrol"), {"code": code})
    assert done.status_code == 302 and done.url == reverse("home")
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("device_list")).status_code == 200
    enrolled = entries("auth.otp.enrol")
    assert len(enrolled) == 1 and enrolled[0].actor_label == person.user.username
    # enrolled: the enrolment page no longer shows a key
    assert client.get(reverse("otp_enrol")).url == reverse("otp_verify")
    # next log-in: the code page
    client.post(reverse("logout"))
    password_login(person)
    assert client.get(reverse("home")).url.startswith(reverse("otp_verify"))


@pytest.mark.django_db
def test_issue5_enrolment_keeps_next(ns, password_login, client):
    person = ns.people["leader"]
    password_login(person)
    response = client.get(reverse("case_list"))
    assert response.url == reverse("otp_enrol") + "?next=%2Fcases%2F"
    html = client.get(response.url).content.decode()
    assert 'name="next" value="/cases/"' in html
    key = TOTPDevice.objects.get(user=person.user).bin_key
    done = client.post(reverse("otp_enrol"), {"code": f"{totp(key):06d}", "next": "/cases/"})
    assert done.url == "/cases/"
    evil = client.post(reverse("otp_verify"), {"code": "000000", "next": "https://evil.test/"})
    assert evil.url == reverse("home")  # already verified; an outside next is ignored


@pytest.mark.django_db
def test_issue5_a_code_is_not_accepted_twice(ns, password_login, client):
    person = ns.people["leader"]
    device = confirmed_device(person.user)
    code = current_code(device)
    password_login(person)
    assert client.post(reverse("otp_verify"), {"code": code}).url == reverse("home")
    client.post(reverse("logout"))
    password_login(person)
    replay = client.post(reverse("otp_verify"), {"code": code})
    assert replay.status_code == 400
    assert "already used" in replay.content.decode() or "已被使用" in replay.content.decode()
    assert client.get(reverse("home")).url.startswith(reverse("otp_verify"))
    assert entries("auth.otp", outcome=Outcome.FAILURE)


@pytest.mark.django_db
@pytest.mark.parametrize("steps,accepted", [(-1, True), (1, True), (-3, False), (3, False)])
def test_issue5_codes_one_step_off_are_accepted_and_no_more(ns, password_login, client,
                                                            steps, accepted):
    person = ns.people["secadmin"]
    device = confirmed_device(person.user)
    password_login(person)
    response = client.post(reverse("otp_verify"), {"code": current_code(device, steps=steps)})
    assert (response.status_code == 302) is accepted


@pytest.mark.django_db
def test_issue5_wrong_codes_count_towards_the_lock(ns, password_login, client, settings):
    """Five wrong codes lock the user name like five wrong passwords: the session ends,
    the right password is refused until the lock ends, every step is audited. Logging in
    again between wrong codes does not start the count afresh."""
    settings.WITNESS_LOCKOUT_FAILURES = 5
    person = ns.people["sysadmin"]
    username = person.user.username
    device = confirmed_device(person.user)
    bad = wrong(current_code(device))
    password_login(person)
    for _ in range(3):
        assert client.post(reverse("otp_verify"), {"code": bad}).status_code == 400
    client.post(reverse("logout"))
    password_login(person)  # the right password: LoginLock's run ends, the codes' does not
    assert client.post(reverse("otp_verify"), {"code": bad}).status_code == 400
    last = client.post(reverse("otp_verify"), {"code": bad})
    assert last.status_code == 302 and last.url == reverse("login")
    assert "_auth_user_id" not in client.session
    assert lockout.locked_until(username) is not None
    failures = entries("auth.otp", outcome=Outcome.FAILURE)
    assert len(failures) == 5 and failures[-1].details["failures"] == 5
    locks = entries("auth.lockout")
    assert len(locks) == 1 and locks[0].details["second_factor"] is True
    # locked: even the right password is refused
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert not client.login(username=username, password=PASSWORD)


@pytest.mark.django_db
def test_issue5_wrong_passwords_and_wrong_codes_share_one_lock(ns, password_login, client,
                                                               settings):
    settings.WITNESS_LOCKOUT_FAILURES = 3
    person = ns.people["custodian"]
    device = confirmed_device(person.user)
    client.post(reverse("login"), {"username": person.user.username, "password": "wrong-1"})
    password_login(person)  # success clears the password run (witness.web.lockout)
    Client().post(reverse("login"), {"username": person.user.username, "password": "wrong-2"})
    assert LoginLock.objects.get(username=person.user.username).failures == 1
    client.post(reverse("otp_verify"), {"code": wrong(current_code(device))})
    assert LoginLock.objects.get(username=person.user.username).failures == 2


@pytest.mark.django_db
def test_issue5_a_locked_session_cannot_keep_guessing(ns, password_login, client, settings):
    person = ns.people["leader"]
    device = confirmed_device(person.user)
    password_login(person)
    LoginLock.objects.create(username=person.user.username, failures=5,
                             last_failure_at=lockout.now(),
                             locked_until=lockout.now() + timedelta(minutes=15))
    response = client.post(reverse("otp_verify"), {"code": current_code(device)})
    assert response.status_code == 302 and response.url == reverse("login")
    denied = entries("auth.otp", outcome=Outcome.DENIED)
    assert denied and denied[-1].details["reason"] == "locked"
    assert TOTPDevice.objects.get(pk=device.pk).last_t == -1  # the code was not used


@pytest.mark.django_db
def test_issue5_a_session_of_another_account_does_not_verify(ns, password_login, client):
    """The session's device must belong to the user (django_otp's check)."""
    leader, custodian = ns.people["leader"], ns.people["custodian"]
    other = confirmed_device(custodian.user)
    confirmed_device(leader.user)
    password_login(leader)
    session = client.session
    session["otp_device_id"] = other.persistent_id
    session.save()
    assert client.get(reverse("home")).url.startswith(reverse("otp_verify"))


@pytest.mark.django_db
def test_issue5_browser_calls_to_the_api_need_the_second_factor(ns, password_login, client):
    password_login(ns.people["leader"])
    response = client.get("/api/cases/")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "second_factor_required" and error["zh"] and error["en"]


@pytest.mark.django_db
def test_issue5_htmx_requests_are_told_where_to_go(ns, password_login, client):
    password_login(ns.people["custodian"])
    response = client.get(reverse("device_list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 302 and response["HX-Redirect"].startswith(
        reverse("otp_enrol"))


@pytest.mark.django_db
def test_issue5_the_administrator_resets_a_lost_second_factor(ns, login, client):
    leader = ns.people["leader"]
    device = confirmed_device(leader.user)
    login(ns.people["sysadmin"])
    response = client.post(reverse("user_settings", args=[leader.user.pk]),
                           {"action": "reset_otp"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    reset = entries("auth.otp.reset")
    assert len(reset) == 1 and reset[0].actor_label == ns.people["sysadmin"].user.username
    assert reset[0].details == {"username": leader.user.username, "devices": 1, "confirmed": 1}
    # the leader's next log-in goes to enrolment
    leader_client = Client()
    assert leader_client.post(reverse("login"), {"username": leader.user.username,
                                                 "password": PASSWORD}).status_code == 302
    assert leader_client.get(reverse("home")).url.startswith(reverse("otp_enrol"))


@pytest.mark.django_db
def test_issue5_the_security_administrator_cannot_reset_a_second_factor(ns, login, client):
    """The reset is a technical user setting (user.manage, the system administrator's):
    the security administrator is refused (三员分立) and nothing changes."""
    leader = ns.people["leader"]
    device = confirmed_device(leader.user)
    login(ns.people["secadmin"])
    response = client.post(reverse("user_settings", args=[leader.user.pk]),
                           {"action": "reset_otp"})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
