"""The API's one permission class: every operation is a policy action (issue 5 item 7).

Each view declares ``policy_actions``: its DRF action (``list``, ``retrieve``, ``issue`` …)
or, for a plain APIView, its HTTP method (``get``, ``post``) -> the action of
:mod:`witness.access.policy`. The check is :mod:`witness.access.authz`'s: ``require`` for
the role before the view runs, ``authorize`` for the object a detail operation acts on;
the querysets themselves are scoped with ``visible_*`` (see ``witness.api.scope``).

An operation without an action is a programming error (ImproperlyConfigured), caught by
``witness.api.policy_map()`` and its test before it can reach a user.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from witness.access import authz


def action_name(view, method: str) -> str | None:
    """The view's own name of the operation: the viewset action, else the HTTP method."""
    if hasattr(view, "action_map") or getattr(view, "action", None) is not None:
        return getattr(view, "action", None)
    method = method.lower()
    return "get" if method == "head" else method


def policy_action(view_class, name: str) -> str:
    """The policy action of operation ``name`` of ``view_class``; ImproperlyConfigured if
    the view does not declare one, or declares one the policy does not know."""
    from witness.access import policy

    actions = getattr(view_class, "policy_actions", None)
    if not isinstance(actions, dict) or name not in actions:
        raise ImproperlyConfigured(
            f"{view_class.__name__}: no policy action for the operation {name!r}; add it to "
            f"{view_class.__name__}.policy_actions")
    action = actions[name]
    if action not in policy.POLICY:
        raise ImproperlyConfigured(f"{view_class.__name__}.policy_actions[{name!r}]: "
                                   f"{action!r} is not an action of witness.access.policy")
    return action


class PolicyPermission(BasePermission):
    """Role (before the view), then object scope or grant (authz.authorize)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401 with WWW-Authenticate
        if request.method == "OPTIONS":
            return True  # no metadata class: the answer is 405, with no data
        name = action_name(view, request.method)
        if name is None:  # a method this route does not have
            raise exceptions.MethodNotAllowed(request.method)
        view.policy_action = policy_action(type(view), name)
        authz.require(authz.subject_of(request.user), view.policy_action)
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        authz.authorize(request.user, view.policy_action, obj)
        return True
