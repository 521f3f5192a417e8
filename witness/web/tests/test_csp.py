"""Quality of every page (issue 8 item 7): a Content-Security-Policy without
'unsafe-inline' for scripts on every response, no inline scripts or on* handlers in any
template, static files with a content version in their address and a long max-age, and
every form control of the main forms labelled."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from witness.devices import services as devices
from witness.testing import factories as f

WEB = Path(settings.BASE_DIR)


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


@pytest.mark.django_db
def test_every_response_carries_a_csp_without_inline_scripts(site, login, client):
    """Pages, the login page, a 404, a static file and the API all carry the policy."""
    ns = site()
    anonymous = Client()
    responses = [anonymous.get(reverse("login")), anonymous.get("/no-such-page/"),
                 anonymous.get("/static/witness/witness.css")]
    signed_in = login(ns.people["leader"])
    responses += [signed_in.get(reverse("home")), signed_in.get(reverse("search"), {"q": "x"}),
                  signed_in.get(reverse("compliance_dashboard")), signed_in.get("/api/")]
    for response in responses:
        csp = directives(response)
        assert csp["default-src"] == ["'self'"]
        assert csp["script-src"] == ["'self'"], response
        assert "'unsafe-inline'" not in csp["script-src"]
        assert "'unsafe-eval'" not in csp["script-src"]
        assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
        assert "blob:" in csp["media-src"]


TEMPLATE_DIRS = [p for p in WEB.rglob("templates") if p.is_dir()]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            if INLINE_SCRIPT.search(text) or HANDLER.search(text):
                offenders.append(str(path.relative_to(WEB)))
    assert offenders == []


@pytest.mark.django_db
def test_static_files_are_versioned_and_cached_long(site, login):
    """Every {% static %} address carries ?v=<digest>; WhiteNoise answers it with a year's
    max-age; the digest is the file's content, so a changed file gets a new address."""
    ns = site()
    html = login(ns.people["leader"]).get(reverse("home")).content.decode()
    addresses = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert addresses and all(re.search(r"\?v=[0-9a-f]{12}$", a) for a in addresses)
    css = next(a for a in addresses if "witness.css" in a)
    response = Client().get(css)
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"]
    import hashlib

    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert css.endswith(hashlib.sha256(content).hexdigest()[:12])


def test_chart_library_is_vendored_with_its_licence():
    uplot = WEB / "web" / "static" / "vendor" / "uplot"
    assert (uplot / "uPlot.iife.min.js").stat().st_size > 30_000
    assert "MIT License" in (uplot / "LICENSE").read_text(encoding="utf-8")


class Controls(HTMLParser):
    """The form controls of a page and whether each has a label."""

    def __init__(self):
        super().__init__()
        self.label_for, self.controls, self.in_label = set(), [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea"):
            if a.get("type") in ("hidden", "submit", "button", "reset", "image"):
                return
            self.controls.append((tag, a.get("name"), a.get("id"),
                                  bool(a.get("aria-label") or a.get("aria-labelledby")
                                       or a.get("title") or self.in_label)))

    def handle_endtag(self, tag):
        if tag == "label" and self.in_label:
            self.in_label -= 1

    def unlabelled(self):
        return [(tag, name) for tag, name, id_, ok in self.controls
                if not ok and (not id_ or id_ not in self.label_for)]


@pytest.mark.django_db
def test_every_control_of_the_main_forms_is_labelled(site, login, client):
    ns = site()
    device = f.DeviceFactory(unit=ns.field, custodian=ns.people["custodian"])
    spare = f.DeviceFactory(unit=ns.field)
    devices.issue_device(device, ns.people["officer"])
    devices.record_check(device, ns.people["custodian"], battery_percent=90,
                         free_storage_mb=100, device_time=timezone.now())
    pages = {
        None: [reverse("login")],
        "officer": [reverse("home"), reverse("search"), reverse("activity_create"),
                    reverse("device_check", args=[device.pk]), reverse("activity_list")],
        "custodian": [reverse("device_issue", args=[spare.pk]), reverse("device_register"),
                      reverse("device_event", args=[device.pk]), reverse("ledger"),
                      reverse("ingest_upload"), reverse("compliance_dashboard")],
        "leader": [reverse("case_create"), reverse("case_list"), reverse("search"),
                   reverse("compliance_dashboard"), reverse("inbox"), reverse("finding_list")],
    }
    checked = 0
    for role, urls in pages.items():
        client.logout()
        browser = login(ns.people[role]) if role else client
        for url in urls:
            response = browser.get(url)
            assert response.status_code == 200, url
            parser = Controls()
            parser.feed(response.content.decode())
            checked += len(parser.controls)
            assert parser.unlabelled() == [], url
    assert checked > 40
