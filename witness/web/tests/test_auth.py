"""Log in, log out, language, and the audit entries of authentication events."""

import pytest
from django.urls import reverse

from witness.audit.models import ActorType, AuditEntry, Outcome
from witness.web.tests.conftest import PASSWORD

PROTECTED = ["home", "device_list", "device_register", "my_devices", "ledger", "case_list",
             "case_create", "activity_list", "activity_create"]


@pytest.mark.django_db
def test_login_page_is_chinese_by_default(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "登录" in html
    assert "见证" in html


@pytest.mark.django_db
def test_login_page_is_english_after_set_language(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    html = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in html
    assert "Log in" in html
    assert "登录" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("name", PROTECTED)
def test_anonymous_users_are_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


@pytest.mark.django_db
def test_login_success_redirects_home_and_is_audited(client, site):
    ns = site()
    person = ns.people["officer"]
    response = client.post(reverse("login"), {"username": person.user.username,
                                              "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("home")
    entry = AuditEntry.objects.filter(action="auth.login").latest("id")
    assert entry.outcome == Outcome.SUCCESS
    assert entry.actor_type == ActorType.USER
    assert entry.actor_label == person.user.username
    assert entry.client_addr == "127.0.0.1"


@pytest.mark.django_db
def test_failed_login_shows_chinese_message_and_is_audited(client, site):
    ns = site()
    username = ns.people["officer"].user.username
    response = client.post(reverse("login"), {"username": username, "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()
    entry = AuditEntry.objects.filter(action="auth.login").latest("id")
    assert entry.outcome == Outcome.FAILURE
    assert entry.actor_type == ActorType.ANONYMOUS
    assert entry.details == {"username": username}
    assert "wrong" not in str(entry.details)


@pytest.mark.django_db
def test_logout_is_a_post_and_is_audited(client, site):
    ns = site()
    user = ns.people["custodian"].user
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == reverse("login")
    entry = AuditEntry.objects.filter(action="auth.logout").latest("id")
    assert entry.actor_label == user.username
    assert entry.outcome == Outcome.SUCCESS
    assert client.get(reverse("home")).status_code == 302
