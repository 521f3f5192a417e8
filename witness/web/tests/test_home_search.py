"""Role home pages and the global search (issue 8 item 1): each role lands on its work of
the day; the search finds activities, cases, recordings, devices and people within the
user's scope, pages by keyset, rejects bad parameters with 400 in both languages, and its
query count does not grow with the rows."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.access.labels import Label
from witness.devices import services as devices
from witness.findings.models import FindingStatus
from witness.findings.services import raise_finding
from witness.recordings.models import Attribution
from witness.testing import factories as f
from witness.web.views import search_kinds

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(site):
    ns = site()
    officer = ns.people["officer"]
    ns.device = f.DeviceFactory(unit=ns.field, serial="DSJ-S-0001")
    ns.issue = devices.issue_device(ns.device, officer, purpose="检查")
    ns.case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"],
                            number="鲁市监立〔2026〕88号")
    ns.mine = f.ActivityFactory(unit=ns.field, case=ns.case, place="人民路18号")
    f.ActivityOfficerFactory(activity=ns.mine, person=officer, is_recorder=True)
    ns.other = f.ActivityFactory(unit=ns.field2, place="解放路9号", label=Label.INTERNAL)
    ns.recording = f.RecordingFactory(device=ns.device, activity=ns.mine, holder=officer,
                                      attribution=Attribution.ATTRIBUTED, queue_reason="")
    return ns


def get(client, **params):
    return client.get(reverse("search"), params)


def ids(response, kind):
    return [row.pk for s in response.context["sections"] if s["kind"] == kind
            for row in s["rows"]]


# --- home pages ------------------------------------------------------------------------------

def test_officer_home_lists_findings_missing_recordings_and_devices_to_return(world, login):
    """Issue 8 item 1: the officer's work of the day, and no agency-wide figures."""
    bare = f.ActivityFactory(unit=world.field, place="无记录的检查")
    f.ActivityOfficerFactory(activity=bare, person=world.people["officer"])
    raise_finding("ACT-5.gap", world.mine, unit=world.field,
                  responsible=world.people["officer"])
    response = login(world.people["officer"]).get(reverse("home"))
    tasks = response.context["tasks"]["officer"]
    assert [a.pk for a in tasks["missing_recordings"].rows] == [bare.pk]
    assert [i.device.serial for i in tasks["devices_held"].rows] == ["DSJ-S-0001"]
    assert len(tasks["my_findings"].rows) == 1
    assert "devices_out" not in response.context
    html = response.content.decode()
    assert 'id="tasks-officer"' in html and "无记录的检查" in html


def test_custodian_home_shows_queue_and_registrations(world, login):
    f.RecordingFactory(device=world.device)  # queued by default
    f.RecordingFactory(device=world.device)
    response = login(world.people["custodian"]).get(reverse("home"))
    tasks = response.context["tasks"]["custodian"]
    assert tasks["unassigned"] == 2 and tasks["registrations"] == 0
    assert tasks["docked_total"] == 0
    assert 'data-count="unassigned"' in response.content.decode()


def test_heads_see_findings_to_decide_and_legal_sees_campaigns(world, login, client):
    explained, _new = raise_finding("ACT-5.gap", world.mine, unit=world.field,
                                    responsible=world.people["officer"])
    explained.status = FindingStatus.EXPLAINED
    explained.save(update_fields=["status"])
    leader = login(world.people["leader"]).get(reverse("home")).context
    assert leader["tasks"]["approver"]["findings_to_decide"] == 1
    assert leader["tasks"]["approver"]["approvals"] == 0
    client.logout()
    legal = login(world.people["legal"]).get(reverse("home"))
    assert "legal" in legal.context["tasks"] and 'id="tasks-legal"' in legal.content.decode()


@pytest.mark.parametrize("role,most", [("officer", 16), ("custodian", 17), ("unit_head", 17),
                                       ("leader", 16), ("legal", 16)])
def test_home_query_count_per_role_does_not_grow(world, login, role, most,
                                                 django_assert_max_num_queries):
    client = login(world.people[role])
    client.get(reverse("home"))
    for i in range(15):
        a = f.ActivityFactory(unit=world.field, place=f"多{i}")
        f.ActivityOfficerFactory(activity=a, person=world.people["officer"])
        f.RecordingFactory(device=world.device)
    with django_assert_max_num_queries(most):
        assert client.get(reverse("home")).status_code == 200


# --- search ----------------------------------------------------------------------------------

def test_search_finds_each_kind(world, login):
    client = login(world.people["leader"])
    assert ids(get(client, q="人民路"), "activity") == [world.mine.pk]
    assert ids(get(client, q=str(world.mine.pk), kind="activity"), "activity") == [world.mine.pk]
    assert ids(get(client, q="88号"), "case") == [world.case.pk]
    assert ids(get(client, q="DSJ-S-0001"), "device") == [world.device.pk]
    assert ids(get(client, q="dsj-s-0001"), "recording") == [world.recording.pk]
    assert ids(get(client, q=str(world.recording.pk), kind="recording"),
               "recording") == [world.recording.pk]
    people = ids(get(client, q=world.people["officer"].name), "person")
    assert world.people["officer"].pk in people


