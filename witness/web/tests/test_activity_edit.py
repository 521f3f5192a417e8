"""Editing an enforcement activity through the web (issue 8 item 4, ACT-2): the creation
form filled with the activity's values, the change through ``update_activity`` with its
``activity.update`` entry (before and after), bilingual refusals, scope (404 + denied)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from witness.audit.models import AuditEntry, Outcome
from witness.org.models import Role
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def local(dt):
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def _activity(ns, *, unit=None, officers=None, recorder=None):
    arrived = (timezone.now() - timedelta(hours=5)).replace(second=37, microsecond=0)
    activity = f.ActivityFactory(unit=unit or ns.field, activity_type="investigation",
                                 place="鲁山县花园路1号", arrived_at=arrived,
                                 departed_at=arrived + timedelta(hours=1))
    officers = officers or [ns.people["officer"], ns.people["unit_head"]]
    recorder = recorder or officers[-1]
    for person in officers:
        f.ActivityOfficerFactory(activity=activity, person=person,
                                 is_recorder=person == recorder)
    activity.evidence_items.create(description="冷柜温度计读数")
    return activity


def _posted(form) -> dict:
    """The form as the browser would send it back unchanged."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if name in ("arrived_at", "departed_at", "returned_to_unit_at"):
            # the bound field gives the local wall time, as the page shows it
            data[name] = value.strftime("%Y-%m-%dT%H:%M") if value else ""
        elif name == "officers":
            data[name] = list(value)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    return data


def test_act2_edit_form_shows_the_activity_in_local_time(site, login):
    ns = site()
    activity = _activity(ns)
    response = login(ns.people["officer"]).get(reverse("activity_edit", args=[activity.pk]))
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form["officers"].value()) == {ns.people["officer"].pk, ns.people["unit_head"].pk}
    assert form["recorder"].value() == ns.people["unit_head"].pk
    assert form["evidence_items"].value() == "冷柜温度计读数"
    assert local(activity.arrived_at) in response.content.decode()  # local wall time
    assert form["activity_type"].value() == "investigation"


def test_act2_edit_changes_fields_and_audits_before_and_after(site, login):
    ns = site()
    activity = _activity(ns)
    officer, head, leader = ns.people["officer"], ns.people["unit_head"], ns.people["leader"]
    client = login(officer)
    data = _posted(client.get(reverse("activity_edit", args=[activity.pk])).context["form"])
    new_departure = activity.departed_at + timedelta(minutes=30)
    data.update(place="鲁山县花园路2号", officers=[officer.pk, leader.pk], recorder=officer.pk,
                departed_at=local(new_departure), evidence_items="过期商品标签\n冷柜温度计读数")
    since = AuditEntry.objects.order_by("-id").first().pk
    response = client.post(reverse("activity_edit", args=[activity.pk]), data)
    assert response.status_code == 302
    assert response.url == reverse("activity_detail", args=[activity.pk])
    activity.refresh_from_db()
    assert activity.place == "鲁山县花园路2号"
    assert activity.departed_at == new_departure.replace(second=0)
    assert activity.arrived_at.second == 37  # unchanged to the minute: not rewritten
    assert set(activity.officers.values_list("person", flat=True)) == {officer.pk, leader.pk}
    assert activity.officers.get(is_recorder=True).person == officer
    [entry] = AuditEntry.objects.filter(id__gt=since, action="activity.update")
    assert entry.outcome == Outcome.SUCCESS and entry.actor_id == str(officer.user.pk)
    assert entry.object_id == str(activity.pk)
    changed = {"place", "departed_at", "officers", "recorder", "evidence_items"}
    assert set(entry.details["before"]) == set(entry.details["after"]) == changed
    assert entry.details["before"]["place"] == "鲁山县花园路1号"
    assert entry.details["after"]["place"] == "鲁山县花园路2号"
    assert entry.details["before"]["recorder"] == str(head)


def test_an_unchanged_form_writes_no_change(site, login):
    ns = site()
    activity = _activity(ns)
    client = login(ns.people["unit_head"])
    url = reverse("activity_edit", args=[activity.pk])
    data = _posted(client.get(url).context["form"])
    data["officers"] = list(reversed(data["officers"]))  # another order is the same team
    assert client.post(url, data).status_code == 302
    assert not AuditEntry.objects.filter(action="activity.update").exists()


def test_invalid_input_answers_4xx_in_chinese_and_changes_nothing(site, login):
    ns = site()
    activity = _activity(ns)
    client = login(ns.people["officer"])
    url = reverse("activity_edit", args=[activity.pk])
    data = _posted(client.get(url).context["form"])
    response = client.post(url, {**data, "place": "", "arrived_at": "昨天"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "这个字段是必填项" in html and "输入一个有效的日期/时间" in html
    # The service's refusal: the departure before the arrival, in Chinese then English.
    response = client.post(url, {**data, "departed_at": local(
        activity.arrived_at - timedelta(hours=1))})
    assert response.status_code == 422
    errors = response.content.decode().split('class="form-errors"', 1)[1].split("</div>")[0]
    assert errors.count("<p>") == 2
    assert "不能早于到达现场时间" in errors and "cannot be before the arrival" in errors
    activity.refresh_from_db()
    assert activity.place == "鲁山县花园路1号"
    assert not AuditEntry.objects.filter(action="activity.update").exists()


def test_another_units_activity_is_404_with_a_denied_entry(site, login):
    """Scope (issue 5): an officer of the first unit cannot open an activity of the second."""
    ns = site()
    other = f.PersonFactory(unit=ns.field2, roles=[Role.OFFICER])
    activity = _activity(ns, unit=ns.field2, officers=[other])
    client = login(ns.people["officer"])
    url = reverse("activity_edit", args=[activity.pk])
    since = AuditEntry.objects.order_by("-id").first().pk
    assert client.get(url).status_code == 404
    assert client.post(url, {"place": "别处"}).status_code == 404
    denied = AuditEntry.objects.filter(id__gt=since, outcome=Outcome.DENIED)
    assert [(e.action, e.object_id, e.details["reason"]) for e in denied] == [
        ("activity.update", str(activity.pk), "scope")] * 2
    activity.refresh_from_db()
    assert activity.place == "鲁山县花园路1号"


def test_roles_that_cannot_record_activities_cannot_edit_them(site, login):
    ns = site()
    activity = _activity(ns)
    url = reverse("activity_edit", args=[activity.pk])
    assert login(ns.people["custodian"]).get(url).status_code == 403
    assert login(ns.people["leader"]).get(url).status_code == 200  # the whole agency


def test_the_activity_page_links_to_its_edit_page_for_those_who_may(site, login):
    ns = site()
    activity = _activity(ns)
    link = reverse("activity_edit", args=[activity.pk])
    page = login(ns.people["officer"]).get(reverse("activity_detail", args=[activity.pk]))
    assert link in page.content.decode()
    page = login(ns.people["legal"]).get(reverse("activity_detail", args=[activity.pk]))
    assert page.status_code == 200 and link not in page.content.decode()


def test_the_edit_page_reads_a_fixed_number_of_queries(site, login):
    ns = site()
    client = login(ns.people["leader"])

    def count(n):
        people = [f.PersonFactory(unit=ns.field, roles=[Role.OFFICER]) for _ in range(n)]
        activity = _activity(ns, officers=people)
        for i in range(n):
            activity.evidence_items.create(description=f"证据{i}")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("activity_edit", args=[activity.pk])).status_code == 200
        return len(queries)

    assert count(2) == count(8)
