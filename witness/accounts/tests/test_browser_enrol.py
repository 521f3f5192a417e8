"""Enrolment of a second factor in a real browser: the QR code is drawn inline (no outside
request), the key is readable, and the first code lets the custodian in (issue 5 item 6)."""

import base64

import pytest
from django_otp.oath import totp

from witness.testing.factories import PASSWORD


@pytest.mark.browser
def test_issue5_enrolment_in_chromium(browser, live_server, transactional_db, site):
    ns = site()
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    outside, problems = [], []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith(live_server.url) else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", ns.people["custodian"].user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].button-primary")
    page.wait_for_url(f"{live_server.url}/account/otp/enrol/**")
    box = page.locator("#otp-enrol figure svg").bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100
    secret = page.locator("#otp-secret").inner_text().strip()
    page.fill("input[name=code]", f"{totp(base64.b32decode(secret)):06d}")
    page.click("#otp-enrol button[type=submit].button-primary")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("[data-count=devices-out]").count() == 1
    assert outside == [] and problems == []
    context.close()
