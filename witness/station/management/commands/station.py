"""``witness station --watch DIR``: ingest every device volume docked under DIR (issue 3
item 5) for the installation's agency. Runs until stopped (Ctrl-C, SIGTERM; children
finish their volume); with ``--once`` it ingests the volumes there now and exits, 1 if any
failed. The custodian's web page (采集站 / Ingest station) shows the same rows."""

from __future__ import annotations

import argparse
import signal
import sys

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.station import services
from witness.station.models import StationVolume, VolumeState


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


class _Live:
    """A terminal view of the docked volumes, refreshed after each poll."""

    def __init__(self):
        from rich.live import Live

        self.live = Live(transient=False, auto_refresh=False)
        self.live.start()

    def __call__(self, station):
        rows = [[r.path.rsplit("/", 1)[-1], r.serial, str(r.get_state_display()),
                 f"{r.files_done}/{r.files_total}",
                 f"{_mib(r.bytes_done)} / {_mib(r.bytes_total)}",
                 f"{(r.rate or 0) / 2**20:,.0f} MB/s" if r.started_at else ""]
                for r in station.rows().filter(present=True).select_related("run").order_by("path")]
        self.live.update(table(_("Docked volumes in %(path)s") % {"path": station.watch_dir},
                               [_("Volume"), _("Device"), _("State"), _("Files"),
                                _("Bytes"), _("Speed")], rows), refresh=True)

    def stop(self):
        self.live.stop()


class Command(WitnessCommand):
    help = gettext_lazy(
        "Ingest station: watch a folder where device volumes are mounted (one sub-folder "
        "each), wait until each volume is stable, and ingest several at once, each in its "
        "own process. Progress is shown here and on the station web page. With --once, "
        "ingest what is docked now and exit (status 1 if any volume failed).")

    def add_command_arguments(self, parser):
        parser.add_argument("--watch", metavar="DIR",
                            help=str(gettext_lazy("the folder where device volumes appear")))
        parser.add_argument("--jobs", type=int, default=4, metavar="N",
                            help=str(gettext_lazy("volumes ingested at once (default 4)")))
        parser.add_argument("--settle", type=float, default=10.0, metavar="SECONDS",
                            help=str(gettext_lazy("how long a volume's listing must stay "
                                                  "unchanged before it is read (default 10)")))
        parser.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                            help=str(gettext_lazy("seconds between looks at the folder "
                                                  "(default 2)")))
        parser.add_argument("--wipe", action="store_true",
                            help=str(gettext_lazy("delete each file from the device once its "
                                                  "stored copy is verified (ING-3)")))
        parser.add_argument("--once", action="store_true",
                            help=str(gettext_lazy("ingest the volumes docked now, then exit")))
        # the child process of one volume (started by the station itself)
        parser.add_argument("--volume-id", type=int, help=argparse.SUPPRESS)

    def run(self, watch=None, jobs=4, settle=10.0, interval=2.0, wipe=False, once=False,
            volume_id=None, **options):
        if volume_id is not None:
            row = services.ingest_volume(volume_id)
            self.failed = row.state != VolumeState.DONE
            return services.summary(StationVolume.objects.filter(pk=row.pk))[0]
        if not watch:
            self.parser_error(_("--watch DIR is required"))
        if jobs < 1 or interval <= 0 or settle < 0:
            self.parser_error(_("--jobs must be at least 1, --interval more than 0 and "
                                "--settle not negative"))
        station = services.Station(watch, settle=settle, jobs=jobs, wipe=wipe)
        stopping = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *a: stopping.append(True))
        live = _Live() if not self.as_json and sys.stderr.isatty() else None
        try:
            station.serve(interval=interval, once=once, stop=lambda: bool(stopping),
                          tick=live)
        finally:
            if live is not None:
                live.stop()
        rows = station.rows().filter(present=True).order_by("path")
        # a service stopped by SIGTERM exits 0; --once reports whether every volume went in
        self.failed = once and rows.filter(state=VolumeState.FAILED).exists()
        return {"watch": station.watch_dir, "volumes": services.summary(rows)}

    def parser_error(self, message):
        from witness.core.commands import ARGUMENT_ERROR
        from witness.core.errors import WitnessError

        raise WitnessError(ARGUMENT_ERROR, code="bad_arguments", detail=message)

    def render(self, data):
        if "volumes" not in data:
            return None
        labels = dict(VolumeState.choices)
        rows = [[v["volume"], v["serial"], str(labels[v["state"]]),
                 f"{v['files_done']}/{v['files']}",
                 ", ".join(f"{k} {n}" for k, n in v["counts"].items() if n),
                 v["error"].replace("\n", " / ")[:200]] for v in data["volumes"]]
        return table(_("Station %(path)s") % {"path": data["watch"]},
                     [_("Volume"), _("Device"), _("State"), _("Files"), _("Outcomes"),
                      _("Error")], rows)

    def handle(self, *args, **options):
        super().handle(*args, **options)
        if getattr(self, "failed", False):
            sys.exit(1)
