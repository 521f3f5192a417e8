"""A finding raised on an activity of the field unit, the officer responsible for it."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from witness.access import authz
from witness.findings.services import raise_finding
from witness.testing import factories as f


def subject(person):
    """The authorisation subject of ``person`` as a fresh request would compute it."""
    from django.contrib.auth import get_user_model

    return authz.subject_of(get_user_model().objects.get(pk=person.user_id))


@pytest.fixture
def world(site):
    """``site()`` plus an activity of the field unit (the officer on it, the recorder) and an
    ACT-5 gap finding raised on it through ``raise_finding`` with its unit and responsible
    person set; a second officer in the same unit and one in the other field unit."""
    ns = site()
    ns.officer, ns.head = ns.people["officer"], ns.people["unit_head"]
    ns.leader, ns.legal = ns.people["leader"], ns.people["legal"]
    ns.custodian = ns.people["custodian"]
    ns.colleague = f.PersonFactory(unit=ns.field, roles=["officer"])
    ns.colleague.user = f.UserFactory(username=f"colleague-{ns.agency.code}",
                                      password=f.PASSWORD)
    ns.colleague.save(update_fields=["user"])
    ns.other_head = f.PersonFactory(unit=ns.field2, roles=["unit_head"])
    ns.other_head.user = f.UserFactory(username=f"head2-{ns.agency.code}",
                                       password=f.PASSWORD)
    ns.other_head.save(update_fields=["user"])
    arrived = timezone.now() - timedelta(days=2)
    ns.activity = f.ActivityFactory(agency=ns.agency, unit=ns.field, arrived_at=arrived,
                                    departed_at=arrived + timedelta(hours=1))
    f.ActivityOfficerFactory(activity=ns.activity, person=ns.officer, is_recorder=True)
    ns.finding, _ = raise_finding(
        "ACT-5.gap", ns.activity, {"device": "DSJ-1", "gap_seconds": 120}, key="gap-1",
        unit=ns.field, responsible=ns.officer, occurred_at=arrived)
    return ns


@pytest.fixture
def as_subject():
    return subject


def raise_on(activity, key, **kwargs):
    finding, _ = raise_finding("ACT-5.gap", activity, {"gap_seconds": 200}, key=key, **kwargs)
    return finding


@pytest.fixture
def more():
    return SimpleNamespace(raise_on=raise_on)
