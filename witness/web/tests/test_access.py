"""Every page × every role → the status the role rules give (三员分立: the system,
security and audit administrators see no enforcement data; the audit administrator sees
the audit log and nothing else; the legal role reads the access history of recordings).

Object scope (issue 5 item 1, witness.access.authz): an officer opens the activities they
are an officer of, a unit head those of the units they head, leaders and the legal role
the whole agency; outside the scope the page answers 404 (``SCOPE``). Every refusal writes
one ``denied`` audit entry."""

import contextlib
import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import NoReverseMatch, URLPattern, reverse
from django.utils import timezone

from witness.audit import services as audit
from witness.audit.models import AuditEntry, Outcome
from witness.devices import services as devices
from witness.org import services as org
from witness.org.models import Role
from witness.station.models import StationVolume, VolumeState
from witness.testing import factories as f
from witness.web import urls
from witness.web.access import AUDIT_PAGES, PAGES, pages_for
from witness.web.views.common import roles_required

ROLES = [role.value for role in Role]
# The pages every signed-in account opens, whatever it holds: its own account pages.
OWN = pages_for(frozenset())


def actions_of(pages) -> set[str]:
    return {PAGES[name] for name in pages}

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
    ("detail of the officer's own activity", "activity_detail", "activity", "get",
     {"officer"} | HEADS, OK),
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
    # The lead's custody report page: an activity of the field unit (heads, custodian).
    ("custody report of an activity", "custody_report", "custody_activity", "get",
     {"custodian"} | HEADS, OK),
]

# Object scope (issue 5 item 1): (label, url name, which object, method, the roles that
# get ``ok``, the roles the role rules admit but the scope hides: 404); everyone else 403.
# ``other_activity`` is in the second field unit (執法二科) and the officer is not on it;
# ``foreign_case`` and ``foreign_activity`` belong to another agency.
NOT_FOUND = 404
SCOPE = [
    ("an activity of another unit the officer is not on", "activity_detail",
     "other_activity", "get", {"leader", "legal"}, OK, {"officer", "unit_head"}),
    ("an activity of another agency", "activity_detail", "foreign_activity", "get",
     set(), OK, {"officer"} | HEADS),
    ("a case of another agency", "case_detail", "foreign_case", "get", set(), OK, HEADS),
    ("a recording of another agency to assign", "recording_assign", "foreign_recording",
     "post", set(), OK, {"custodian"}),
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
    f.ActivityOfficerFactory(activity=ns.activity, person=ns.people["officer"],
                             is_recorder=True)
    ns.custody_activity = ["activity", ns.activity.pk]
    ns.other_activity = f.ActivityFactory(unit=ns.field2, case=ns.case,
                                          arrived_at=timezone.now() - timedelta(hours=4))
    elsewhere = f.UnitFactory()
    ns.foreign_activity = f.ActivityFactory(unit=elsewhere)
    ns.foreign_case = f.CaseFactory(agency=elsewhere.agency)
    ns.foreign_recording = f.RecordingFactory(device=f.DeviceFactory(unit=elsewhere))
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
    """The pages of witness/web/urls.py; the walk of every pattern of the site against the
    policy is witness/access/tests/test_walk.py."""
    names = {p.name for p in urls.urlpatterns if isinstance(p, URLPattern)}
    assert {row[1] for row in MATRIX} == names - {"login", "logout"}
    assert names - {"login", "logout"} <= set(PAGES)


def test_a_gate_needs_a_page_with_a_rule():
    """No gate without an explicit role set: an unknown page is a programming error."""
    with pytest.raises(ValueError):
        roles_required("no_such_page")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label,name,target,method,allowed,ok", MATRIX,
                         ids=[row[0] for row in MATRIX])
