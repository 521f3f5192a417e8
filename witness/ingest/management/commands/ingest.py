"""``witness ingest PATH``: store, verify and attribute every media file of a device volume
(issue 3; ING-1..ING-4, DEV-3, DEV-4, ACT-5). Exit 0 only if no file failed."""

from __future__ import annotations

import sys

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.core.commands import WitnessCommand, byte_bar
from witness.core.tables import table
from witness.ingest import services
from witness.recordings.models import Outcome


class _Bar(services.Progress):
    """A rich progress bar: files, bytes, MB/s (only on a terminal, never with --json)."""

    def __init__(self):
        from rich.progress import TextColumn

        self.bar = byte_bar(TextColumn("{task.fields[files]}"))
        self.files = self.done_files = 0

    def start(self, files, total_bytes):
        self.files = files
        self.bar.start()
        self.task = self.bar.add_task(_("Ingesting"), total=total_bytes, files=f"0/{files}")

    def file(self, entry):
        self.bar.update(self.task, description=entry.display[-40:])

    def advance(self, n):
        self.bar.advance(self.task, n)

    def done(self, item):
        if item.outcome != Outcome.SKIPPED:
            self.done_files += 1
            self.bar.update(self.task, files=f"{self.done_files}/{self.files}")

    def stop(self):
        self.bar.stop()


class Command(WitnessCommand):
    help = gettext_lazy(
        "Ingest a mounted device volume: store every media file once, verified by reading "
        "it back, attribute it to the device's holder and activity, and report each file "
        "(stored, duplicate, skipped, failed). Exit status 1 if any file failed.")

    def add_command_arguments(self, parser):
        parser.add_argument("path", metavar="PATH",
                            help=str(gettext_lazy("the mounted volume or folder")))
        parser.add_argument("--device", metavar="SERIAL",
                            help=str(gettext_lazy("the device's serial number, when the "
                                                  "volume does not name it")))
        parser.add_argument("--wipe", action="store_true",
                            help=str(gettext_lazy("delete each file from the device once its "
                                                  "stored copy is verified (ING-3)")))
        parser.add_argument("--backfill", action="store_true",
                            help=str(gettext_lazy("historical footage: no ledger to match, "
                                                  "recordings go to the assignment queue")))

    def run(self, path, device=None, wipe=False, backfill=False, **options):
        bar = _Bar() if not self.as_json and sys.stderr.isatty() else None
        try:
            result = services.ingest_volume(path, device_serial=device, wipe=wipe,
                                            backfill=backfill, actor=self.actor, progress=bar)
        finally:
            if bar is not None and hasattr(bar, "task"):
                bar.stop()
        data = services.summary(result)
        self.failed = bool(data["counts"].get(Outcome.FAILED))
        return data

    def render(self, data):
        labels = dict(Outcome.choices)
        rows = [[f["path"], str(labels[f["outcome"]]),
                 (f["digests"] or {}).get("sha256", "")[:16], f["reason"].replace("\n", " / ")]
                for f in data["files"]]
        counts = ", ".join(f"{labels[k]} {v}" for k, v in data["counts"].items())
        from rich.console import Group
        from rich.text import Text

        return Group(table(_("Ingest of %(volume)s") % {"volume": data["volume"]},
                           [_("File"), _("Outcome"), "SHA-256", _("Reason")], rows),
                     Text(counts))

    def handle(self, *args, **options):
        super().handle(*args, **options)
        if getattr(self, "failed", False):
            sys.exit(1)
