"""Every refusal of the API as ``{"error": {"code", "zh", "en"}}`` (issue 5 item 7).

- authz.Denied: 403, with its reason in both languages;
- WitnessError from a service: 409 for a refusal or a conflict of state, 422 for other
  input the rules reject (witness.web.views.common.error_status, as the web forms);
- invalid input: 400, with ``fields``: field name -> messages (in the request's language);
- not signed in, bad token: 401 with ``WWW-Authenticate``; wrong method 405; bad cursor 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from witness.access.authz import Denied
from witness.core.errors import WitnessError
from witness.web.views.common import error_status

MESSAGES = {
    exceptions.NotAuthenticated: ("not_authenticated",
                                  _("Sign in, or send an API token "
                                    "(Authorization: Bearer <token>).")),
    exceptions.AuthenticationFailed: ("authentication_failed",
                                      _("The credentials were not accepted.")),
    exceptions.NotFound: ("not_found", _("Not found.")),
    exceptions.MethodNotAllowed: ("method_not_allowed",
                                  _("This method is not allowed here.")),
    exceptions.NotAcceptable: ("not_acceptable",
                               _("This API answers in JSON only (Accept: application/json).")),
    exceptions.UnsupportedMediaType: ("unsupported_media_type",
                                      _("Send the request body as JSON "
                                        "(Content-Type: application/json).")),
    exceptions.ParseError: ("parse_error", _("The request body is not valid JSON.")),
    exceptions.Throttled: ("throttled", _("Too many requests; try again later.")),
    exceptions.PermissionDenied: ("denied", _("You are not allowed to do this.")),
}
CSRF = _("The CSRF check failed: a request from a signed-in browser session needs the "
         "CSRF token (X-CSRFToken header).")
INVALID = _("The input is not valid; see the fields.")
SERVER = _("The request could not be processed.")


def body(code: str, message, fields=None, **params) -> dict:
    error = WitnessError(message, code=code, **params).as_dict()
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def _fields(detail) -> dict:
    """DRF's nested error detail as ``{"field": ["message", …]}`` (nested fields dotted)."""
    out: dict[str, list[str]] = {}

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict | list):
                    walk(item, f"{path}.{index}" if path else str(index))
                else:
                    out.setdefault(path or "non_field_errors", []).append(str(item))
        else:
            out.setdefault(path or "non_field_errors", []).append(str(value))

    walk(detail, "")
    return out


def exception_handler(exc, context):
    if isinstance(exc, Denied):
        return Response({"error": {"code": exc.code, "zh": exc.zh, "en": exc.en}},
                        status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, WitnessError):
        return Response({"error": exc.as_dict()}, status=error_status(exc))
    response = drf_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    error = getattr(exc, "error", None)  # witness.api.authentication.Failed
    if isinstance(error, WitnessError):
        response.data = {"error": error.as_dict()}
    elif isinstance(exc, exceptions.ValidationError):
        response.data = body("invalid", INVALID, _fields(exc.detail))
    elif isinstance(exc, exceptions.PermissionDenied) and \
            str(getattr(exc, "detail", "")).startswith("CSRF Failed"):
        response.data = body("csrf", CSRF)
    else:
        code, message = next(((c, m) for cls, (c, m) in MESSAGES.items()
                              if isinstance(exc, cls)), ("error", SERVER))
        response.data = body(code, message)
    return response
