"""No list page's query count grows with its rows (no N+1)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.devices import services as devices
from witness.testing import factories as f

pytestmark = pytest.mark.django_db

# session, user, roles, person, agency, the page's own queries, and the session save
# (SESSION_SAVE_EVERY_REQUEST: savepoint, update, release).
MAX_QUERIES = 16


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def add_devices(ns, n, start):
    """n devices, each out with an officer and checked at issue."""
    officer = ns.people["officer"]
    for i in range(start, start + n):
        device = f.DeviceFactory(unit=ns.field, custodian=ns.people["custodian"],
                                 serial=f"Q-{i:04d}")
        devices.issue_device(device, officer)
        devices.record_check(device, officer, battery_percent=90, free_storage_mb=100,
                             device_time=timezone.now())


def add_records(ns, n):
    for _ in range(n):
        case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"])
        activity = f.ActivityFactory(unit=ns.field, case=case,
                                     arrived_at=timezone.now() - timedelta(hours=1))
        f.ActivityOfficerFactory(activity=activity, person=ns.people["officer"],
                                 is_recorder=True)
        f.ActivityOfficerFactory(activity=activity, person=ns.people["unit_head"])


@pytest.mark.parametrize("name,role", [
    ("device_list", "custodian"), ("my_devices", "officer"), ("ledger", "custodian"),
    ("case_list", "leader"), ("activity_list", "leader"), ("home", "leader"),
])
def test_list_query_count_does_not_grow_with_rows(site, login, django_assert_max_num_queries,
                                                  name, role):
    ns = site()
    client = login(ns.people[role])
    url = reverse(name)
    add_devices(ns, 1, 0)
    add_records(ns, 1)
    client.get(url)  # warms the process-wide caches (content types) whatever ran before
    few = queries(client, url)
    add_devices(ns, 29, 1)
    add_records(ns, 29)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url)
    rows = response.context.get("page").rows if response.context.get("page") else None
    assert rows is None or len(rows) == 30
    assert queries(client, url) == few


def test_device_detail_query_count_does_not_grow_with_ledger_lines(
        site, login, django_assert_max_num_queries):
    ns = site()
    device = f.DeviceFactory(unit=ns.field)
    officer = ns.people["officer"]
    client = login(ns.people["custodian"])
    url = reverse("device_detail", args=[device.pk])

    def lend(times):
        for _ in range(times):
            devices.issue_device(device, officer)
            devices.record_check(device, officer, battery_percent=90, free_storage_mb=100,
                                 device_time=timezone.now())
            devices.return_device(device)

    lend(1)
    few = queries(client, url)
    lend(20)
    with django_assert_max_num_queries(MAX_QUERIES + 4):
        client.get(url)
    assert queries(client, url) == few
