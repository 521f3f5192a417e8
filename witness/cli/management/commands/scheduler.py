"""``witness scheduler``: enqueue the periodic background jobs when they are due
(``witness.cli.schedule``); ``--follow`` keeps doing so every minute (``witness serve``
starts it)."""

from __future__ import annotations

import signal
import time

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.cli import schedule
from witness.core.commands import WitnessCommand


class Command(WitnessCommand):
    help = gettext_lazy("Enqueue the periodic background jobs (fixity audits …) that are due; "
                        "with --follow, keep doing so every minute.")

    def add_command_arguments(self, parser):
        parser.add_argument("--follow", action="store_true",
                            help=str(gettext_lazy("keep running, looking every minute")))

    def run(self, follow=False, **options):
        enqueued = schedule.run_due(actor=self.actor)
        if not follow:
            return {"enqueued": enqueued}
        stopping = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *a: stopping.append(True))
        while not stopping:
            for _second in range(60):
                if stopping:
                    break
                time.sleep(1)
            enqueued += schedule.run_due(actor=self.actor)
        return {"enqueued": enqueued}

    def render(self, data):
        if not data["enqueued"]:
            return _("Nothing is due.")
        return _("Enqueued: %(jobs)s") % {"jobs": ", ".join(data["enqueued"])}
