"""Helpers for the device tests: run `witness device …` in-process and read its JSON."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from witness.testing import factories as f


def iso(moment) -> str:
    """A time as the CLI takes it: ISO 8601 local time without an offset."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")


def hour_ago():
    return timezone.now().replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def cli():
    """``cli("issue", serial, "--to", badge)`` → the command's --json output, parsed.
    A refused or bad command raises BilingualCommandError (exit 1 from a shell)."""

    def run(*args):
        out = io.StringIO()
        call_command("device", *[str(a) for a in args], "--json", stdout=out)
        return json.loads(out.getvalue())

    return run


@pytest.fixture
def cli_text():
    """The human (non-JSON) output of a `witness device …` command."""

    def run(*args):
        out = io.StringIO()
        call_command("device", *[str(a) for a in args], stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def check_args():
    """The pre-use check values for an issue at ``at``, with the device clock ``drift``
    seconds ahead."""

    def make(at, drift=0, battery=90, free_mb=30000):
        return ["--at", iso(at), "--battery", battery, "--free-mb", free_mb,
                "--device-time", iso(at + timedelta(seconds=drift))]

    return make


@pytest.fixture
def camera():
    """A body camera recording image and sound in ``unit``."""

    def make(unit, **kwargs):
        return f.DeviceFactory(unit=unit, **kwargs)

    return make
