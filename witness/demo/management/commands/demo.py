from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.demo import data, recordings


class Command(WitnessCommand):
    help = _("Load the demo agency (two units, people in every role, six devices, cases and a "
             "week of activities with their recordings, made with ffmpeg and ingested). "
             "Idempotent: does nothing if it exists.")

    def add_command_arguments(self, parser):
        parser.add_argument("--no-recordings", action="store_true",
                            help=str(_("do not make and ingest the demo recordings")))

    def run(self, **options):
        result = data.build()
        if options.get("no_recordings"):
            loaded = recordings.Loaded("skipped", str(_("--no-recordings given")))
        else:
            loaded = recordings.load(result.agency)
        return {
            "created": result.created,
            "agency": result.agency.name,
            "password": data.PASSWORD,
            "logins": [{"username": u, "name": n, "roles": r} for u, n, r in result.logins],
            "recordings": loaded.as_dict(),
        }

    def render(self, result):
        title = str(_("Demo agency %(name)s: %(state)s") % {
            "name": result["agency"],
            "state": _("created") if result["created"] else _("already present")})
        rows = [[x["username"], result["password"], x["name"], x["roles"]]
                for x in result["logins"]]
        columns = [str(_("Username")), str(_("Password")), pgettext("person", "name"),
                   str(_("Roles"))]
        out = table(title, columns, rows)
        out.caption = self._recordings_line(result["recordings"])
        return out

    @staticmethod
    def _recordings_line(loaded: dict) -> str:
        if loaded["state"] == "skipped":
            return str(_("Demo recordings: skipped (%(reason)s)") % {"reason": loaded["reason"]})
        if loaded["state"] == "already present":
            return str(_("Demo recordings: already present"))
        files = loaded["files"]
        return str(_("Demo recordings: %(volumes)s volumes ingested, %(stored)s files stored, "
                     "%(failed)s failed, in %(seconds)s s") % {
            "volumes": loaded["volumes"], "stored": files.get("stored", 0),
            "failed": files.get("failed", 0), "seconds": loaded["seconds"]})