def test_every_page_answers_each_role_as_the_rules_say(world, login, role, label, name,
                                                       target, method, allowed, ok):
    obj = getattr(world, target) if target else None
    args = [] if obj is None else obj if isinstance(obj, list) else [obj.pk]
    client = login(world.people[role])
    url = reverse(name, args=args)
    if method == "post":
        response = client.post(url, {"part": "row"}, HTTP_HX_REQUEST="true")
    else:
        response = client.get(url)
    assert response.status_code == (ok if role in allowed else 403), (label, role)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label,name,target,method,allowed,ok,hidden", SCOPE,
                         ids=[row[0] for row in SCOPE])
def test_an_object_outside_the_scope_answers_404_as_if_it_did_not_exist(
        world, login, role, label, name, target, method, allowed, ok, hidden):
    """Issue 5 item 1: the role admits the page, the object is outside the role's scope:
    404, not 403, so that its existence is not revealed."""
    client = login(world.people[role])
    url = reverse(name, args=[getattr(world, target).pk])
    if method == "post":
        response = client.post(url, {"activity": "", "note": "x"}, HTTP_HX_REQUEST="true")
    else:
        response = client.get(url)
    expected = ok if role in allowed else NOT_FOUND if role in hidden else 403
    assert response.status_code == expected, (label, role)


def test_lists_show_only_the_activities_in_scope(world, login):
    """The activity list, and a case's page, hold what the detail page would open."""
    other = world.other_activity.place
    own = world.activity.place
    seen = {}
    for role in ("officer", "unit_head", "leader", "legal"):
        html = login(world.people[role]).get(reverse("activity_list")).content.decode()
        seen[role] = (own in html, other in html)
    assert seen == {"officer": (True, False), "unit_head": (True, False),
                    "leader": (True, True), "legal": (True, True)}
    case_page = login(world.people["unit_head"]).get(
        reverse("case_detail", args=[world.case.pk])).content.decode()
    assert own in case_page and other not in case_page
    case_page = login(world.people["leader"]).get(
        reverse("case_detail", args=[world.case.pk])).content.decode()
    assert own in case_page and other in case_page
    assert world.foreign_case.number not in login(world.people["leader"]).get(
        reverse("case_list")).content.decode()


def denied_entries(since: int):
    return list(AuditEntry.objects.filter(id__gt=since, outcome=Outcome.DENIED)
                .order_by("id"))


def last_id() -> int:
    last = AuditEntry.objects.order_by("-id").first()
    return last.pk if last else 0


def test_a_role_refusal_writes_one_denied_entry_with_the_action_path_and_method(
        world, login):
    """GB/T 22239-2019 audit of failures (issue 5 item 1): the gate's 403 is on record."""
    client = login(world.people["officer"])
    since = last_id()  # after the log-in's own entry
    assert client.get(reverse("audit_log")).status_code == 403
    [entry] = denied_entries(since)
    assert entry.action == "audit.read"
    assert entry.actor_id == str(world.people["officer"].user.pk)
    assert entry.details == {"path": reverse("audit_log"), "method": "GET", "reason": "role"}
    client = login(world.people["leader"])
    since = last_id()
    url = reverse("device_return", args=[world.spare.pk])
    assert client.post(url).status_code == 403
    [entry] = denied_entries(since)
    assert (entry.action, entry.details["method"]) == ("device.return", "POST")
    assert AuditEntry.objects.filter(id__gt=since).count() == 1  # one per refused request


def test_a_scope_refusal_writes_one_denied_entry_naming_the_object(world, login):
    client = login(world.people["officer"])
    since = last_id()
    url = reverse("activity_detail", args=[world.other_activity.pk])
    assert client.get(url).status_code == 404
    [entry] = denied_entries(since)
    assert (entry.action, entry.object_id, entry.details) == (
        "activity.view", str(world.other_activity.pk),
        {"path": url, "method": "GET", "reason": "scope"})
    # A device the officer does not hold: 403 from the view, one entry all the same.
    other = f.PersonFactory(unit=world.field, roles=[Role.OFFICER])
    other.user = f.UserFactory(username="officer-3")
    other.save(update_fields=["user"])
    client = login(other)
    since = last_id()
    url = reverse("device_check", args=[world.held.pk])
    assert client.get(url).status_code == 403
    [entry] = denied_entries(since)
    assert (entry.action, entry.details["reason"]) == ("device.check", "scope")


