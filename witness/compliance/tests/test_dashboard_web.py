"""The compliance dashboard page and CSV (issue 6 item 4): scope by role, audit of the
download, query count flat in the data."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.testing import factories as f


def activity(unit, at):
    act = f.ActivityFactory(unit=unit, arrived_at=at, departed_at=at + timedelta(minutes=30))
    f.RecordingFactory(device=f.DeviceFactory(unit=unit), activity=act, started_at=at,
                       ended_at=at + timedelta(minutes=30), attribution="auto",
                       queue_reason="")
    return act


@pytest.fixture
def ns(site):
    ns = site("lushan-2019")
    now = timezone.now() - timedelta(days=1)
    activity(ns.field, now)
    activity(ns.field2, now)
    return ns


def units_shown(response) -> set[str]:
    rows = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    return {r["unit"] for r in rows}


@pytest.mark.django_db
def test_a_unit_head_sees_only_the_units_they_head(ns, client, login):
    login(ns.people["unit_head"])
    response = client.get(reverse("compliance_dashboard_csv"))
    assert response.status_code == 200
    assert units_shown(response) == {ns.field.code}


@pytest.mark.django_db
def test_a_leader_sees_every_unit_and_the_download_is_audited(ns, client, login):
    login(ns.people["leader"])
    page = client.get(reverse("compliance_dashboard"))
    assert page.status_code == 200 and "执法一科" in page.content.decode()
    before = AuditEntry.objects.filter(action="compliance.dashboard.export").count()
    response = client.get(reverse("compliance_dashboard_csv"))
    assert units_shown(response) == {ns.field.code, ns.field2.code}
    assert AuditEntry.objects.filter(action="compliance.dashboard.export").count() == before + 1


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["officer", "sysadmin", "auditadmin"])
def test_officers_and_administrators_do_not_open_the_dashboard(ns, client, login, role):
    login(ns.people[role])
    assert client.get(reverse("compliance_dashboard")).status_code == 403


@pytest.mark.django_db
def test_a_bad_month_is_a_400_with_both_languages(ns, client, login):
    login(ns.people["leader"])
    response = client.get(reverse("compliance_dashboard"), {"from": "2026/11"})
    assert response.status_code == 400
    assert "2026-11" in response.content.decode()


@pytest.mark.django_db
def test_the_page_queries_do_not_grow_with_the_rows(ns, client, login,
                                                    django_assert_max_num_queries):
    login(ns.people["leader"])
    client.get(reverse("compliance_dashboard"))  # warm the session and caches
    with django_assert_max_num_queries(30) as few:
        client.get(reverse("compliance_dashboard"))
    for days in range(2, 60, 3):
        activity(ns.field, timezone.now() - timedelta(days=days))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("compliance_dashboard"))
