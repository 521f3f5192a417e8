"""Issue 5 item 7: every API operation is a policy action, allowed and refused per role as
witness.access.policy says; lists and details are scoped by witness.access.authz."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from drf_spectacular.validation import validate_schema

from witness.access import policy
from witness.api import policy_map
from witness.api.permissions import policy_action
from witness.api.tests.conftest import ROLES
from witness.api.views import DeviceViewSet

# What each POST sends in this walk: input the view refuses (400) after the role and scope
# checks, so nothing changes and the answer tells "allowed" (400) from "refused" (403).
BAD_BODY = {"notes": "x" * 3000}

SAMPLES = {"/api/devices/": "held", "/api/ledger/": "ledger", "/api/cases/": "case",
           "/api/activities/": "own", "/api/recordings/": "mine", "/api/requests/": "request",
           "/api/steps/": "step", "/api/grants/": "grant"}


def concrete(world, path: str) -> str:
    if "{id}" not in path:
        return path
    prefix = path.split("{id}")[0]
    return path.replace("{id}", str(world.objects[SAMPLES[prefix]].pk))


def call(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    return client.post(url, BAD_BODY, content_type="application/json")


def schema_operations(client) -> set[tuple[str, str]]:
    document = client.get("/api/schema/").json()
    return {(path, method.upper()) for path, item in document["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")}


def test_policy_map_names_a_policy_action_for_every_operation_of_the_schema(world):
    mapping = policy_map()
    assert schema_operations(world.client("officer")) == set(mapping)
    assert set(mapping.values()) <= set(policy.POLICY)
    assert mapping[("/api/recordings/{id}/", "GET")] == "recording.view"
    assert mapping[("/api/devices/{id}/issue/", "POST")] == "device.issue"


def test_an_operation_without_a_policy_action_is_a_programming_error():
    with pytest.raises(ImproperlyConfigured, match="no policy action"):
        policy_action(DeviceViewSet, "destroy")

    class Wrong(DeviceViewSet):
        policy_actions = {"list": "device.everything"}

    with pytest.raises(ImproperlyConfigured, match="not an action"):
        policy_action(Wrong, "list")


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_allows_exactly_the_roles_of_the_policy(world, role):
    """The walk over the API for one role: allowed by the policy -> past the role gate (not
    401, not 403 ``role``; the object's own rules may still refuse, e.g. withdrawing
    someone else's request); refused -> 403 ``role`` with the reason in both languages."""
    client = world.client(role)
    roles = {role}
    wrong = []
    for (path, method), action in sorted(policy_map().items()):
        response = call(client, method, concrete(world, path))
        allowed = policy.may(roles, action)
        gate = response.status_code == 401 or (
            response.status_code == 403 and response.json()["error"]["code"] == "role")
        if allowed and gate:
            wrong.append(f"{method} {path}: {response.status_code}, policy allows {action}")
        if not allowed:
            if response.status_code != 403:
                wrong.append(f"{method} {path}: {response.status_code}, policy refuses "
                             f"{action}")
            else:
                error = response.json()["error"]
                assert error["code"] == "role" and error["zh"] and error["en"]
    assert not wrong, wrong


# The cells of the API that matter most, written out by hand (not read from the policy):
# who sees recording metadata and who may list the agency's devices.
HAND_WRITTEN = {
    # role:        recordings, devices, cases, audit admin never sees enforcement data
    "officer":    (200, 403, 403),
    "custodian":  (200, 200, 403),
    "unit_head":  (200, 200, 200),
    "leader":     (200, 200, 200),
    "legal":      (200, 200, 200),
    "sysadmin":   (403, 403, 403),
    "secadmin":   (403, 403, 403),
    "auditadmin": (403, 403, 403),
}


@pytest.mark.parametrize("role", ROLES)
def test_hand_written_cells_recordings_devices_cases(world, role):
    client = world.client(role)
    got = tuple(client.get(url).status_code
                for url in ("/api/recordings/", "/api/devices/", "/api/cases/"))
    assert got == HAND_WRITTEN[role]


def test_no_recording_content_or_storage_key_in_the_api(world):
    data = world.client("custodian").get(f"/api/recordings/{world.objects['mine'].pk}/").json()
    blob = world.objects["mine"].blob
    text = str(data)
    assert blob.key not in text and "blob" not in data and "key" not in data
    assert data["sha256"] == blob.sha256 and data["size"] == blob.size
    # the player page (which asks for a grant), never the stream of the content itself
    assert data["player"] == reverse("recording_play", args=[world.objects["mine"].pk])
    assert "/stream" not in text


# -- scope -----------------------------------------------------------------------------------


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_an_officer_sees_the_metadata_of_their_own_activities_and_recordings_only(world):
    o = world.objects
    client = world.client("officer")
    assert ids(client.get("/api/activities/")) == {o["own"].pk}
    assert ids(client.get("/api/recordings/")) == {o["mine"].pk}
    # another officer's activity and recording: not found, not even "forbidden" (IDOR)
    for url in (f"/api/activities/{o['theirs'].pk}/", f"/api/recordings/{o['foreign'].pk}/"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert client.get(f"/api/recordings/{o['mine'].pk}/").status_code == 200


def test_a_unit_head_sees_their_units_activities_a_leader_the_agencys(world):
    o = world.objects
    assert ids(world.client("unit_head").get("/api/activities/")) == {o["own"].pk}
    assert ids(world.client("leader").get("/api/activities/")) == {o["own"].pk,
                                                                    o["theirs"].pk}
    assert ids(world.client("custodian").get("/api/recordings/")) == {o["mine"].pk,
                                                                       o["foreign"].pk}


def test_an_officer_sees_and_returns_only_the_devices_they_hold(world):
    o = world.objects
    client = world.client("officer")
    assert ids(client.get("/api/devices/mine/")) == {o["held"].pk}
    assert client.get(f"/api/devices/{o['held'].pk}/").json()["out_with"]["holder"]["id"] \
        == o["officer"].pk
    assert client.get(f"/api/devices/{o['stored'].pk}/").status_code == 404
    assert client.post(f"/api/devices/{o['stored'].pk}/return/", {},
                       content_type="application/json").status_code == 404


def test_another_agencys_rows_are_not_found(world, make_agency):
    from witness.testing import factories as f

    elsewhere = make_agency()
    device = f.DeviceFactory(unit=elsewhere.field)
    case = f.CaseFactory(agency=elsewhere.agency,
                         leader_in_charge=elsewhere.people["leader"])
    client = world.client("leader")
    assert client.get(f"/api/devices/{device.pk}/").status_code == 404
    assert client.get(f"/api/cases/{case.pk}/").status_code == 404
    assert device.pk not in ids(client.get("/api/devices/"))


def test_list_filters_are_validated(world):
    client = world.client("leader")
    response = client.get("/api/recordings/?kind=hologram&activity=0")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {"kind", "activity"}
    assert ids(client.get(f"/api/recordings/?activity={world.objects['own'].pk}")) == {
        world.objects["mine"].pk}
    assert ids(client.get("/api/ledger/?open=true")) == {world.objects["ledger"].pk}
    assert ids(client.get("/api/ledger/?open=false")) == set()


def test_the_schema_is_valid_openapi_3_and_needs_a_signed_in_account(world, client):
    response = world.client("auditadmin").get("/api/schema/")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    validate_schema(document)
    assert {"token", "session"} <= set(document["components"]["securitySchemes"])
    anonymous = client.get("/api/schema/")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