def test_an_allowed_page_and_a_missing_object_write_no_denied_entry(world, login):
    client = login(world.people["leader"])
    since = last_id()
    assert client.get(reverse("activity_detail", args=[world.other_activity.pk])).status_code \
        == 200
    assert client.get(reverse("activity_detail", args=[999999])).status_code == 404
    assert denied_entries(since) == []


def test_the_legal_role_is_refused_an_entry_outside_the_access_history(world, login):
    client = login(world.people["legal"])
    since = last_id()
    url = reverse("audit_entry", args=[world.other_entry.pk])
    assert client.get(url).status_code == 403
    [entry] = denied_entries(since)
    assert (entry.action, entry.details["reason"]) == ("audit.entry", "scope")


@pytest.mark.parametrize("role", sorted(ADMINS))
def test_administrators_get_a_notice_without_counts_or_links(world, login, role):
    """三员分立: no enforcement data on the administrators' home page; no link to a
    console that does not exist yet, and the audit administrator's links go to the audit
    pages only."""
    response = login(world.people[role]).get(reverse("home"))
    assert response.status_code == 200
    assert "devices_out" not in response.context and "open_findings" not in response.context
    html = response.content.decode()
    assert 'id="administrator-notice"' in html
    main = html.split('<main class="page">', 1)[1].split("</main>", 1)[0]
    assert 'data-count' not in main
    links = set(re.findall(r'<a [^>]*href="([^"]*)"', main))
    if role == "auditadmin":
        assert links == {reverse("audit_log"), reverse("audit_checkpoints")}
    else:
        # the links of the notice lead to the role's own console, nowhere else
        console = set()
        for name in pages_for(frozenset({role})) - OWN:
            with contextlib.suppress(NoReverseMatch):  # pages of one object: not linked
                console.add(reverse(name))
        assert links <= console, links - console
        assert actions_of(name for name in pages_for(frozenset({role})) - OWN) == (
            {"config.manage", "user.manage"} & set(PAGES.values()) if role == "sysadmin"
            else {"role.assign"})
    assert world.held.serial not in html


def test_an_administrator_with_an_enforcement_role_still_sees_no_enforcement_data(
        world, login):
    person = world.people["sysadmin"]
    org.assign_role(person, Role.LEADER)
    assert actions_of(pages_for(frozenset({"sysadmin", "leader"})) - OWN) <= {
        "config.manage", "user.manage"}
    client = login(person)
    assert client.get(reverse("case_list")).status_code == 403
    assert "devices_out" not in client.get(reverse("home")).context


@pytest.mark.parametrize("role", ["leader", "legal", "custodian"])
def test_the_audit_administrator_sees_the_audit_pages_and_nothing_else(world, login, role):
    """Even holding an enforcement role besides, the audit administrator opens exactly the
    audit pages; the system and security administrators open none of them."""
    assert pages_for(frozenset({"auditadmin"})) == AUDIT_PAGES
    assert pages_for(frozenset({"auditadmin", role})) == AUDIT_PAGES
    assert actions_of(AUDIT_PAGES - OWN) == {"audit.read", "audit.entry",
                                             "audit.access_history"}
    assert actions_of(pages_for(frozenset({"sysadmin", role})) - OWN) <= {
        "config.manage", "user.manage"}
    assert actions_of(pages_for(frozenset({"secadmin", "legal"})) - OWN) <= {"role.assign"}
    # no account should hold two administrator roles; one that does gets no console
    assert pages_for(frozenset({"auditadmin", "sysadmin"})) == OWN
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
