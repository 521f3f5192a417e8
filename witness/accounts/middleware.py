"""The gate of the second factor and of password age (issue 5 item 6).

After the password, a signed-in account gets nothing but these pages until it has done
what it must, in this order:

1. an account with a confirmed TOTP device: enter a code (``otp_verify``);
2. an account whose role requires a second factor (witness.accounts.otp.REQUIRED_ROLES)
   and has none: enrol one (``otp_enrol``);
3. a password older than ``WITNESS_PASSWORD_MAX_DAYS`` or marked by the system
   administrator, found so when the account logged in (witness.accounts.passwords): change
   it (``password_change``).

Log-in, log-out, the language switch and the pages of the steps themselves stay open;
static files never reach this middleware (WhiteNoise serves them first). Requests to
``/api/`` with an ``Authorization`` header (API tokens) are the API's to authenticate; a
browser session calling ``/api/`` is held to the same gate and answered 403 in JSON.
Installed after django_otp's OTPMiddleware, which tells whether the session is verified.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from witness.accounts import otp, passwords
from witness.core.errors import Refused

# Url names open to a signed-in account before it has passed the gate.
OPEN_NAMES = frozenset({"login", "logout", "set_language", "otp_verify", "otp_enrol"})

NEEDS = {
    "otp_verify": _("Enter the code of your authenticator app first."),
    "otp_enrol": _("Your role requires a second factor: set up an authenticator app first."),
    "password_change": _("Your password must be changed before you continue."),
}


def pending_step(request) -> str | None:
    """The url name of the step this signed-in request must take first, or None."""
    user = request.user
    if not otp.is_verified(user):
        if otp.confirmed_device(user) is not None:
            return "otp_verify"
        if otp.required(user):
            return "otp_enrol"
    if passwords.due_in_session(request):
        return "password_change"
    return None


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        path = request.path_info
        api = path.startswith("/api/")
        if api and "HTTP_AUTHORIZATION" in request.META:
            return None  # token authentication: the API's own (see docs/operations.md)
        if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return None
        match = request.resolver_match
        name = match.url_name if match else None
        if name in OPEN_NAMES:
            return None
        step = pending_step(request)
        if step is None or step == name:
            return None
        if api:
            error = Refused(NEEDS[step], code="second_factor_required"
                            if step != "password_change" else "password_change_required")
            return JsonResponse({"ok": False, "error": error.as_dict()}, status=403)
        target = reverse(step)
        if request.method == "GET" and name != "home":
            target += "?" + urlencode({"next": request.get_full_path()})
        response = HttpResponseRedirect(target)
        if request.headers.get("HX-Request"):
            response["HX-Redirect"] = target
        return response
