"""Fixtures for the activities tests: an agency under each regulation, with officers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from witness.testing import factories as f


class World:
    """What ``world`` builds: an agency (see conftest.make_agency) plus three officers."""


@pytest.fixture
def world(make_agency):
    def build(profile: str = "lushan-2019") -> World:
        ns = make_agency(profile)
        w = World()
        w.agency, w.field, w.field2, w.office = ns.agency, ns.field, ns.field2, ns.office
        w.people = ns.people
        w.leader = ns.people["leader"]
        w.officers = [f.PersonFactory(unit=ns.field, roles=["officer"]) for _ in range(3)]
        w.arrived = timezone.now() - timedelta(hours=5)
        w.departed = w.arrived + timedelta(hours=1)
        return w

    return build


@pytest.fixture
def a_world(world):
    return world("lushan-2019")


@pytest.fixture
def b_world(world):
    return world("full-process-b")
