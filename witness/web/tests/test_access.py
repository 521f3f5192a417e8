"""Every page × every role → the status the role rules give (三员分立: the system,
security and audit administrators see no enforcement data; the audit administrator sees
the audit log and nothing else; the legal role reads the access history of recordings)."""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import URLPattern, reverse
from django.utils import timezone

from witness.audit import services as audit
from witness.devices import services as devices
from witness.org import services as org
from witness.org.models import Role
from witness.station.models import StationVolume, VolumeState
from witness.testing import factories as f
from witness.web import urls
from witness.web.access import AUDIT_PAGES, PAGES, pages_for
from witness.web.views.common import roles_required

ROLES = [role.value for role in Role]
ADMINS = {"sysadmin", "secadmin", "auditadmin"}
HEADS = {"unit_head", "leader", "legal"}

# (label, url name, which object, method) -> the roles that get ``ok``; everyone else
# gets 403. ``held`` is out with the officer, ``spare`` is in store.
OK = 200
MATRIX = [
    ("home", "home", None, "get", set(ROLES), OK),
    ("my devices", "my_devices", None, "get", {"officer"}, OK),
    ("device list", "device_list", None, "get", {"custodian"} | HEADS, OK),
    ("ledger", "ledger", None, "get", {"custodian"} | HEADS, OK),
    ("detail of a held device", "device_detail", "held", "get",
     {"custodian", "officer"} | HEADS, OK),
    ("detail of a device in store", "device_detail", "spare", "get",
     {"custodian"} | HEADS, OK),
    ("register", "device_register", None, "get", {"custodian"}, OK),
    ("issue", "device_issue", "spare", "get", {"custodian"}, OK),
    ("event", "device_event", "held", "get", {"custodian"}, OK),
    ("check of a held device", "device_check", "held", "get", {"custodian", "officer"}, OK),
    ("check of a device in store", "device_check", "spare", "get", {"custodian"}, OK),
    # A device in store cannot be returned: the refusal (409) shows who got past the gate.
    ("return of a device in store", "device_return", "spare", "post", {"custodian"}, 409),
    ("case list", "case_list", None, "get", HEADS, OK),
    ("case detail", "case_detail", "case", "get", HEADS, OK),
    ("new case", "case_create", None, "get", {"unit_head", "leader"}, OK),
    ("activity list", "activity_list", None, "get", {"officer"} | HEADS, OK),
    ("activity detail", "activity_detail", "activity", "get", {"officer"} | HEADS, OK),
    ("new activity", "activity_create", None, "get", {"officer", "unit_head", "leader"}, OK),
    ("assignment queue", "assignment_queue", None, "get", {"custodian"}, OK),
    # No activity and no reason: the refusal (422) shows who got past the gate.
    ("assign a recording", "recording_assign", "queued", "post", {"custodian"}, 422),
    ("ingest station", "station", None, "get", {"custodian"}, OK),
    # The volume is not failed: the refusal (409) shows who got past the gate.
    ("retry a docked volume", "station_retry", "volume", "post", {"custodian"}, 409),
    ("upload files", "ingest_upload", None, "get", {"custodian"}, OK),
    ("an ingest run", "ingest_run", "run", "get", {"custodian"} | HEADS, OK),
    ("audit log", "audit_log", None, "get", {"auditadmin"}, OK),
    ("recording access history", "recording_access", None, "get",
     {"auditadmin", "legal"}, OK),
    ("an audit entry of a recording access", "audit_entry", "access_entry", "get",
     {"auditadmin", "legal"}, OK),
    ("an audit entry of another action", "audit_entry", "other_entry", "get",
     {"auditadmin"}, OK),
    ("checkpoints", "audit_checkpoints", None, "get", {"auditadmin"}, OK),
]


@pytest.fixture
def world(site):
    ns = site()
    ns.held = f.DeviceFactory(unit=ns.field, serial="ACL-0001")
    ns.spare = f.DeviceFactory(unit=ns.field, serial="ACL-0002")
    devices.issue_device(ns.held, ns.people["officer"])
    ns.case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"])
    ns.activity = f.ActivityFactory(unit=ns.field, case=ns.case,
                                    arrived_at=timezone.now() - timedelta(hours=2))
    ns.queued = f.RecordingFactory(device=ns.held)
    ns.run = ns.queued.ingest_run or f.IngestRunFactory(agency=ns.agency, device=ns.held)
    ns.volume = StationVolume.objects.create(host="h", watch_dir="/media", path="/media/A",
                                             agency=ns.agency, run=ns.run,
                                             state=VolumeState.DONE)
    with transaction.atomic():
        ns.access_entry = audit.append(ns.people["legal"].user, "recording.play", ns.queued)
        ns.other_entry = audit.append(ns.people["custodian"].user, "device.check", ns.held)
    return ns


def test_the_matrix_covers_every_page_of_the_web_shell():
    names = {p.name for p in urls.urlpatterns if isinstance(p, URLPattern)}
    assert {row[1] for row in MATRIX} == names - {"login", "logout"}
    assert set(PAGES) == names - {"login", "logout"}


