"""Every `witness` command: --help works, and wrong arguments are refused in Chinese and
English with a non-zero exit (argparse's own text is English)."""

import subprocess
import sys

import pytest


def witness(*args):
    return subprocess.run([sys.executable, "-m", "witness", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ("device", "check", "DSJ-1", "--battery", "abc"),
    ("device",),
    ("case", "add", "--retention-class", "5y"),
])
def test_wrong_arguments_are_refused_in_both_languages(args):
    result = witness(*args)
    assert result.returncode == 2
    assert "参数有误" in result.stderr
    assert "Wrong arguments" in result.stderr


@pytest.mark.parametrize("command", ["demo", "serve", "device", "case", "activity", "profile",
                                     "import", "person", "ingest", "derivatives", "station",
                                     "naming", "audit", "fixity", "scheduler"])
def test_every_command_has_help(command):
    result = witness(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--json" in result.stdout or "SUBCOMMAND" in result.stdout
