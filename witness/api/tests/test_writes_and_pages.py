"""Issue 5 item 7: writes through the domain services (audited), errors in one bilingual
shape with 400/404/409/422, and cursor pages whose query count does not grow with rows."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from witness.activities.models import Activity, Case
from witness.api.tests.conftest import granted_request
from witness.audit.models import AuditEntry
from witness.devices.models import DeviceIssue
from witness.recordings.models import Recording
from witness.testing import factories as f


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def new_actions(since: int) -> list[str]:
    return list(AuditEntry.objects.filter(id__gt=since).values_list("action", flat=True))


def iso(dt) -> str:
    return timezone.localtime(dt).isoformat()


def test_opening_a_case_goes_through_the_service_and_is_audited(world):
    since = last_id()
    leader = world.person("leader")
    response = post(world.client("unit_head"), "/api/cases/",
                    {"number": "鲁市监立〔2026〕API-1号", "name": "某超市案",
                     "leader_in_charge": leader.pk, "retention_class": "10y"})
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["leader_in_charge"]["id"] == leader.pk and data["status"] == "open"
    assert Case.objects.filter(pk=data["id"], retention_class="10y").exists()
    assert "case.create" in new_actions(since)
    again = post(world.client("unit_head"), "/api/cases/",
                 {"number": "鲁市监立〔2026〕API-1号", "name": "x",
                  "leader_in_charge": leader.pk})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_case"
    not_leader = post(world.client("unit_head"), "/api/cases/",
                      {"number": "X-2", "name": "x",
                       "leader_in_charge": world.person("officer").pk})
    assert not_leader.status_code == 422
    error = not_leader.json()["error"]
    assert error["code"] == "not_leader" and error["zh"] and error["en"]


def test_recording_an_activity_through_the_api(world):
    officer = world.person("officer")
    start = timezone.now() - timedelta(hours=5)
    body = {"unit": world.ns.field.pk, "activity_type": "on_site_enforcement",
            "place": "鲁山县花园路1号", "arrived_at": iso(start),
            "departed_at": iso(start + timedelta(hours=1)), "officers": [officer.pk],
            "recorder": officer.pk, "evidence_items": ["营业执照"]}
    since = last_id()
    response = post(world.client("officer"), "/api/activities/", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["officers"] == [{"person": {"id": officer.pk, "name": officer.name,
                                            "badge_number": officer.badge_number},
                                 "recorder": True}]
    assert data["evidence_items"] == ["营业执照"] and data["warnings"] == []
    assert Activity.objects.filter(pk=data["id"], created_by=officer.user).exists()
    assert "activity.create" in new_actions(since)
    # the officer now sees it; the rules' refusal is 422; a foreign unit is a field error
    assert data["id"] in {a["id"] for a in
                          world.client("officer").get("/api/activities/").json()["results"]}
    wrong_type = post(world.client("officer"), "/api/activities/",
                      {**body, "activity_type": "karaoke"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["code"] == "bad_activity_type"
    foreign = f.UnitFactory()
    refused = post(world.client("officer"), "/api/activities/", {**body, "unit": foreign.pk})
    assert refused.status_code == 400
    assert set(refused.json()["error"]["fields"]) == {"unit"}
    too_early = post(world.client("officer"), "/api/activities/",
                     {**body, "arrived_at": "1600-01-01T00:00:00"})
    assert too_early.status_code == 400


def test_issue_and_return_a_device_through_the_api(world):
    o = world.objects
    custodian = world.client("custodian")
    officer = world.person("officer")
    url = f"/api/devices/{o['stored'].pk}/issue/"
    missing_check = post(custodian, url, {"holder": officer.pk})
    assert missing_check.status_code == 400
    assert "check" in missing_check.json()["error"]["fields"]
    since = last_id()
    response = post(custodian, url, {
        "holder": officer.pk, "purpose": "日常执法",
        "check": {"battery_percent": 90, "free_storage_mb": 20000,
                  "device_time": iso(timezone.now())}})
    assert response.status_code == 201, response.content
    line = DeviceIssue.objects.get(pk=response.json()["id"])
    assert line.holder == officer and line.checks.count() == 1
    assert {"device.issue", "device.check"} <= set(new_actions(since))
    twice = post(custodian, url, {"holder": officer.pk, "no_check_reason": "test"})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_issued"
    # the officer who holds it returns it
    back = post(world.client("officer"), f"/api/devices/{o['stored'].pk}/return/",
                {"notes": "完好"})
    assert back.status_code == 200 and back.json()["returned_at"]
    again = post(custodian, f"/api/devices/{o['stored'].pk}/return/", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_issued"


def test_malformed_json_and_wrong_methods_answer_in_the_error_shape(world):
    client = world.client("unit_head")
    bad = client.post("/api/cases/", "{not json", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "parse_error"
    form = client.post("/api/cases/", {"number": "1"})
    assert form.status_code == 415
    assert form.json()["error"]["code"] == "unsupported_media_type"
    put = client.put("/api/cases/", "{}", content_type="application/json")
    assert put.status_code == 405 and put.json()["error"]["code"] == "method_not_allowed"
    options = client.options("/api/cases/")  # no metadata: nothing about the data model
    assert options.status_code == 405
    assert client.head("/api/cases/").status_code == 200
    cursor = client.get("/api/cases/?cursor=bm9wZQ")
    assert cursor.status_code == 404 and cursor.json()["error"]["code"] == "not_found"


# -- cursor pages ----------------------------------------------------------------------------


def walk(client, url: str) -> list[int]:
    seen = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        data = response.json()
        assert "count" not in data
        seen += [row["id"] for row in data["results"]]
        url = data["next"]
    return seen


def more_rows(world, n: int) -> None:
    ns, officer = world.ns, world.objects["officer"]
    for i in range(n):
        device = f.DeviceFactory(unit=ns.field)
        DeviceIssue.objects.create(device=device, holder=officer, holder_unit=ns.field,
                                   issued_at=timezone.now() - timedelta(hours=i + 1))
        activity = f.ActivityFactory(unit=ns.field, agency=ns.agency,
                                     arrived_at=timezone.now() - timedelta(hours=i + 5))
        f.ActivityOfficerFactory(activity=activity, person=officer, is_recorder=True)
        f.RecordingFactory(device=device, holder=officer, activity=activity)
        f.CaseFactory(agency=ns.agency, leader_in_charge=world.person("leader"))


def test_cursor_pages_cover_every_row_once(world):
    more_rows(world, 7)
    client = world.client("leader")
    for url, total in (("/api/devices/", 3 + 7), ("/api/ledger/", 1 + 7),
                       ("/api/activities/", 2 + 7), ("/api/recordings/", 2 + 7),
                       ("/api/cases/", 1 + 7)):
        ids = walk(client, f"{url}?page_size=3")
        assert len(ids) == total and len(set(ids)) == total, url
    # an officer pages through their own only
    assert len(walk(world.client("officer"), "/api/activities/?page_size=2")) == 1 + 7


# the token and its account, the person, the roles, the agency, the page, and one per
# prefetched relation (officers, evidence items; a device's open ledger line)
LIST_QUERIES = 8


def test_list_query_count_does_not_grow_with_rows(world, django_assert_max_num_queries):
    more_rows(world, 30)
    for recording in Recording.objects.filter(holder=world.objects["officer"])[:12]:
        granted_request(world.objects["officer"], [recording])
    for role, url in (("leader", "/api/devices/"), ("leader", "/api/ledger/"),
                      ("leader", "/api/activities/"), ("leader", "/api/recordings/"),
                      ("leader", "/api/cases/"), ("officer", "/api/activities/"),
                      ("officer", "/api/recordings/"), ("officer", "/api/devices/mine/"),
                      ("officer", "/api/requests/"), ("custodian", "/api/requests/"),
                      ("officer", "/api/grants/"), ("leader", "/api/grants/")):
        client = world.client(role)
        client.get(url)  # the token's last use is written once a minute: not counted
        with django_assert_max_num_queries(LIST_QUERIES):
            response = client.get(url)
        assert response.status_code == 200
        assert len(response.json()["results"]) >= 12, url
