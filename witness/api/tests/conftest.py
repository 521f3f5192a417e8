"""The API tests' world: an agency with a person and an API token in every role, a device
held by the officer, another in store, activities of two units, recordings of each, a case."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from witness.access import chain
from witness.access.models import RequestStatus, StepState
from witness.api import services
from witness.devices.models import DeviceIssue
from witness.org.models import Role
from witness.testing import factories as f

ROLES = [role.value for role in Role]


@dataclass
class World:
    ns: object
    tokens: dict[str, str] = field(default_factory=dict)
    objects: dict[str, object] = field(default_factory=dict)

    def person(self, role: str):
        return self.ns.people[role]

    def auth(self, role: str) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.tokens[role]}"}

    def client(self, role: str) -> Client:
        """A client sending ``role``'s token with every request."""
        return Client(**self.auth(role))


def issue(device, person, at=None):
    return DeviceIssue.objects.create(device=device, holder=person, holder_unit=person.unit,
                                      issued_at=at or timezone.now() - timedelta(days=1))


@pytest.fixture
def world(site) -> World:
    ns = site()
    w = World(ns=ns)
    for role, person in ns.people.items():
        _row, token = services.create_token(person.user, days=7, actor="test")
        w.tokens[role] = token
    officer = ns.people[Role.OFFICER.value]
    other = f.PersonFactory(unit=ns.field2, roles=[Role.OFFICER])
    held = f.DeviceFactory(unit=ns.field, serial="DSJ-HELD")
    stored = f.DeviceFactory(unit=ns.field, serial="DSJ-STORE")
    issue(held, officer)
    own = f.ActivityFactory(unit=ns.field, agency=ns.agency)
    f.ActivityOfficerFactory(activity=own, person=officer, is_recorder=True)
    theirs = f.ActivityFactory(unit=ns.field2, agency=ns.agency)
    f.ActivityOfficerFactory(activity=theirs, person=other, is_recorder=True)
    case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people[Role.LEADER.value])
    mine = f.RecordingFactory(device=held, holder=officer, activity=own)
    foreign = f.RecordingFactory(device=f.DeviceFactory(unit=ns.field2), holder=other,
                                 activity=theirs)
    w.objects.update(officer=officer, other=other, held=held, stored=stored, own=own,
                     theirs=theirs, case=case, mine=mine, foreign=foreign,
                     ledger=held.issues.get())
    granted = granted_request(officer, [mine])
    w.objects.update(request=granted, step=granted.steps.order_by("position").first(),
                     grant=granted.grants.get())
    return w


def granted_request(person, recordings):
    """A viewing request by ``person`` taken through every step of the chain (EVD-2)."""
    now = timezone.now()
    request = chain.submit(person, recordings=recordings, reason="复核执法过程",
                           wanted_from=now, wanted_until=now + timedelta(days=7),
                           actor="test")
    while (step := request.steps.filter(state=StepState.OPEN).first()) is not None:
        chain.decide(step, chain.deciders(step).first(), True, "同意", actor="test")
    request.refresh_from_db()
    assert request.status == RequestStatus.GRANTED
    return request
