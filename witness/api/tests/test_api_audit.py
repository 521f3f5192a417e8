"""Issue 4 item 1 for the API (issue 5 item 7): every API operation that changes state
writes its audit entries, naming the account that called it, through the domain service.
A POST operation without a scenario here fails the meta-test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from witness.access import chain
from witness.access.models import AccessRequest, RequestStatus
from witness.api import policy_map
from witness.audit.models import ActorType, AuditEntry, Outcome
from witness.testing import factories as f


@dataclass
class ApiPost:
    role: str
    url: str
    body: dict
    actions: tuple[str, ...]


def iso(dt) -> str:
    return timezone.localtime(dt).isoformat()


def _issue(w):
    return ApiPost("custodian", f"/api/devices/{w.objects['stored'].pk}/issue/",
                   {"holder": w.objects["officer"].pk, "no_check_reason": "现场紧急"},
                   ("device.issue",))


def _return(w):
    return ApiPost("officer", f"/api/devices/{w.objects['held'].pk}/return/", {},
                   ("device.return",))


def _case(w):
    return ApiPost("leader", "/api/cases/",
                   {"number": "AUDIT-1", "name": "审计覆盖案",
                    "leader_in_charge": w.person("leader").pk}, ("case.create",))


def _activity(w):
    start = timezone.now() - timedelta(hours=3)
    officer = w.objects["officer"]
    return ApiPost("officer", "/api/activities/",
                   {"unit": w.ns.field.pk, "activity_type": "investigation",
                    "place": "某路1号", "arrived_at": iso(start),
                    "departed_at": iso(start + timedelta(hours=1)),
                    "officers": [officer.pk], "recorder": officer.pk}, ("activity.create",))


def _request(w):
    now = timezone.now()
    return ApiPost("officer", "/api/requests/",
                   {"activity": w.objects["own"].pk, "reason": "复核",
                    "wanted_from": iso(now), "wanted_until": iso(now + timedelta(days=1))},
                   ("request.submit", "request.step_open"))


def _pending(w) -> AccessRequest:
    now = timezone.now()
    return chain.submit(w.objects["officer"], recordings=[w.objects["mine"]], reason="复核",
                        wanted_from=now, wanted_until=now + timedelta(days=1), actor="test")


def _withdraw(w):
    return ApiPost("officer", f"/api/requests/{_pending(w).pk}/withdraw/", {},
                   ("request.withdraw",))


def _decide(w):
    step = _pending(w).steps.get(state="open")
    role = next(r for r, p in w.ns.people.items() if p.pk == chain.deciders(step).first().pk)
    return ApiPost(role, f"/api/steps/{step.pk}/decide/", {"approve": True},
                   ("request.decide",))


def _revoke(w):
    return ApiPost("custodian", f"/api/grants/{w.objects['grant'].pk}/revoke/",
                   {"reason": "案件已结"}, ("grant.revoke",))


SCENARIOS: dict[tuple[str, str], Callable] = {
    ("/api/devices/{id}/issue/", "POST"): _issue,
    ("/api/devices/{id}/return/", "POST"): _return,
    ("/api/cases/", "POST"): _case,
    ("/api/activities/", "POST"): _activity,
    ("/api/requests/", "POST"): _request,
    ("/api/requests/{id}/withdraw/", "POST"): _withdraw,
    ("/api/steps/{id}/decide/", "POST"): _decide,
    ("/api/grants/{id}/revoke/", "POST"): _revoke,
}


def test_every_state_changing_api_operation_has_an_audit_scenario():
    writes = {op for op in policy_map() if op[1] != "GET"}
    assert writes == set(SCENARIOS)


@pytest.mark.parametrize("operation", sorted(SCENARIOS), ids=lambda op: f"{op[1]} {op[0]}")
def test_an_api_write_is_audited_with_the_calling_account(world, operation):
    post = SCENARIOS[operation](world)
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = world.client(post.role).post(post.url, post.body,
                                            content_type="application/json")
    assert response.status_code in (200, 201), response.content
    user = world.person(post.role).user
    new = list(AuditEntry.objects.filter(id__gt=since, outcome=Outcome.SUCCESS))
    for action in post.actions:
        found = [e for e in new if e.action == action]
        assert found, f"no {action} entry: {[e.action for e in new]}"
        assert all(e.actor_type == ActorType.USER and e.actor_id == str(user.pk)
                   for e in found), action


def test_a_refused_api_write_changes_nothing_and_writes_no_success_entry(world):
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    outside = f.PersonFactory()  # another agency
    response = world.client("custodian").post(
        f"/api/devices/{world.objects['stored'].pk}/issue/",
        {"holder": outside.pk, "no_check_reason": "x"}, content_type="application/json")
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(id__gt=since, outcome=Outcome.SUCCESS).exists()
    assert not AccessRequest.objects.exclude(status=RequestStatus.GRANTED).exists()
