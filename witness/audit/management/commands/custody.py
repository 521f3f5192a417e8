"""``witness custody OBJECT --out FILE``: the chain-of-custody report of a recording, an
activity or a case (issue 4 item 5), as a PDF in Chinese or as JSON; writing it is audited
(``custody.report``, with the file's SHA-256)."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.audit import custody
from witness.core.commands import WitnessCommand


class Command(WitnessCommand):
    help = gettext_lazy("Chain-of-custody report of a recording, an activity or a case: every "
                        "audit entry touching it, with inclusion proofs against a signed "
                        "checkpoint. PDF (in Chinese) or JSON.")

    def add_command_arguments(self, parser):
        parser.add_argument("object", metavar="OBJECT",
                            help=_("recording:ID, activity:ID, or case:NUMBER (or case:ID)"))
        parser.add_argument("--out", type=Path, required=True,
                            help=_("the file to write (.pdf or .json)"))
        parser.add_argument("--format", choices=custody.FORMATS,
                            help=_("pdf or json (default: from the file name)"))

    def run(self, **o):
        obj = custody.resolve(o["object"])
        custody.format_for(o["out"], o["format"])  # refuse a bad name before any work
        return custody.write_report(obj, o["out"], o["format"], actor=self.actor)

    def render(self, data):
        return _("%(entries)s audit entries of %(object)s written to %(out)s (%(format)s, "
                 "SHA-256 %(sha256)s), proved against the checkpoint of tree size "
                 "%(tree_size)s.") % data