def test_a_gate_needs_a_page_with_a_rule():
    """No gate without an explicit role set: an unknown page is a programming error."""
    with pytest.raises(ValueError):
        roles_required("no_such_page")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label,name,target,method,allowed,ok", MATRIX,
                         ids=[row[0] for row in MATRIX])
def test_every_page_answers_each_role_as_the_rules_say(world, login, role, label, name,
                                                       target, method, allowed, ok):
    args = [getattr(world, target).pk] if target else []
    client = login(world.people[role])
    url = reverse(name, args=args)
    if method == "post":
        response = client.post(url, {"part": "row"}, HTTP_HX_REQUEST="true")
    else:
        response = client.get(url)
    assert response.status_code == (ok if role in allowed else 403), (label, role)


@pytest.mark.parametrize("role", sorted(ADMINS))
def test_administrators_get_a_notice_without_counts_or_links(world, login, role):
    """三员分立: no enforcement data on the administrators' home page; no link to a
    console that does not exist yet, and the audit administrator's links go to the audit
    pages only."""
    response = login(world.people[role]).get(reverse("home"))
    assert response.status_code == 200
    assert "devices_out" not in response.context and "open_findings" not in response.context
    html = response.content.decode()
    notice = html.split('id="administrator-notice"', 1)[1].split("</section>", 1)[0]
    main = html.split('<main class="page">', 1)[1].split("</main>", 1)[0]
    assert 'data-count' not in main
    if role == "auditadmin":
        links = set(re.findall(r'<a [^>]*href="([^"]*)"', main))
        assert links == {reverse("audit_log"), reverse("audit_checkpoints")}
    else:
        assert "<a " not in notice
        assert "<a " not in main
    assert world.held.serial not in html


def test_an_administrator_with_an_enforcement_role_still_sees_no_enforcement_data(
        world, login):
    person = world.people["sysadmin"]
    org.assign_role(person, Role.LEADER)
    assert pages_for(frozenset({"sysadmin", "leader"})) == frozenset()
    client = login(person)
    assert client.get(reverse("case_list")).status_code == 403
    assert "devices_out" not in client.get(reverse("home")).context


@pytest.mark.parametrize("role", ["leader", "legal", "custodian"])
def test_the_audit_administrator_sees_the_audit_pages_and_nothing_else(world, login, role):
    """Even holding an enforcement role besides, the audit administrator opens exactly the
    audit pages; the system and security administrators open none of them."""
    assert pages_for(frozenset({"auditadmin"})) == AUDIT_PAGES
    assert pages_for(frozenset({"auditadmin", role})) == AUDIT_PAGES
    assert pages_for(frozenset({"sysadmin", role})) == frozenset()
    assert pages_for(frozenset({"secadmin", "legal"})) == frozenset()
    # no account should hold two administrator roles; one that does gets no console
    assert pages_for(frozenset({"auditadmin", "sysadmin"})) == frozenset()
    person = world.people["auditadmin"]
    org.assign_role(person, role)
    client = login(person)
    assert client.get(reverse("audit_log")).status_code == 200
    assert client.get(reverse("case_list")).status_code == 403
    assert client.get(reverse("device_list")).status_code == 403
    assert "devices_out" not in client.get(reverse("home")).context


def test_officer_cannot_return_a_device_someone_else_holds(world, login):
    """DEV-3: only the custodian or the current holder takes a device back."""
    other = f.PersonFactory(unit=world.field, roles=[Role.OFFICER])
    other.user = f.UserFactory(username="officer-2")
    other.save(update_fields=["user"])
    client = login(other)
    url = reverse("device_return", args=[world.held.pk])
    assert client.post(url, {"part": "row"}, HTTP_HX_REQUEST="true").status_code == 403
    assert client.get(reverse("device_check", args=[world.held.pk])).status_code == 403
    assert client.get(reverse("device_detail", args=[world.held.pk])).status_code == 403
    assert world.held.issues.get().returned_at is None


def test_the_holder_returns_their_own_device_and_lands_on_my_devices(world, login):
    client = login(world.people["officer"])
    response = client.post(reverse("device_return", args=[world.held.pk]))
    assert response.status_code == 302 and response.url == reverse("my_devices")
    assert world.held.issues.get().returned_at is not None
    # No longer the holder: the device's page and its check are closed to them now.
    assert client.get(reverse("device_detail", args=[world.held.pk])).status_code == 403


def test_officers_see_only_the_actions_they_may_take(world, login):
    html = login(world.people["officer"]).get(reverse("my_devices")).content.decode()
    assert reverse("device_return", args=[world.held.pk]) in html
    assert reverse("device_issue", args=[world.held.pk]) not in html
    activity = login(world.people["officer"]).get(
        reverse("activity_detail", args=[world.activity.pk])).content.decode()
    assert world.case.number in activity
    assert reverse("case_detail", args=[world.case.pk]) not in activity


def test_heads_see_devices_without_actions(world, login):
    html = login(world.people["leader"]).get(reverse("device_list")).content.decode()
    assert world.held.serial in html
    for name in ("device_return", "device_issue", "device_check"):
        assert reverse(name, args=[world.held.pk]) not in html
        assert reverse(name, args=[world.spare.pk]) not in html
    assert reverse("device_register") not in html
