"""Helpers of the end-to-end browser suite (test_e2e.py, issue 8 "Done when"): a logged-in
browser session per person that records every console error, page error, failed answer and
request to another host; screenshots kept as test artefacts; big generated media."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from witness.accounts.testing import confirmed_device, current_code
from witness.core.ffmpeg import ffmpeg
from witness.web.tests.conftest import PASSWORD

REPO = Path(__file__).resolve().parents[3]
MB = 1024 * 1024


def artefacts() -> Path:
    """Where screenshots go: ``$WITNESS_ARTIFACTS`` or ``<repo>/test-artifacts/screenshots``
    (git-ignored)."""
    folder = Path(os.environ.get("WITNESS_ARTIFACTS") or REPO / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Session:
    """One person's own browser context (own cookies: a separate session) and page.

    Every request to a host other than the server's is aborted and recorded; console errors,
    uncaught page errors and answers ≥ 500 are recorded; ``check()`` asserts none of them."""

    def __init__(self, browser, base: str, person, *, role: str = ""):
        self.base, self.person, self.role = base, person, role or "person"
        self.server = urlsplit(base).netloc
        self.context = browser.new_context(locale="zh-CN",
                                           viewport={"width": 1366, "height": 768})
        self.problems: list[str] = []
        self.foreign: list[str] = []
        self.context.route(self._is_foreign, self._refuse)
        self.context.on("request", self._request)
        self.context.on("response", self._response)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    # -- watchers ------------------------------------------------------------------------

    def _is_foreign(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != self.server

    def _refuse(self, route) -> None:
        self.foreign.append(route.request.url)
        route.abort()

    def _request(self, request) -> None:
        if self._is_foreign(request.url) and request.url not in self.foreign:
            self.foreign.append(request.url)

    def _response(self, response) -> None:
        if response.status >= 500:
            self.problems.append(f"{response.status} {response.url}")

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.problems.append(f"console: {msg.text}")

    def check(self, where: str = "") -> None:
        """Every page so far rendered without console errors and asked no other host."""
        assert self.problems == [], f"{self.role} {where}: {self.problems}"
        assert self.foreign == [], f"{self.role} {where}: requests to other hosts {self.foreign}"

    # -- actions -------------------------------------------------------------------------

    def log_in(self) -> None:
        """Password, then the TOTP code the person's app would show (issue 5 item 6)."""
        page, user = self.page, self.person.user
        device = confirmed_device(user)
        page.goto(f"{self.base}/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].button-primary")
        page.wait_for_url(f"{self.base}/account/otp/verify/**")
        page.fill("input[name=code]", current_code(device))
        page.click("main button[type=submit].button-primary")
        page.wait_for_url(f"{self.base}/")

    def go(self, path: str, shot: str | None = None):
        answer = self.page.goto(f"{self.base}{path}")
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        if shot:
            self.shot(shot)
        return answer

    def shot(self, name: str) -> Path:
        """A full-page screenshot kept as a test artefact."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.role}-{name}")
        path = artefacts() / f"{safe}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5_000
        return path

    def close(self) -> None:
        self.context.close()


def big_video(path, *, seconds: int, megabytes: int, start: datetime) -> Path:
    """An H.264/AAC MP4 (moov first: playable while it loads) of at least ``megabytes``,
    made quickly: a constant bit rate with filler data (x264 ``nal-hrd=cbr``) instead of a
    costly high-detail picture. ``start`` is the container's creation_time (the
    recording's start at ingest)."""
    path = Path(path)
    bits = megabytes * MB * 8 * 1.08 // seconds
    stamp = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=640x360:rate=25",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050",
           "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
           "yuv420p", "-b:v", str(int(bits)), "-minrate", str(int(bits)),
           "-maxrate", str(int(bits)), "-bufsize", str(int(bits)),
           "-x264-params", "nal-hrd=cbr", "-g", "25", "-c:a", "aac",
           "-metadata", f"creation_time={stamp}", "-movflags", "+faststart",
           "-fflags", "+bitexact", str(path))
    assert path.stat().st_size >= megabytes * MB, path.stat().st_size
    return path
