"""``witness preserve OBJECT --out DIR [--media dvd|bd25|bd50] [--capacity BYTES]
[--dry-run] [--as USERNAME]``: the disc images of a recording, an activity or a case, with
two label PDFs (issue 7 item 4; RET-2, A16, EVD-1). Audited ``preservation.preserve``."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.confidentiality.cli import refusals, subject_for
from witness.core.commands import WitnessCommand, byte_bar
from witness.evidence import export
from witness.preservation import discs


class Command(WitnessCommand):
    help = gettext_lazy("Preserve a recording, an activity or a case on discs: one ISO 9660 "
                        "image per disc (each a signed BagIt bag, read back and checked), "
                        "spanning several discs where needed, and a label PDF for each of "
                        "the two copies.")

    def add_command_arguments(self, parser):
        parser.add_argument("object", metavar="OBJECT",
                            help=_("recording:ID, activity:ID, or case:NUMBER (or case:ID)"))
        parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                            help=_("the folder to make (must not exist or be empty)"))
        parser.add_argument("--media", choices=sorted(discs.MEDIA), default="dvd",
                            help=_("the disc medium (default dvd)"))
        parser.add_argument("--capacity", type=int, metavar="BYTES",
                            help=_("a smaller capacity per disc, in bytes (for tests)"))
        parser.add_argument("--dry-run", action="store_true",
                            help=_("only show how the files go onto discs"))
        parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                            help=_("the user name of the person exporting; their roles "
                                   "decide"))

    def run(self, *, object, out, media="dvd", capacity=None, dry_run=False, as_user=None,
            **options):
        with refusals():
            subject = subject_for(as_user) if as_user else None
            obj = export.resolve(object)
            kwargs = {"media": media, "capacity": capacity, "subject": subject,
                      "actor": None if subject else self.actor, "dry_run": dry_run}
            if dry_run or self.as_json or not self.stderr.isatty():
                return discs.preserve(obj, out, **kwargs)
            total = sum(r.blob.size for r in export.recordings_of(obj))
            with byte_bar() as bar:
                task = bar.add_task(_("Preserving"), total=total or None)
                return discs.preserve(obj, out, progress=lambda n: bar.advance(task, n),
                                      **kwargs)

    def render(self, data):
        lines = [(_("Plan for %(object)s: %(discs)s disc(s), %(files)s files, %(bytes)s "
                    "bytes (nothing written).") if data.get("dry_run") else
                  _("%(object)s preserved in %(path)s: %(discs)s disc image(s), %(files)s "
                    "files, %(bytes)s bytes, each image read back and checked.")) % data]
        for e in data["layout"]:
            lines.append(f"  {e['image']}: {len(e['files'])} files, {e['bytes']} bytes"
                         + (f", SHA-256 {e['sha256']}" if "sha256" in e else ""))
        return "\n".join(lines)
