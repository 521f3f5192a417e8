"""Chinese first: an English browser still gets Chinese until the user switches."""

import pytest


@pytest.mark.django_db
def test_english_accept_language_is_ignored(client):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "登录" in response.content.decode()
    assert response["Content-Language"] == "zh-hans"


@pytest.mark.django_db
def test_the_switch_sets_english_and_back(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert "Log in" in client.get("/login/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/login/"})
    assert "登录" in client.get("/login/").content.decode()


@pytest.mark.django_db
def test_an_unknown_language_cookie_falls_back_to_chinese(client):
    client.cookies["django_language"] = "fr"
    assert "登录" in client.get("/login/").content.decode()