@pytest.mark.parametrize("q", ["bench:93787", "执法员0124", "没有这个设备"])
def test_a_recording_search_that_matches_no_device_is_an_empty_page_not_an_error(
        world, login, q):
    """bench/web found a 500: a text that names no device left ``device_id IN ()``, and
    PostgreSQL's row estimate (EXPLAIN of the compiled query) raised EmptyResultSet."""
    client = login(world.people["leader"])
    answer = get(client, q=q, kind="recording")
    assert answer.status_code == 200
    assert ids(answer, "recording") == []


def test_search_filters_unit_type_label_dates_and_findings(world, login):
    client = login(world.people["leader"])
    both = {world.mine.pk, world.other.pk}
    assert set(ids(get(client, kind="activity"), "activity")) >= both
    assert ids(get(client, kind="activity", unit=world.field2.pk), "activity") == [world.other.pk]
    assert ids(get(client, kind="activity", label="internal"), "activity") == [world.other.pk]
    assert ids(get(client, kind="activity", type="no_such_type"), "activity") == []
    today = timezone.localdate()
    assert set(ids(get(client, kind="activity", date_from=today - timedelta(days=1),
                       date_to=today), "activity")) == both
    assert ids(get(client, kind="activity", date_to=today - timedelta(days=2)), "activity") == []
    raise_finding("ACT-5.gap", world.other)
    assert ids(get(client, kind="activity", finding="open"), "activity") == [world.other.pk]
    assert ids(get(client, kind="activity", finding="none"), "activity") == [world.mine.pk]
    # a filter a kind does not have leaves that kind out
    kinds = [s["kind"] for s in get(client, label="general").context["sections"]]
    assert "device" not in kinds and "person" not in kinds and "activity" in kinds


def test_search_respects_scope(world, site, login, client):
    """An officer finds only their own activities and recordings; nobody finds another
    agency's objects."""
    officer = login(world.people["officer"])
    assert ids(get(officer, kind="activity"), "activity") == [world.mine.pk]
    assert ids(get(officer, q="解放路"), "activity") == []
    assert "case" not in [s["kind"] for s in get(officer, q="88号").context["sections"]]
    client.logout()
    other = site()
    stranger = login(other.people["leader"])
    assert ids(get(stranger, q="DSJ-S-0001"), "device") == []
    assert ids(get(stranger, q="人民路18号"), "activity") == []
    assert ids(get(stranger, q=str(world.recording.pk), kind="recording"), "recording") == []


def test_administrators_cannot_search(world, login):
    assert get(login(world.people["sysadmin"]), q="x").status_code == 403


@pytest.mark.parametrize("params", [
    {"kind": "everything"}, {"date_from": "2026/11/01"}, {"date_to": "yesterday"},
    {"date_from": "2026-11-02", "date_to": "2026-11-01"}, {"unit": "abc"},
    {"label": "secret"}, {"finding": "maybe"}, {"after": "not-a-cursor"},
    {"type": "bad type!"}, {"q": "x" * 101},
    {"kind": "case", "after": search_kinds.encode_cursor("activity", None, 5)},
])
def test_bad_parameters_answer_400_in_both_languages(world, login, params):
    response = get(login(world.people["leader"]), **params)
    assert response.status_code == 400
    lines = response.context["error_lines"]
    assert len(lines) == 2 and any("\u4e00" <= ch <= "\u9fff" for ch in lines[0])
    assert 'id="search-error"' in response.content.decode()


def test_keyset_pages_cover_every_row_once_without_counting(world, login, monkeypatch):
    monkeypatch.setattr("witness.web.views.search.PAGE_SIZE", 4)
    for i in range(9):
        f.ActivityFactory(unit=world.field, place=f"翻页{i}",
                          arrived_at=world.mine.arrived_at)  # ties: the id decides
    client = login(world.people["leader"])
    seen, after = [], None
    while True:
        params = {"q": "翻页", "kind": "activity"} | ({"after": after} if after else {})
        with CaptureQueriesContext(connection) as ctx:
            response = get(client, **params)
        assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
        section = response.context["sections"][0]
        seen += [row.pk for row in section["rows"]]
        after = section["next_cursor"]
        if not after:
            break
    assert len(seen) == 9 == len(set(seen))


@pytest.mark.parametrize("role", ["officer", "custodian", "unit_head", "leader"])
def test_search_query_count_does_not_grow_with_rows(world, login, role,
                                                    django_assert_max_num_queries):
    client = login(world.people[role])
    get(client, q="DSJ")

    def measure():
        with CaptureQueriesContext(connection) as ctx:
            assert get(client, q="DSJ").status_code == 200
        return len(ctx.captured_queries)

    few = measure()
    for i in range(12):
        a = f.ActivityFactory(unit=world.field, case=world.case, place=f"DSJ {i}")
        f.ActivityOfficerFactory(activity=a, person=world.people["officer"])
        device = f.DeviceFactory(unit=world.field, serial=f"DSJ-M-{i}")
        f.RecordingFactory(device=device, activity=a, attribution=Attribution.ATTRIBUTED,
                           queue_reason="")
    assert measure() == few
    with django_assert_max_num_queries(20):
        get(client, q="DSJ")
