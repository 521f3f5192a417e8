"""``witness fixity``: re-read stored originals and compare their digests (ING-4).

Without options it checks the due batch (what the daily job checks) and lists both stores
for untracked objects; ``--all`` checks every original (and lists), ``--sample N`` N random
ones, ``--since DATE`` those stored since then. ``--repair`` rewrites a damaged or missing
copy from the other, verified copy. ``--replicate-missing`` copies to the replica store the
originals that have no copy there yet. Exit status 0 only if every result is ok.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.core.cli_args import choice_label, parse_local_datetime
from witness.core.commands import WitnessCommand, byte_bar
from witness.core.errors import WitnessError
from witness.core.tables import table
from witness.storage import fixity, replica
from witness.storage.config import get_replica
from witness.storage.models import Copy, FixityResult, held_blobs

OUTCOMES = {  # replica.replicate's outcomes, as shown
    "present": gettext_lazy("recorded already"),
    "verified": gettext_lazy("found intact in the replica store"),
    "copied": gettext_lazy("copied"),
    "repaired": gettext_lazy("damaged copy replaced"),
    "failed": gettext_lazy("failed"),
}


def positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number


def parse_since(text: str) -> datetime:
    """A date (local midnight) or a local date and time."""
    value = text.strip()
    if len(value) > 10:  # with a time of day: the shared parser and its messages
        return parse_local_datetime(value)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise WitnessError(
            gettext_lazy("%(text)s is not a date; write it as 2026-11-20, or with a time as "
                         "2026-11-20T09:30."), code="bad_date", text=text) from None
    return timezone.make_aware(datetime.combine(day, time()),
                               timezone.get_default_timezone())


class Command(WitnessCommand):
    help = gettext_lazy(
        "Fixity audit: re-read stored originals uncached and compare every recorded digest "
        "(by default the day's due batch). Exit status 1 if anything is not ok.")

    def add_command_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--all", action="store_true",
                           help=str(gettext_lazy("check every original")))
        which.add_argument("--sample", type=positive, metavar="N",
                           help=str(gettext_lazy("check N originals chosen at random")))
        which.add_argument("--since", metavar="DATE",
                           help=str(gettext_lazy("check the originals stored since DATE")))
        which.add_argument("--replicate-missing", action="store_true",
                           help=str(gettext_lazy("copy to the replica store the originals "
                                                 "that have no copy there yet")))
        parser.add_argument("--repair", action="store_true",
                            help=str(gettext_lazy("repair a damaged or missing copy from "
                                                  "the other copy, once that one verifies")))

    def run(self, all=False, sample=None, since=None, replicate_missing=False, repair=False,
            **options):
        if replicate_missing:
            return self.replicate()
        untracked = False
        if since is not None:
            selection = held_blobs().filter(stored_at__gte=parse_since(since))
        elif sample is not None:
            selection = fixity.sample(sample)
        elif all:
            selection, untracked = held_blobs(), True
        else:
            selection, untracked = fixity.due_batch(), True
        second = get_replica()
        with self.bytes_bar(selection, second) as progress:
            report = fixity.run_checks(selection, replica=second or False, fix=repair,
                                       untracked=untracked, actor=self.actor,
                                       progress=progress)
        self.failed = not report.ok
        return report.as_dict()

    def replicate(self) -> dict:
        second = get_replica()
        if second is None:
            raise replica.no_replica()
        ids = list(replica.missing(second).values_list("pk", flat=True))
        outcomes: dict[str, int] = {}
        failures = []
        for pk in self.progress(ids, len(ids), _("Copying to the replica store")):
            try:
                outcome = replica.replicate(pk, replica=second, actor=self.actor)
            except WitnessError as exc:
                outcome = "failed"
                failures.append({"blob": pk, "error": exc.as_dict()})
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        self.failed = bool(failures)
        return {"ok": not failures, "replicated": outcomes, "failures": failures}

    def bytes_bar(self, selection, second):
        """A rich progress bar in bytes on a terminal; else nothing."""
        import contextlib

        if self.as_json or not sys.stderr.isatty():
            return contextlib.nullcontext(None)
        return _Bar(_("Checking originals"), fixity.planned_bytes(selection, second))

    def render(self, data):
        from rich.console import Group

        if "replicated" in data:
            rows = [[OUTCOMES.get(name, name), n] for name, n in data["replicated"].items()]
            parts = [table(_("Copies to the replica store"), [_("outcome"), _("count")], rows)]
            parts += [table(_("Failures"), [_("blob"), _("error")],
                            [[f["blob"], f["error"]["zh"]] for f in data["failures"]])
                      ] if data["failures"] else []
            return Group(*parts)
        parts = [table(_("Fixity results (%(count)s originals)") % {"count": data["blobs"]},
                       [_("result"), _("count")],
                       [[choice_label(FixityResult, r), n] for r, n in data["counts"].items()])]
        if data["unreplicated"]:
            parts.append(_("%(count)s originals have no copy in the replica store yet "
                           "(witness fixity --replicate-missing).")
                         % {"count": data["unreplicated"]})
        if data["failures"]:
            parts.append(table(
                _("Failures"), [_("result"), _("copy"), _("storage key"), _("blob"),
                                _("mismatched"), _("note")],
                [[choice_label(FixityResult, f["result"]), choice_label(Copy, f["copy"]),
                  f["key"], f["blob"], ", ".join(f["mismatched"]), _note(f["details"])]
                 for f in data["failures"]]))
        return Group(*parts)

    def handle(self, *args, **options):
        super().handle(*args, **options)
        if getattr(self, "failed", False) and getattr(self, "_called_from_command_line", False):
            sys.exit(1)


def _note(details: dict) -> str:
    notes = []
    if details.get("aside"):
        notes.append(_("damaged bytes kept at %(place)s") % {"place": details["aside"]})
    if details.get("repairable_from"):
        notes.append(_("repairable from the other copy (--repair)"))
    if details.get("no_good_copy"):
        notes.append(_("no good copy to repair from"))
    if details.get("no_replica"):
        notes.append(_("no replica to repair from"))
    if details.get("repair_error"):
        notes.append(details["repair_error"]["zh"])
    if details.get("error"):
        notes.append(str(details["error"]))
    return "; ".join(notes)


class _Bar:
    def __init__(self, description: str, total: int):
        self.bar = byte_bar()
        self.task = self.bar.add_task(description, total=total)

    def __enter__(self):
        self.bar.__enter__()
        return lambda n: self.bar.advance(self.task, n)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)
