from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.demo import data


class Command(WitnessCommand):
    help = _("Load the demo agency (two units, people in every role, six devices, cases and a "
             "week of activities). Idempotent: does nothing if it exists.")

    def run(self, **options):
        result = data.build()
        return {
            "created": result.created,
            "agency": result.agency.name,
            "password": data.PASSWORD,
            "logins": [{"username": u, "name": n, "roles": r} for u, n, r in result.logins],
        }

    def render(self, result):
        title = str(_("Demo agency %(name)s: %(state)s") % {
            "name": result["agency"],
            "state": _("created") if result["created"] else _("already present")})
        rows = [[x["username"], result["password"], x["name"], x["roles"]]
                for x in result["logins"]]
        columns = [str(_("Username")), str(_("Password")), pgettext("person", "name"),
                   str(_("Roles"))]
        return table(title, columns, rows)
