"""One real browser: log in through the login page in Chromium and see the home page."""

import pytest
from django.utils import timezone

from witness.accounts.testing import confirmed_device, current_code
from witness.devices import services as devices
from witness.testing import factories as f
from witness.web.tests.conftest import PASSWORD


def log_in(page, base: str, user) -> None:
    """Password, then the second factor the role requires (issue 5 item 6: leaders and
    custodians must use TOTP), with the code the device's app would show."""
    device = confirmed_device(user)
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit].button-primary")
    page.wait_for_url(f"{base}/account/otp/verify/**")
    page.fill("input[name=code]", current_code(device))
    page.click("main button[type=submit].button-primary")
    page.wait_for_url(f"{base}/")


@pytest.mark.browser
def test_login_in_chromium_lands_on_the_home_page_with_counts(
        browser, live_server, transactional_db, site, tmp_path):
    ns = site()
    for i in range(3):
        device = f.DeviceFactory(unit=ns.field, serial=f"DSJ-BR-{i}")
        if i < 2:
            devices.issue_device(device, ns.people["officer"], at=timezone.now())
    f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"])

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/login/")
    assert "登录" in page.title()
    log_in(page, live_server.url, ns.people["leader"].user)

    assert page.locator("[data-count=devices-out] .card-value").inner_text() == "2"
    assert page.locator("[data-count=open-cases] .card-value").inner_text() == "1"
    assert page.locator("#equipment-ratio tbody tr").count() == 3
    assert page.evaluate("typeof window.htmx") == "object"
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    assert (tmp_path / "home.png").stat().st_size > 10_000
    assert problems == []
    context.close()


@pytest.mark.browser
def test_htmx_swaps_a_refused_return_into_the_row(browser, live_server, transactional_db,
                                                  site):
    """htmx 2 leaves 4xx answers unswapped unless told: static/witness/htmx-config.js
    tells it to swap 400/409/422, so the refusal shows in the row (DEV-3)."""
    ns = site()
    device = f.DeviceFactory(unit=ns.field, serial="DSJ-HX-1")
    devices.issue_device(device, ns.people["officer"])

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    scripts = []
    page.on("pageerror", lambda exc: scripts.append(str(exc)))
    page.goto(f"{live_server.url}/login/")
    log_in(page, live_server.url, ns.people["custodian"].user)
    page.goto(f"{live_server.url}/devices/")

    devices.return_device(device)  # someone else took it back meanwhile
    with page.expect_response(lambda r: "/return/" in r.url) as answer:
        page.click(f"#device-{device.pk} button[type=submit]")
    assert answer.value.status == 409
    errors = page.locator(f"#device-{device.pk} .field-error")
    errors.first.wait_for(timeout=5000)
    lines = errors.all_inner_texts()
    assert len(lines) == 2 and "DSJ-HX-1" in lines[0] and "nothing to return" in lines[1]
    assert page.url == f"{live_server.url}/devices/"
    assert scripts == []
    context.close()
