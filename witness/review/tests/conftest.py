"""A review world: an agency (site), activities of two field units in one period with
officers, recordings for them, and the legal, leader and reviewer subjects."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from witness.access import authz
from witness.testing import factories as f


def subject(person):
    return authz.subject_of(get_user_model().objects.get(pk=person.user.pk))


def local(y, m, d, h=10):
    return timezone.make_aware(datetime(y, m, d, h), timezone.get_default_timezone())


@pytest.fixture
def review_world(site):
    """Field unit 1: 8 activities (officers A, B); field unit 2: 5 (officer C; C also on
    one with A); one activity of unit 1 outside the period. Each activity has one
    recording (rows only; content tests store real bytes)."""

    def build(profile="lushan-2019"):
        ns = site(profile)
        ns.reviewer = f.PersonFactory(unit=ns.office, roles=["officer"])
        ns.reviewer.user = f.UserFactory(username=f"reviewer-{ns.agency.code}",
                                         password=f.PASSWORD)
        ns.reviewer.save(update_fields=["user"])
        ns.a = f.PersonFactory(unit=ns.field, roles=["officer"])
        ns.b = f.PersonFactory(unit=ns.field, roles=["officer"])
        ns.c = f.PersonFactory(unit=ns.field2, roles=["officer"])
        ns.acts = {ns.field.pk: [], ns.field2.pk: []}
        for i in range(8):
            act = f.ActivityFactory(unit=ns.field, arrived_at=local(2025, 3, 1 + i))
            f.ActivityOfficerFactory(activity=act, person=ns.a if i % 4 else ns.b)
            if i == 3:
                f.ActivityOfficerFactory(activity=act, person=ns.c)
            ns.acts[ns.field.pk].append(act)
        for i in range(5):
            act = f.ActivityFactory(unit=ns.field2, arrived_at=local(2025, 4, 1 + i))
            f.ActivityOfficerFactory(activity=act, person=ns.c)
            ns.acts[ns.field2.pk].append(act)
        ns.outside = f.ActivityFactory(unit=ns.field, arrived_at=local(2024, 12, 31, 20))
        f.ActivityOfficerFactory(activity=ns.outside, person=ns.a)
        ns.recordings = {}
        for act in [*ns.acts[ns.field.pk], *ns.acts[ns.field2.pk], ns.outside]:
            ns.recordings[act.pk] = f.RecordingFactory(
                device=f.DeviceFactory(unit=act.unit), activity=act,
                started_at=act.arrived_at, attribution="auto", queue_reason="")
        ns.legal = subject(ns.people["legal"])
        ns.leader = subject(ns.people["leader"])
        ns.rev = subject(ns.reviewer)
        return ns

    return build


def make_campaign(ns, *, seed=42, per_unit=2, per_officer=1, units=None, kind="annual",
                  period=(date(2025, 1, 1), date(2025, 12, 31)), reviewers=None):
    from witness.review import services

    return services.create_campaign(
        ns.legal, name="2025年度评查", kind=kind, period_from=period[0], period_to=period[1],
        units=units or [ns.field, ns.field2], reviewers=reviewers or [ns.reviewer],
        valid_until=timezone.now() + timedelta(days=30), per_unit=per_unit,
        per_officer=per_officer, seed=seed)
