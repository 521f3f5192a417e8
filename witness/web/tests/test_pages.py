"""Every page renders for a logged-in user; navigation follows roles; the role gates."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from witness.activities.models import EvidenceItem
from witness.devices import services as devices
from witness.findings.models import FindingStatus
from witness.findings.services import raise_finding
from witness.org.models import Role
from witness.testing import factories as f
from witness.web.views.home import week_start


@pytest.fixture
def world(site):
    """A lushan-2019 agency with a device out, a case and an activity of that case."""
    ns = site()
    ns.device = f.DeviceFactory(unit=ns.field, custodian=ns.people["custodian"],
                                serial="DSJ-T-0001")
    ns.spare = f.DeviceFactory(unit=ns.field, serial="DSJ-T-0002")
    ns.issue = devices.issue_device(ns.device, ns.people["officer"], purpose="日常检查",
                                    actor=ns.people["custodian"].user)
    devices.record_check(ns.device, ns.people["custodian"], battery_percent=95,
                         free_storage_mb=30000, device_time=timezone.now())
    ns.case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"],
                            number="鲁市监立〔2026〕7号", name="某商行销售过期食品案")
    ns.activity = f.ActivityFactory(unit=ns.field, case=ns.case, place="人民路18号某商行",
                                    party="某商行", scene="货架陈列过期食品",
                                    off_site=True,
                                    returned_to_unit_at=timezone.now() - timedelta(minutes=5))
    f.ActivityOfficerFactory(activity=ns.activity, person=ns.people["officer"],
                             is_recorder=True)
    f.ActivityOfficerFactory(activity=ns.activity, person=ns.people["unit_head"])
    EvidenceItem.objects.create(activity=ns.activity, description="过期食品外包装")
    return ns


def page(client, name, *args, **query):
    url = reverse(name, args=args)
    response = client.get(url, query)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_every_page_renders_for_the_roles_that_use_it(world, login, client):
    officer = login(world.people["officer"])
    assert world.agency.name in page(officer, "home")
    assert "DSJ-T-0001" in page(officer, "my_devices")
    detail = page(officer, "device_detail", world.device.pk)  # the device they hold
    assert "日常检查" in detail and world.people["officer"].name in detail
    assert 'name="battery_percent"' in page(officer, "device_check", world.device.pk)
    assert "人民路18号某商行" in page(officer, "activity_list")
    assert 'name="recorder"' in page(officer, "activity_create")
    client.logout()
    custodian = login(world.people["custodian"])
    assert "DSJ-T-0001" in page(custodian, "device_list")
    assert "DSJ-T-0001" in page(custodian, "ledger")
    assert "DSJ-T-0001" in page(custodian, "ledger", device=world.device.pk)
    assert 'name="holder"' in page(custodian, "device_issue", world.spare.pk)
    assert 'name="serial"' in page(custodian, "device_register")
    assert 'name="amount_yuan"' in page(custodian, "device_event", world.device.pk)
    client.logout()
    leader = login(world.people["leader"])
    assert "某商行销售过期食品案" in page(leader, "case_list")
    assert "人民路18号某商行" in page(leader, "case_detail", world.case.pk)
    assert 'name="leader_in_charge"' in page(leader, "case_create")
    assert "人民路18号某商行" in page(leader, "activity_detail", world.activity.pk)


def test_activity_detail_shows_the_act2_fields(world, login):
    """ACT-2: type, case, place, times, officers with the recorder, party, scene,
    evidence items, the 24-hour flags and the return time."""
    html = page(login(world.people["leader"]), "activity_detail", world.activity.pk)
    assert "现场执法" in html  # the profile's name for on_site_enforcement
    assert world.case.number in html
    assert "人民路18号某商行" in html and "货架陈列过期食品" in html
    assert "过期食品外包装" in html
    recorder_line = next(line for line in html.splitlines()
                         if world.people["officer"].name in line and "<li>" in line)
    assert 'badge-ok' in recorder_line
    head_line = next(line for line in html.splitlines()
                     if world.people["unit_head"].name in line and "<li>" in line)
    assert 'badge-ok' not in head_line
    returned = timezone.localtime(world.activity.returned_to_unit_at)
    assert returned.strftime("%Y-%m-%d %H:%M") in html


def test_home_shows_real_counts(world, login):
    f.ActivityFactory(unit=world.field,
                      arrived_at=week_start() - timedelta(hours=1))  # last week
    client = login(world.people["leader"])
    response = client.get(reverse("home"))
    assert response.context["devices_out"] == 1
    assert response.context["activities_this_week"] == (
        1 if world.activity.arrived_at >= week_start() else 0)
    assert response.context["open_cases"] == 1
    ratios = {r.unit_name: r for r in response.context["ratios"]}
    assert ratios["执法一科"].devices == 2
    assert ratios["执法二科"].short == 2  # DEV-2: no devices, minimum 2
    assert response.context["units_short"] == 1
    assert 'data-count="devices-out"' in response.content.decode()


def test_week_starts_on_monday_midnight_local_time():
    start = week_start(timezone.now())
    assert start.weekday() == 0
    assert (start.hour, start.minute, start.second) == (0, 0, 0)
    assert str(start.tzinfo) == settings.TIME_ZONE
    assert timezone.localtime() - start < timedelta(days=7)


def test_home_without_an_agency_says_how_to_start(client, db):
    user = f.UserFactory(username="first")
    client.force_login(user)
    html = client.get(reverse("home")).content.decode()
    assert "witness demo" in html


def test_navigation_follows_roles(world, login, client):
    def nav(role):
        client.logout()
        html = login(world.people[role]).get(reverse("home")).content.decode()
        block = html.split('class="site-nav"', 1)[1].split("</nav>", 1)[0]
        return {name for name in ("my_devices", "activity_list", "case_list", "device_list",
                                  "ledger") if f'href="{reverse(name)}"' in block}

    assert nav("officer") == {"my_devices", "activity_list"}
    assert nav("custodian") == {"device_list", "ledger"}
    for role in ("unit_head", "leader", "legal"):
        assert nav(role) == {"activity_list", "case_list", "device_list", "ledger"}
    for role in ("sysadmin", "secadmin", "auditadmin"):
        assert nav(role) == set()


def test_header_shows_user_roles_logout_and_language_switch(world, login):
    html = login(world.people["unit_head"]).get(reverse("home")).content.decode()
    assert world.people["unit_head"].name in html
    with translation.override("zh-hans"):
        assert str(Role.UNIT_HEAD.label) in html
    assert f'action="{reverse("logout")}"' in html
    assert f'action="{reverse("set_language")}"' in html
    assert 'value="en"' in html and "中文" in html


def test_user_without_a_role_cannot_see_the_lists(world, client):
    client.force_login(f.UserFactory(username="norole"))
    assert client.get(reverse("device_list")).status_code == 403
    assert client.get(reverse("case_list")).status_code == 403
    home = client.get(reverse("home"))
    assert home.status_code == 200 and "devices_out" not in home.context


def test_pages_of_another_agency_are_not_found(world, site, login):
    other = site()
    device = f.DeviceFactory(unit=other.field)
    client = login(world.people["leader"])
    assert client.get(reverse("device_detail", args=[device.pk])).status_code == 404
    case = f.CaseFactory(agency=other.agency, leader_in_charge=other.people["leader"],
                         number="另一机关〔2026〕1号")
    assert client.get(reverse("case_detail", args=[case.pk])).status_code == 404
    activity = f.ActivityFactory(unit=other.field)
    assert client.get(reverse("activity_detail", args=[activity.pk])).status_code == 404


def test_open_findings_count_only_the_users_agency(world, site, login):
    """Findings name their subject generically; the home page counts the open ones whose
    subject belongs to the user's agency."""
    other = site()
    other_device = f.DeviceFactory(unit=other.field)
    raise_finding("DEV-3.refused_issue", world.device)
    raise_finding("ACT-5.gap", world.activity)
    raise_finding("RET-1.case", world.case)
    raise_finding("DEV-4.no_check", world.issue)
    closed, _created = raise_finding("DEV-5.loss", world.spare)
    closed.status = FindingStatus.CLOSED
    closed.save(update_fields=["status"])
    raise_finding("DEV-3.refused_issue", other_device)
    raise_finding("ACT-5.gap", f.ActivityFactory(unit=other.field))
    response = login(world.people["leader"]).get(reverse("home"))
    assert response.context["open_findings"] == 4
    client = login(other.people["leader"])
    assert client.get(reverse("home")).context["open_findings"] == 2


def test_officer_home_links_only_to_pages_an_officer_may_open(world, login):
    html = login(world.people["officer"]).get(reverse("home")).content.decode()
    main = html.split('<main class="page">', 1)[1]
    assert reverse("ledger") not in main and reverse("case_list") not in main
    assert reverse("activity_list") in main
