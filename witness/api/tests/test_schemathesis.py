"""Issue 5 item 7, "done when": schemathesis against /api/schema/, authenticated as each
role, finds no 5xx (and no answer the document does not describe).

The schema is loaded from the Django WSGI application itself (``from_wsgi``); each
operation gets a bounded, derandomized set of generated requests per role — valid ones and
ones that break the schema, half of them aimed at a real object of the agency — and every
answer must not be a server error, and must match the document (status and body).
Requests run in the test's own transaction (the WSGI handler is called in this thread),
so the rows they create vanish with the test.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from witness.access import policy
from witness.api import policy_map
from witness.api.tests.conftest import ROLES

# Generated requests per operation and role: where the policy allows the role, enough to
# reach the views' code; where it refuses it, a few (the gate answers 403 before any view).
ALLOWED_EXAMPLES = 20
REFUSED_EXAMPLES = 4

SAMPLES = {"/api/devices/": "held", "/api/ledger/": "ledger", "/api/cases/": "case",
           "/api/activities/": "own", "/api/recordings/": "mine", "/api/requests/": "request",
           "/api/steps/": "step", "/api/grants/": "grant"}


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler, without closing the database connection after each request
    (it is the test's connection, inside the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def sample_id(world, path: str) -> int | None:
    if "{id}" not in path:
        return None
    return world.objects[SAMPLES[path.split("{id}")[0]]].pk


def strategy_for(operation, object_id):
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    strategies = [operation.as_strategy(generation_mode=mode) for mode in modes]
    if object_id is not None:
        strategies += [operation.as_strategy(generation_mode=mode,
                                             path_parameters={"id": object_id})
                       for mode in modes]
    return st.one_of(strategies)


# No 5xx; and every answer is one the document lists, in the shape it gives.
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def fuzz(strategy, headers: dict, seen: set[int], examples: int) -> None:
    """Up to ``examples`` generated requests; a 5xx fails (with the request to replay)."""

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen.add(response.status_code)

    run()


def test_schemathesis_finds_no_server_error_for_any_role(world, wsgi_app):
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/", wsgi_app,
        headers={"Authorization": f"Bearer {world.tokens['leader']}"})
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 24
    actions = policy_map()
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        strategy = strategy_for(operation, sample_id(world, operation.path))
        action = actions[(operation.path, operation.method.upper())]
        for role in ROLES:
            examples = ALLOWED_EXAMPLES if policy.may({role}, action) else REFUSED_EXAMPLES
            fuzz(strategy, {"Authorization": f"Bearer {world.tokens[role]}"},
                 statuses.setdefault(f"{role} {operation.label}", set()), examples)
    # the run reached past the gate: allowed roles got answers other than 401/403
    assert statuses["leader GET /api/recordings/"] & {200, 400}
    assert statuses["custodian POST /api/devices/{id}/issue/"] & {201, 400, 409, 422}
    assert statuses["auditadmin GET /api/recordings/"] <= {400, 403, 404}


def test_the_fuzzing_fails_on_a_server_error(world, wsgi_app, monkeypatch):
    """The check above can fail: a view that crashes is caught in a few examples."""
    from witness.api.views import RecordingViewSet

    def crash(self, qs, filters):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(RecordingViewSet, "filter_list", crash)
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/", wsgi_app,
        headers={"Authorization": f"Bearer {world.tokens['leader']}"})
    operation = schema["/api/recordings/"]["GET"]
    with pytest.raises(FailureGroup) as caught:
        fuzz(strategy_for(operation, None),
             {"Authorization": f"Bearer {world.tokens['leader']}"}, set(), 5)
    assert "Server error" in {failure.title for failure in caught.value.exceptions}
