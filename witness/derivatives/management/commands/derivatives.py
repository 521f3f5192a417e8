"""``witness derivatives``: playback copies, poster frames and waveforms (issue 3 item 6).

Without options it only shows how many derivatives stand where. ``--recording ID`` makes
that recording's pending or failed derivatives now, in this process; ``--pending`` does so
for every recording with work left (the background worker does the same job). Exit status
1 if a derivative made here failed.
"""

from __future__ import annotations

import sys

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.core.cli_args import choice_label, json_value, short_time
from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.derivatives import services
from witness.derivatives.models import Kind, Status


def _row(d) -> dict:
    return {"id": d.pk, "recording": d.recording_id, "kind": d.kind, "status": d.status,
            "sha256": d.blob.sha256 if d.blob else None,
            "size": d.blob.size if d.blob else None,
            "error": d.error, "reason": d.reason, "tool": d.tool, "attempts": d.attempts,
            "finished_at": json_value(d.finished_at)}


class Command(WitnessCommand):
    help = gettext_lazy(
        "Playback copies, poster frames and audio waveforms of recordings: make the pending "
        "and failed ones now (--recording or --pending), or show how many stand where. "
        "Exit status 1 if one made here failed.")

    def add_command_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--recording", type=int, metavar="ID",
                           help=str(gettext_lazy("make the derivatives of this recording")))
        which.add_argument("--pending", action="store_true",
                           help=str(gettext_lazy("make the derivatives of every recording "
                                                 "with pending or failed ones")))

    def run(self, recording=None, pending=False, **options):
        made = []
        if recording is not None:
            made = services.make_for_recording(recording, actor=self.actor)
        elif pending:
            ids = list(services.outstanding().values_list("pk", flat=True))
            for pk in self.progress(ids, len(ids), _("Making derivatives")):
                made += services.make_for_recording(pk, actor=self.actor)
        self.failed = any(d.status == Status.FAILED for d in made)
        return {"derivatives": [_row(d) for d in made], "counts": services.counts()}

    def render(self, data):
        from rich.console import Group

        parts = []
        if data["derivatives"]:
            parts.append(table(
                _("Derivatives"),
                [_("recording"), _("kind"), _("status"), "SHA-256", _("size (bytes)"),
                 _("finished at"), _("note")],
                [[d["recording"], choice_label(Kind, d["kind"]),
                  choice_label(Status, d["status"]), (d["sha256"] or "")[:16], d["size"],
                  short_time(d["finished_at"]),
                  (d["error"] or d["reason"]).replace("\n", " / ")]
                 for d in data["derivatives"]]))
        statuses = list(Status)
        parts.append(table(
            _("Derivatives by status"),
            [_("kind"), *[str(s.label) for s in statuses]],
            [[choice_label(Kind, kind), *[by_status.get(s.value, 0) for s in statuses]]
             for kind, by_status in data["counts"].items()]))
        return Group(*parts)

    def handle(self, *args, **options):
        super().handle(*args, **options)
        if getattr(self, "failed", False) and getattr(self, "_called_from_command_line", False):
            sys.exit(1)
