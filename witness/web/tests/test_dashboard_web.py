"""Dashboards (issue 8 item 6): per unit and month — activities, coverage, on-time uploads,
open findings, devices in use against the minimum (DEV-2), storage used with its growth
and a linear forecast — drawn by the vendored uPlot from json_script data."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from witness.compliance import dashboard
from witness.devices import services as devices
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def activity(ns, unit, at, size=1024):
    act = f.ActivityFactory(unit=unit, arrived_at=at, departed_at=at + timedelta(minutes=30))
    f.RecordingFactory(device=f.DeviceFactory(unit=unit), activity=act, started_at=at,
                       ended_at=at + timedelta(minutes=30), attribution="attributed",
                       queue_reason="", ingested_at=at + timedelta(hours=1),
                       blob=f.BlobFactory(size=size))
    return act


def test_linear_fit_and_forecast_follow_a_straight_line():
    assert dashboard.linear_fit([10, 20, 30]) == pytest.approx((10.0, 10.0))
    assert dashboard.linear_fit([5]) == (0.0, 5.0)
    rows = [dashboard.Row("u", "U", m, storage_bytes=100) for m in ("2026-07", "2026-08",
                                                                    "2026-09")]
    points = dashboard.storage(None, rows, start=None)
    assert [(p.month, p.used, p.forecast) for p in points] == [
        ("2026-07", 100, False), ("2026-08", 200, False), ("2026-09", 300, False),
        ("2026-10", 400, True), ("2026-11", 500, True), ("2026-12", 600, True)]


def test_rows_count_activities_devices_in_use_minimum_and_storage(site):
    ns = site()
    now = timezone.now()
    activity(ns, ns.field, now - timedelta(hours=5), size=3000)
    activity(ns, ns.field, now - timedelta(hours=4), size=2000)
    device = f.DeviceFactory(unit=ns.field)
    devices.issue_device(device, ns.people["officer"])
    month = timezone.localtime(now).strftime("%Y-%m")
    row = next(r for r in dashboard.monthly(ns.agency)
               if r.unit == ns.field.code and r.month == month)
    assert row.activities == 2 and row.storage_bytes == 5000
    assert row.devices_in_use == 1
    assert row.minimum == 2  # lushan-2019: at least two per field unit (DEV-2)


def test_dashboard_page_draws_charts_from_vendored_uplot(site, login):
    ns = site()
    activity(ns, ns.field, timezone.now() - timedelta(hours=3), size=2 * 1024 ** 3)
    response = login(ns.people["leader"]).get(reverse("compliance_dashboard"))
    html = response.content.decode()
    assert "vendor/uplot/uPlot.iife.min.js" in html and "witness/dashboard.js" in html
    data = json.loads(re.search(r'id="dashboard-data"[^>]*>(.*?)</script>', html, re.S)[1])
    assert len(data["months"]) == 12 and data["activities"][-1] == 1
    assert data["storage_used_gib"][11] == pytest.approx(2.0)
    assert len(data["storage_months"]) == 15  # twelve months and three forecast
    assert data["storage_used_gib"][12] is None and data["storage_forecast_gib"][12] >= 2.0
    assert html.count('data-chart="') == 5


def test_unit_filter_stays_within_scope(site, login, client):
    ns = site()
    activity(ns, ns.field, timezone.now() - timedelta(hours=3))
    activity(ns, ns.field2, timezone.now() - timedelta(hours=3))
    leader = login(ns.people["leader"])
    rows = leader.get(reverse("compliance_dashboard"), {"unit": ns.field2.pk}).context["rows"]
    assert {r.unit for r in rows} == {ns.field2.code}
    assert leader.get(reverse("compliance_dashboard"), {"unit": "x"}).status_code == 400
    client.logout()
    head = login(ns.people["unit_head"])  # heads the field unit only
    response = head.get(reverse("compliance_dashboard"), {"unit": ns.field2.pk})
    assert response.status_code == 400
    assert "不是" in response.content.decode()


def test_dashboard_query_count_does_not_grow_with_months_of_data(site, login,
                                                                django_assert_max_num_queries):
    ns = site()
    client = login(ns.people["leader"])
    activity(ns, ns.field, timezone.now() - timedelta(days=1))
    client.get(reverse("compliance_dashboard"))
    with django_assert_max_num_queries(30) as few:
        client.get(reverse("compliance_dashboard"))
    for days in range(5, 300, 20):
        activity(ns, ns.field, timezone.now() - timedelta(days=days))
        activity(ns, ns.field2, timezone.now() - timedelta(days=days))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("compliance_dashboard"))
