"""How the API knows who asks (issue 5 item 7): ``Authorization: Bearer <token>`` (or
``Token <token>``) with a token from ``witness api-token create``, or the web session —
with Django's CSRF check on every unsafe method, as for the web forms.

No password is accepted here (no HTTP basic): the only password check is the log-in page's,
behind the lockout of witness/web/lockout.py.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from witness.api import services
from witness.core.errors import WitnessError

KEYWORDS = ("bearer", "token")

TOKEN_ERRORS = {
    "invalid": _("The API token is not valid."),
    "expired": _("The API token has expired; ask for a new one."),
    "revoked": _("The API token was revoked."),
    "malformed": _("The Authorization header must be 'Bearer <token>'."),
    "inactive": _("The account of this API token is disabled."),
}


class Failed(exceptions.AuthenticationFailed):
    """401 with the reason in both languages (``error``: a WitnessError)."""

    def __init__(self, why: str):
        self.error = WitnessError(TOKEN_ERRORS[why], code=f"token_{why}")
        super().__init__(self.error.en, code=self.error.code)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """A token from the Authorization header; None (try the session) without one."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode("latin-1") not in KEYWORDS:
            return None
        if len(header) != 2:
            raise Failed("malformed")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise Failed("invalid") from None
        row, why = services.find_token(token)
        if row is None:
            raise Failed(why)
        if not row.user.is_active:
            raise Failed("inactive")
        return row.user, row

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """The web session; DRF's SessionAuthentication enforces CSRF for unsafe methods.

    A request that carries an Authorization header is the token's to authenticate, never
    the session's: the second-factor gate (witness.accounts.middleware) lets such requests
    through to the API, so a session must not ride along on a header that is no token."""

    def authenticate(self, request):
        if "HTTP_AUTHORIZATION" in request.META:
            return None
        return super().authenticate(request)
