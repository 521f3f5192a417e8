"""The API's operations and their policy actions; hooks for the OpenAPI document.

:func:`policy_map` is what the walk test of issue 5 reads: ``{(path, METHOD): action}`` for
every operation of the API, with ``path`` exactly as the OpenAPI document at /api/schema/
writes it (``/api/devices/{id}/``). It fails (ImproperlyConfigured) when an operation has
no policy action, so an endpoint cannot be added without one.
"""

from __future__ import annotations

from drf_spectacular.generators import EndpointEnumerator

from witness.api.permissions import policy_action

PREFIX = "/api/"


class _AllEndpoints(EndpointEnumerator):
    """Every DRF view under /api/, the schema view included."""

    def should_include_endpoint(self, path, callback):
        return hasattr(callback, "cls") and path.startswith(PREFIX)


def operations() -> list[tuple[str, str, type, str]]:
    """(path, METHOD, view class, operation name) for every operation under /api/; ``{pk}``
    written ``{id}`` as in the document (drf-spectacular's SCHEMA_COERCE_PATH_PK)."""
    out = []
    for path, _regex, method, callback in _AllEndpoints().get_api_endpoints():
        actions = getattr(callback, "actions", None)
        name = actions[method.lower()] if actions else method.lower()
        out.append((path.replace("{pk}", "{id}"), method, callback.cls, name))
    return out


def policy_map() -> dict[tuple[str, str], str]:
    """``{(path, METHOD): policy action}`` for every API operation (see the module doc)."""
    return {(path, method): policy_action(cls, name)
            for path, method, cls, name in operations()}


def only_api(endpoints):
    """Preprocessing hook: the document describes /api/ only."""
    return [e for e in endpoints if e[0].startswith(PREFIX)]


ERRORS = {
    "400": "invalid input (fields: field name -> messages)",
    "401": "not signed in, or the API token is invalid, expired or revoked",
    "403": "the role or the scope does not allow this (authz), or the CSRF check failed",
    "404": "no such object within what the account may see",
}
WRITE_ERRORS = {
    "409": "the object is not in a state for this (e.g. a device already out)",
    "422": "the rules refuse the input (e.g. an activity type not in the profile)",
}


def error_responses(result, generator, request, public):
    """Postprocessing hook: every operation documents its refusals, all in the one
    ``Error`` shape ({"error": {"code", "zh", "en"}})."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorBody", {
        "type": "object", "required": ["code", "zh", "en"],
        "properties": {"code": {"type": "string"}, "zh": {"type": "string"},
                       "en": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {
                           "type": "array", "items": {"type": "string"}}}}})
    schemas.setdefault("Error", {"type": "object", "required": ["error"],
                                 "properties": {"error": {"$ref": "#/components/schemas/"
                                                                  "ErrorBody"}}})
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(ERRORS)
            if method in ("post", "put", "patch", "delete"):
                errors.update(WRITE_ERRORS)
            for code, description in errors.items():
                operation["responses"].setdefault(code, {"description": description,
                                                         "content": ref})
    return result
