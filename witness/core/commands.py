"""Base class for ``witness`` management commands: ``--json``, bilingual errors, progress.

A command implements ``run(**options)`` returning JSON-serialisable data and, for
humans, ``render(data)`` returning text (or a rich renderable). Subcommand groups
(``witness device issue …``) list their subcommands in ``subcommands``; each maps to a
method ``do_<name>(**options)`` and an ``add_<name>_arguments(parser)``.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError


def _default(value: Any):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "__str__"):
        return str(value)
    raise TypeError(type(value))


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=_default)


JSON_HELP = _("print the result as JSON")


class BilingualCommandError(CommandError):
    """A CommandError printed without the class-name prefix, in both languages."""

    def __init__(self, error: WitnessError, as_json: bool):
        self.error = error
        self.as_json = as_json
        super().__init__(error.bilingual, returncode=1)


ARGUMENT_ERROR = _("Wrong arguments: %(detail)s (see --help)")


class WitnessParser(CommandParser):
    """Argument errors in Chinese and English (argparse's own text is English), exit 2."""

    def error(self, message):
        if not self.called_from_command_line:
            raise CommandError(f"Error: {message}")
        from witness.core.errors import WitnessError

        self.print_usage(sys.stderr)
        self.exit(2, WitnessError(ARGUMENT_ERROR, code="bad_arguments",
                                  detail=message).bilingual + "\n")


def byte_bar(*extra_columns):
    """A transient rich bar for bytes: description, bar, done/total, MB/s, ``extra_columns``
    (e.g. a files count), time left (``witness ingest``, ``witness fixity``)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), *extra_columns, TimeRemainingColumn(),
                    transient=True)


class WitnessCommand(BaseCommand):
    subcommands: dict[str, str] = {}  # name -> help text

    @property
    def actor(self) -> str:
        """The audit actor for work started from the command line: ``cli:<os user>``."""
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):  # no passwd entry (containers)
            return "cli"

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # the same parser with bilingual errors (subcommand parsers get the class directly)
        parser.__class__ = WitnessParser
        # help texts are lazy translations; argparse needs plain strings
        if parser.description is not None:
            parser.description = str(parser.description)
        return parser

    def add_arguments(self, parser):
        if not self.subcommands:
            parser.add_argument("--json", action="store_true", help=JSON_HELP)
            self.add_command_arguments(parser)
            return
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND",
                                    parser_class=WitnessParser)
        for name, help_text in self.subcommands.items():
            child = sub.add_parser(name, help=str(help_text), description=str(help_text))
            child.add_argument("--json", action="store_true", help=JSON_HELP)
            method = name.replace("-", "_")  # `role-add` is implemented by add_role_add_…
            getattr(self, f"add_{method}_arguments", lambda p: None)(child)

    def add_command_arguments(self, parser):
        """Arguments of a command without subcommands."""

    def handle(self, *args, **options):
        as_json = options.get("json", False)
        self.as_json = as_json
        try:
            if self.subcommands:
                name = options["subcommand"].replace("-", "_")
                data = getattr(self, f"do_{name}")(**options)
                renderer = getattr(self, f"render_{name}", self.render)
            else:
                data = self.run(**options)
                renderer = self.render
        except WitnessError as exc:
            raise BilingualCommandError(exc, as_json) from exc
        if as_json:
            self.stdout.write(to_json(data))
        else:
            text = renderer(data)
            if text is not None:
                self.print(text)

    def print(self, renderable) -> None:
        if isinstance(renderable, str):
            self.stdout.write(renderable)
            return
        from rich.console import Console

        # Not a terminal (a pipe, a file): wide enough that Chinese text is not cut.
        console = Console(file=self.stdout._out, soft_wrap=True,
                          width=None if self.stdout.isatty() else 200)
        console.print(renderable)

    def run(self, **options):  # pragma: no cover - overridden
        raise NotImplementedError

    def render(self, data) -> str | None:
        if data is None:
            return None
        return to_json(data)

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except BilingualCommandError as exc:
            if not getattr(self, "_called_from_command_line", False):
                raise
            if exc.as_json:
                self.stdout.write(to_json({"ok": False, "error": exc.error.as_dict()}))
            self.stderr.write(exc.error.bilingual)
            sys.exit(exc.returncode)

    def progress(self, items: Iterable, total: int | None, description: str) -> Iterator:
        """Iterate with a rich progress bar when attached to a terminal (not with --json)."""
        if self.as_json or not sys.stderr.isatty():
            yield from items
            return
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(description, total=total)
            for item in items:
                yield item
                bar.advance(task)
