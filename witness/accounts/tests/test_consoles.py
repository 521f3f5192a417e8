"""The system and security administrators' consoles (issue 5 item 1, 三员分立): the
security administrator gives and ends roles and manages no account settings; the system
administrator manages technical account settings and gives no roles; neither sees
enforcement data or the audit log; a second administrator role is refused."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.accounts.testing import verified_login
from witness.audit.models import AuditEntry, Outcome
from witness.org import services as org
from witness.org.models import Role, RoleAssignment
from witness.testing import factories as f
from witness.web import lockout
from witness.web.models import LoginLock

ROLES = [role.value for role in Role]

# Written out by hand (not read from the policy): who may open each console page.
CONSOLE = [
    ("role_list", "get", {"secadmin"}),
    ("role_assign", "post", {"secadmin"}),
    ("role_end", "post", {"secadmin"}),
    ("user_list", "get", {"sysadmin"}),
    ("user_settings", "post", {"sysadmin"}),
    ("account", "get", set(ROLES)),
    ("password_change", "get", set(ROLES)),
]


def local(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def world(ns):
    ns.spare = f.DeviceFactory(unit=ns.field, serial="CONSOLE-DEV-1")
    ns.officer_role = ns.people["officer"].roles.get()
    return ns


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,method,allowed", CONSOLE, ids=[c[0] for c in CONSOLE])
def test_issue5_console_pages_answer_each_role(world, login, client, role, name, method,
                                               allowed):
    args = {"role_end": [world.officer_role.pk],
            "user_settings": [world.people["officer"].user.pk]}.get(name, [])
    login(world.people[role])
    url = reverse(name, args=args)
    response = client.post(url, {}) if method == "post" else client.get(url)
    if role in allowed:
        assert response.status_code in (200, 302, 400), (name, role, response.status_code)
    else:
        assert response.status_code == 403, (name, role)


@pytest.mark.django_db
def test_issue5_the_security_administrator_gives_and_ends_roles(world, login, client):
    officer = world.people["officer"]
    login(world.people["secadmin"])
    page = client.get(reverse("role_list"))
    assert page.status_code == 200 and officer.name in page.content.decode()
    response = client.post(reverse("role_assign"), {
        "person": officer.pk, "role": "unit_head", "unit": world.field.pk, "effective_from": ""})
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(person=officer, role="unit_head")
    assert assignment.unit == world.field
    entry = AuditEntry.objects.filter(action="role.assign").latest("id")
    assert entry.actor_label == world.people["secadmin"].user.username
    assert entry.details["role"] == "unit_head"
    response = client.post(reverse("role_end", args=[assignment.pk]), {"at": ""})
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.effective_to is not None
    assert AuditEntry.objects.filter(action="role.end").latest("id").actor_label == \
        world.people["secadmin"].user.username


@pytest.mark.django_db
def test_issue5_a_second_administrator_role_is_refused_in_both_languages(world, login,
                                                                          client):
    sysadmin = world.people["sysadmin"]
    login(world.people["secadmin"])
    response = client.post(reverse("role_assign"), {
        "person": sysadmin.pk, "role": "auditadmin", "unit": "", "effective_from": ""})
    assert response.status_code == 409
    html = response.content.decode()
    assert "三员" in html or "三个不同" in html or "不同的账户" in html
    assert "three different accounts" in html
    assert not RoleAssignment.objects.filter(person=sysadmin, role="auditadmin").exists()


@pytest.mark.django_db
def test_issue5_input_errors_and_refusals_of_the_role_console(world, login, client):
    login(world.people["secadmin"])
    bad = client.post(reverse("role_assign"), {"person": "", "role": "king"})
    assert bad.status_code == 400
    assignment = world.officer_role
    early = client.post(reverse("role_end", args=[assignment.pk]),
                        {"at": local(assignment.effective_from - timedelta(days=1))})
    assert early.status_code == 422
    assert client.post(reverse("role_end", args=[assignment.pk]),
                       {"at": "not a time"}).status_code == 400
    other = f.PersonFactory(unit=f.UnitFactory(), roles=[Role.OFFICER])
    assert client.post(reverse("role_end", args=[other.roles.get().pk]), {}).status_code == 404
    assignment.refresh_from_db()
    assert assignment.effective_to is None


@pytest.mark.django_db
def test_issue5_the_system_administrator_cannot_give_roles(world, login, client):
    officer = world.people["officer"]
    login(world.people["sysadmin"])
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    assert client.get(reverse("role_list")).status_code == 403
    response = client.post(reverse("role_assign"), {
        "person": officer.pk, "role": "leader", "unit": "", "effective_from": ""})
    assert response.status_code == 403
    assert client.post(reverse("role_end", args=[world.officer_role.pk]), {}).status_code == 403
    assert org.roles_at(officer) == {"officer"}
    assert not AuditEntry.objects.filter(id__gt=since, action__in=["role.assign", "role.end"],
                                         outcome=Outcome.SUCCESS)


@pytest.mark.django_db
def test_issue5_the_security_administrator_cannot_manage_accounts(world, login, client):
    officer = world.people["officer"]
    login(world.people["secadmin"])
    assert client.get(reverse("user_list")).status_code == 403
    for action in ("deactivate", "force_password", "reset_otp", "unlock"):
        response = client.post(reverse("user_settings", args=[officer.user.pk]),
                               {"action": action})
        assert response.status_code == 403
    officer.user.refresh_from_db()
    assert officer.user.is_active


@pytest.mark.django_db
def test_issue5_the_system_administrator_manages_accounts(world, login, client):
    officer = world.people["officer"]
    admin = world.people["sysadmin"]
    login(admin)
    page = client.get(reverse("user_list"))
    assert page.status_code == 200 and officer.user.username in page.content.decode()
    url = reverse("user_settings", args=[officer.user.pk])
    assert client.post(url, {"action": "deactivate"}).status_code == 302
    officer.user.refresh_from_db()
    assert not officer.user.is_active
    # the deactivated account's session ends and it cannot log in
    other = verified_login(Client(), officer.user)
    assert other.get(reverse("home")).status_code == 302
    again = client.post(url, {"action": "deactivate"})
    assert again.status_code == 409
    assert client.post(url, {"action": "activate"}).status_code == 302
    officer.user.refresh_from_db()
    assert officer.user.is_active
    assert [e.action for e in AuditEntry.objects.filter(
        action__in=["user.activate", "user.deactivate"]).order_by("id")] == [
        "user.deactivate", "user.activate"]
    # unlock a locked user name
    LoginLock.objects.create(username=officer.user.username, failures=5,
                             last_failure_at=lockout.now(),
                             locked_until=lockout.now() + timedelta(minutes=10))
    listing = client.get(reverse("user_list"), {"q": officer.user.username})
    assert 'class="badge badge-alert"' in listing.content.decode()
    assert client.post(url, {"action": "unlock"}).status_code == 302
    assert lockout.locked_until(officer.user.username) is None
    assert AuditEntry.objects.filter(action="auth.unlock").exists()
    assert client.post(url, {"action": "unlock"}).status_code == 409  # not locked
    assert client.post(url, {"action": "explode"}).status_code == 302  # form error message
    # not their own account
    own = client.post(reverse("user_settings", args=[admin.user.pk]), {"action": "deactivate"})
    assert own.status_code == 409
    admin.user.refresh_from_db()
    assert admin.user.is_active


@pytest.mark.django_db
def test_issue5_accounts_of_another_agency_are_not_found(world, site, login, client):
    other = site()
    login(world.people["sysadmin"])
    url = reverse("user_settings", args=[other.people["officer"].user.pk])
    assert client.post(url, {"action": "deactivate"}).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role,name", [("sysadmin", "user_list"), ("secadmin", "role_list")])
def test_issue5_consoles_show_no_enforcement_data(world, login, client, role, name):
    """三员分立: no recordings, devices, cases or audit log on the consoles."""
    login(world.people[role])
    html = client.get(reverse(name)).content.decode()
    assert world.spare.serial not in html
    for page in ("audit_log", "device_list", "case_list", "activity_list"):
        assert f'href="{reverse(page)}"' not in html
    assert client.get(reverse("audit_log")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("role,name", [("sysadmin", "user_list"), ("secadmin", "role_list")])
def test_issue5_console_lists_are_keyset_paged_without_count(world, login, client, role,
                                                              name, settings):
    for i in range(55):
        person = f.PersonFactory(unit=world.field, name=f"页测{i:03d}", roles=[Role.OFFICER])
        person.user = f.UserFactory(username=f"page-{i:03d}")
        person.save(update_fields=["user"])
    login(world.people[role])
    with CaptureQueriesContext(connection) as queries:
        first = client.get(reverse(name))
    assert first.status_code == 200
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    page = first.context["page"]
    assert len(page.rows) == 50 and page.next_cursor
    second = client.get(reverse(name), {"after": page.next_cursor})
    rows = second.context["page"].rows
    assert rows and not {r.pk for r in rows} & {r.pk for r in page.rows}


@pytest.mark.django_db
@pytest.mark.parametrize("name,args,data,role", [
    ("otp_verify", None, {"code": "123456"}, "leader"),
    ("otp_enrol", None, {"code": "123456"}, "custodian"),
    ("password_change", None, {"old_password": "x"}, "officer"),
    ("role_assign", None, {"role": "officer"}, "secadmin"),
    ("role_end", "officer_role", {}, "secadmin"),
    ("user_settings", "officer_user", {"action": "deactivate"}, "sysadmin"),
])
def test_issue5_every_form_of_the_accounts_checks_csrf(world, name, args, data, role):
    from witness.accounts.testing import confirmed_device

    client = Client(enforce_csrf_checks=True)
    person = world.people[role]
    if name == "otp_verify":
        confirmed_device(person.user)
        client.force_login(person.user)  # the password step only
    elif name == "otp_enrol":
        client.force_login(person.user)
    else:
        verified_login(client, person.user)
    target = {"officer_role": world.officer_role.pk,
              "officer_user": world.people["officer"].user.pk}.get(args)
    url = reverse(name, args=[target] if target else [])
    before = AuditEntry.objects.count()
    assert client.post(url, data).status_code == 403
    assert AuditEntry.objects.count() == before
    world.people["officer"].user.refresh_from_db()
    assert world.people["officer"].user.is_active


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["sysadmin", "secadmin"])
def test_issue5_administrators_home_links_to_their_console(world, login, client, role):
    html = login(world.people[role]).get(reverse("home")).content.decode()
    console = {"sysadmin": "user_list", "secadmin": "role_list"}[role]
    notice = html.split('id="administrator-notice"', 1)[1].split("</section>", 1)[0]
    assert f'href="{reverse(console)}"' in notice
