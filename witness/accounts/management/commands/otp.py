"""``witness otp``: the second factor of accounts (issue 5 item 6) from the command line —
which accounts have one, which must, and the reset of an account's device (a lost phone),
audited as ``auth.otp.reset`` under the actor "cli:<os user>". The same reset is on the
system administrator's console (/admin/users/)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.accounts import otp
from witness.core.commands import WitnessCommand
from witness.core.errors import NotFound
from witness.core.tables import table


def _user(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(gettext_lazy("No account with the user name %(username)s."),
                       code="no_account", username=username)
    return user


def _yes(value: bool) -> str:
    return _("yes") if value else _("no")


class Command(WitnessCommand):
    help = gettext_lazy("Second factor (TOTP) of the accounts: who has one and who must; "
                        "reset the one of an account that lost its phone (audited).")
    subcommands = {
        "status": gettext_lazy("List accounts with their roles, whether their role requires a "
                               "second factor and whether one is set up."),
        "reset": gettext_lazy("Remove an account's second factor: it sets up a new one at its "
                              "next log-in (audited)."),
    }

    def add_status_arguments(self, p):
        p.add_argument("username", nargs="?", metavar="USERNAME",
                       help=_("only this account"))
        p.add_argument("--missing", action="store_true",
                       help=_("only accounts that must have a second factor and have none"))

    def do_status(self, **o):
        users = get_user_model().objects.order_by("username")
        if o["username"]:
            users = [_user(o["username"])]
        rows = [otp.status(user) for user in users]
        if o["missing"]:
            rows = [row for row in rows if row["required"] and not row["enrolled"]]
        return rows

    def render_status(self, data):
        return table(_("Second factor"), [_("user name"), _("roles"), _("required"),
                                          _("set up"), _("active")],
                     [[row["username"], ", ".join(row["roles"]), _yes(row["required"]),
                       _yes(row["enrolled"]), _yes(row["active"])] for row in data])

    def add_reset_arguments(self, p):
        p.add_argument("username", metavar="USERNAME", help=_("the account's user name"))

    def do_reset(self, **o):
        user = _user(o["username"])
        removed = otp.reset(user, actor=self.actor)
        return {"username": user.get_username(), "removed_devices": removed,
                "required": otp.required(user)}

    def render_reset(self, data):
        return _("The second factor of %(username)s was reset (%(removed_devices)s devices "
                 "removed); it sets up a new one at its next log-in.") % data
