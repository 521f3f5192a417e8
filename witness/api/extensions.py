"""How the OpenAPI document describes the API's authentication (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "witness.api.authentication.BearerTokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An API token from `witness api-token create USER`: "
                               "`Authorization: Bearer <token>` (or `Token <token>`)."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "witness.api.authentication.CsrfSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "The web session; unsafe methods need the CSRF token in "
                               "the X-CSRFToken header."}
