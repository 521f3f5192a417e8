"""``witness api-token create|list|revoke``: API tokens (issue 5 item 7).

A token is printed once, by ``create``; only its SHA-256 is stored. Creation and
revocation are audited.
"""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.api import services
from witness.core.cli_args import short_time
from witness.core.commands import WitnessCommand
from witness.core.tables import table

HELP = _("API tokens: create one for an account (shown once), list, revoke.")
SUBCOMMANDS = {
    "create": _("Create an API token for an account; the token is shown only this once."),
    "list": _("List API tokens (never the tokens themselves)."),
    "revoke": _("Revoke an API token."),
}
STATES = {"active": _("active"), "expired": _("expired"), "revoked": _("revoked")}


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    def add_create_arguments(self, parser):
        parser.add_argument("user", metavar="USER", help=gettext("user name of the account"))
        parser.add_argument("--days", type=int, default=services.DEFAULT_DAYS,
                            help=gettext("days the token is valid (1 to %(max)s; default "
                                         "%(default)s)") % {"max": services.MAX_DAYS,
                                                            "default": services.DEFAULT_DAYS})
        parser.add_argument("--name", default="", help=gettext("what the token is for"))

    def do_create(self, *, user, days, name="", **options):
        row, token = services.create_token(services.get_user(user), days=days, name=name,
                                           actor=self.actor)
        return {**services.token_dict(row), "token": token}

    def render_create(self, data):
        return "\n".join([
            gettext("API token %(id)s for %(user)s, valid until %(until)s:")
            % {"id": data["id"], "user": data["user"], "until": short_time(data["expires_at"])},
            data["token"],
            gettext("It is shown only now: keep it secret, like a password."),
        ])

    def add_list_arguments(self, parser):
        parser.add_argument("--user", metavar="USER", help=gettext("only this account's"))

    def do_list(self, *, user=None, **options):
        owner = services.get_user(user) if user else None
        return [services.token_dict(row) for row in services.tokens(owner)]

    def render_list(self, data):
        rows = [[t["id"], t["user"], t["name"], f"{t['prefix']}…",
                 str(STATES[t["state"]]), short_time(t["created_at"]),
                 short_time(t["expires_at"]),
                 short_time(t["last_used_at"]) if t["last_used_at"] else "-"] for t in data]
        return table(gettext("API tokens"),
                     [gettext("Number"), gettext("Account"), gettext("Name"),
                      gettext("Begins with"), gettext("State"), gettext("Created"),
                      gettext("Expires"), gettext("Last used")], rows)

    def add_revoke_arguments(self, parser):
        parser.add_argument("id", type=int, metavar="ID", help=gettext("token number"))

    def do_revoke(self, *, id, **options):
        return services.token_dict(services.revoke_token(id, actor=self.actor))

    def render_revoke(self, data):
        return gettext("API token %(id)s of %(user)s revoked.") % data
