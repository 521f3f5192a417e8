"""Running Debian's ffmpeg (or another media tool) without a shell: one place for the
timeout and for turning a missing binary, a time-out or a failure into a bilingual error.
Used by the derivative jobs, the demo footage and the test media."""

from __future__ import annotations

import subprocess

from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError

TIMEOUT = 300


def run(cmd: list[str], timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    """Run ``cmd`` (stdin closed, output captured); WitnessError with the last line of its
    stderr when it is missing, takes longer than ``timeout`` seconds or fails."""
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise WitnessError(_("ffmpeg is not installed: install the Debian package ffmpeg "
                             "(apt-get install ffmpeg)."), code="ffmpeg_missing") from None
    except subprocess.TimeoutExpired:
        raise WitnessError(_("ffmpeg did not finish within %(seconds)s seconds."),
                           code="ffmpeg_timeout", seconds=timeout) from None
    if done.returncode:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1][:300] if lines else ""
        raise WitnessError(_("ffmpeg failed (exit status %(status)s): %(error)s"),
                           code="ffmpeg_failed", status=done.returncode, error=detail)
    return done


def ffmpeg(*args: str, timeout: int = TIMEOUT) -> None:
    """``ffmpeg -nostdin -v error -y ARGS…``."""
    run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], timeout)
