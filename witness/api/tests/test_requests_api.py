"""EVD-2 through the API (issue 5 items 3 and 7): a viewing request goes through its chain
by the steps' own deciders, the grant covers exactly the items, a rejection carries its
reason, grants are revoked with a reason, and nobody reads a request outside their scope."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from witness.access import chain
from witness.access.models import AccessRequest, Grant, RequestStatus
from witness.audit.models import AuditEntry
from witness.org.models import Person
from witness.testing import factories as f


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def role_of(world, person: Person) -> str:
    return next(role for role, p in world.ns.people.items() if p.pk == person.pk)


def ask(world, recordings, role="officer"):
    now = timezone.now()
    return post(world.client(role), "/api/requests/", {
        "recordings": [r.pk for r in recordings], "reason": "案件复核",
        "wanted_from": now.isoformat(), "wanted_until": (now + timedelta(days=3)).isoformat()})


def test_evd2_a_request_goes_through_its_chain_in_the_api(world):
    o = world.objects
    second = f.RecordingFactory(device=o["held"], holder=o["officer"], activity=o["own"])
    response = ask(world, [second])
    assert response.status_code == 201, response.content
    made = response.json()
    assert made["status"] == "pending" and made["recordings"] == [second.pk]
    assert made["steps"][0]["state"] == "open"
    request = AccessRequest.objects.get(pk=made["id"])
    while request.status == RequestStatus.PENDING:
        step = request.steps.get(state="open")
        decider = chain.deciders(step).first()
        client = world.client(role_of(world, decider))
        inbox = client.get("/api/steps/").json()["results"]
        assert step.pk in {row["id"] for row in inbox}
        # the requester (an officer) has no inbox of steps to decide
        assert world.client("officer").get("/api/steps/").status_code == 403
        answer = post(client, f"/api/steps/{step.pk}/decide/", {"approve": True,
                                                                "note": "同意"})
        assert answer.status_code == 200, answer.content
        assert answer.json()["state"] == "approved"
        request.refresh_from_db()
    assert request.status == RequestStatus.GRANTED
    grants = world.client("officer").get(f"/api/grants/?recording={second.pk}").json()
    assert [g["recording"] for g in grants["results"]] == [second.pk]
    assert Grant.objects.filter(request=request).count() == 1  # exactly the item
    assert AuditEntry.objects.filter(action="grant.create", object_id=str(request.pk)).exists()


def test_a_rejection_needs_its_reason_and_ends_the_request(world):
    response = ask(world, [world.objects["mine"]])
    step = AccessRequest.objects.get(pk=response.json()["id"]).steps.get(state="open")
    client = world.client(role_of(world, chain.deciders(step).first()))
    without = post(client, f"/api/steps/{step.pk}/decide/", {"approve": False})
    assert without.status_code == 422
    assert without.json()["error"]["code"] == "reason_required"
    rejected = post(client, f"/api/steps/{step.pk}/decide/", {"approve": False,
                                                              "note": "事由不充分"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    detail = world.client("officer").get(f"/api/requests/{step.request_id}/").json()
    assert detail["status"] == "rejected"
    again = post(client, f"/api/steps/{step.pk}/decide/", {"approve": True})
    assert again.status_code == 409 and again.json()["error"]["code"] == "step_not_open"


def test_the_requester_withdraws_and_nobody_else(world):
    made = ask(world, [world.objects["mine"]]).json()
    other = post(world.client("custodian"), f"/api/requests/{made['id']}/withdraw/")
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "not_requester"
    done = post(world.client("officer"), f"/api/requests/{made['id']}/withdraw/")
    assert done.status_code == 200 and done.json()["status"] == "withdrawn"


def test_requests_and_grants_are_scoped(world):
    o = world.objects
    outsider = f.PersonFactory(unit=world.ns.field2, roles=["officer"])
    outsider.user = f.UserFactory(username="outsider")
    outsider.save(update_fields=["user"])
    from witness.api import services

    _row, token = services.create_token(outsider.user, days=1, actor="test")
    client = world.client("officer")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert client.get(f"/api/requests/{o['request'].pk}/").status_code == 404
    assert client.get(f"/api/grants/{o['grant'].pk}/").status_code == 404
    assert client.get("/api/requests/").json()["results"] == []
    # asking for a recording outside one's scope is refused (IDOR)
    now = timezone.now()
    refused = post(client, "/api/requests/", {
        "recordings": [o["mine"].pk], "reason": "x", "wanted_from": now.isoformat(),
        "wanted_until": (now + timedelta(days=1)).isoformat()})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "scope"


def test_grants_are_revoked_with_a_reason_by_those_who_may(world):
    grant = world.objects["grant"]
    url = f"/api/grants/{grant.pk}/revoke/"
    assert post(world.client("officer"), url, {"reason": "x"}).json()["error"]["code"] \
        == "role"
    without = post(world.client("custodian"), url, {})
    assert without.status_code == 400 and "reason" in without.json()["error"]["fields"]
    done = post(world.client("custodian"), url, {"reason": "案件已结"})
    assert done.status_code == 200 and done.json()["revoked_at"]
    assert done.json()["revoke_reason"] == "案件已结"
    again = post(world.client("custodian"), url, {"reason": "再次"})
    assert again.status_code == 409
    assert AuditEntry.objects.filter(action="grant.revoke").exists()
