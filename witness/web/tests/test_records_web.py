"""Cases and enforcement activities through the web (ACT-1, ACT-2, RET-1)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from witness.activities.models import Activity, Case
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def local(dt):
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def test_case_create(site, login):
    ns = site()
    client = login(ns.people["unit_head"])
    response = client.post(reverse("case_create"), {
        "number": "鲁市监立〔2026〕88号", "name": "某超市销售不合格商品案",
        "leader_in_charge": ns.people["leader"].pk, "retention_class": "10y"})
    case = Case.objects.get(number="鲁市监立〔2026〕88号")
    assert response.status_code == 302
    assert response.url == reverse("case_detail", args=[case.pk])
    assert case.retention_class == "10y" and case.leader_in_charge == ns.people["leader"]


def test_case_create_shows_the_service_refusal(site, login):
    ns = site()
    f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"], number="重复-1")
    client = login(ns.people["leader"])
    response = client.post(reverse("case_create"), {
        "number": "重复-1", "name": "另一案", "leader_in_charge": ns.people["leader"].pk,
        "retention_class": "30y"})
    assert response.status_code == 409
    errors = response.content.decode().split('class="form-errors"', 1)[1].split("</div>")[0]
    assert errors.count("<p>") == 2 and "重复-1" in errors  # Chinese, then English
    assert Case.objects.filter(number="重复-1").count() == 1


def test_case_form_input_errors_answer_400(site, login):
    ns = site()
    response = login(ns.people["leader"]).post(reverse("case_create"), {
        "number": "", "name": "某案", "leader_in_charge": ns.people["officer"].pk,
        "retention_class": "30y"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "这个字段是必填项" in html and "选择一个有效的选项" in html
    assert not Case.objects.exists()


def test_case_form_offers_only_leaders(site, login):
    ns = site()
    form = login(ns.people["unit_head"]).get(reverse("case_create")).context["form"]
    assert list(form.fields["leader_in_charge"].queryset) == [ns.people["leader"]]


def test_act2_activity_create_with_officers_recorder_and_evidence(site, login):
    ns = site()
    case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"])
    officer, head = ns.people["officer"], ns.people["unit_head"]
    arrived = timezone.now() - timedelta(hours=4)
    client = login(officer)
    response = client.post(reverse("activity_create"), {
        "activity_type": "investigation", "unit": ns.field.pk, "case": case.pk,
        "place": "鲁山县花园路某超市", "arrived_at": local(arrived),
        "departed_at": local(arrived + timedelta(hours=1)),
        "officers": [officer.pk, head.pk], "recorder": head.pk, "party": "某超市",
        "scene": "冷柜温度异常", "evidence_items": "冷柜温度计读数\n\n过期商品标签\n",
        "off_site": "on", "returned_to_unit_at": local(arrived + timedelta(hours=3))})
    activity = Activity.objects.get(place="鲁山县花园路某超市")
    assert response.status_code == 302
    assert response.url == reverse("activity_detail", args=[activity.pk])
    assert activity.case == case and activity.off_site and activity.created_by == officer.user
    assert activity.officers.get(is_recorder=True).person == head
    assert list(activity.evidence_items.values_list("description", flat=True)) == [
        "冷柜温度计读数", "过期商品标签"]


def test_activity_create_offers_the_profile_types(site, login):
    """ACT-1: the types come from the profile (A: 现场执法 … 公告送达)."""
    ns = site()
    form = login(ns.people["unit_head"]).get(reverse("activity_create")).context["form"]
    assert [name for _code, name in form.fields["activity_type"].choices] == [
        "现场执法", "调查取证", "举行听证", "留置送达", "公告送达"]
    assert form["unit"].value() == ns.field.pk


def test_activity_form_offers_only_staff_with_a_badge(site, login):
    ns = site()
    ns.people["custodian"].badge_number = None
    ns.people["custodian"].save()
    form = login(ns.people["officer"]).get(reverse("activity_create")).context["form"]
    offered = set(form.fields["officers"].queryset)
    assert ns.people["officer"] in offered and ns.people["leader"] in offered
    assert ns.people["custodian"] not in offered
    assert set(form.fields["recorder"].queryset) == offered


def test_activity_create_shows_the_service_error(site, login):
    ns = site()
    officer = ns.people["officer"]
    arrived = timezone.now() - timedelta(hours=2)
    response = login(officer).post(reverse("activity_create"), {
        "activity_type": "investigation", "unit": ns.field.pk, "place": "某地",
        "arrived_at": local(arrived), "departed_at": local(arrived + timedelta(hours=1)),
        "officers": [officer.pk], "recorder": ns.people["unit_head"].pk})
    assert response.status_code == 422
    errors = response.content.decode().split('class="form-errors"', 1)[1].split("</div>")[0]
    assert errors.count("<p>") == 2  # the service's message in Chinese, then in English
    assert not Activity.objects.exists()


def test_activity_form_input_errors_answer_400_in_chinese(site, login):
    ns = site()
    response = login(ns.people["officer"]).post(reverse("activity_create"), {
        "activity_type": "investigation", "unit": ns.field.pk, "place": "",
        "arrived_at": "昨天", "officers": []})
    assert response.status_code == 400
    html = response.content.decode()
    assert "这个字段是必填项" in html and "输入一个有效的日期/时间" in html
    assert not Activity.objects.exists()


def test_activity_list_filters_by_unit_type_and_dates(site, login):
    ns = site()
    now = timezone.now()
    f.ActivityFactory(unit=ns.field, place="一科现场", arrived_at=now - timedelta(days=1))
    f.ActivityFactory(unit=ns.field2, place="二科现场", arrived_at=now - timedelta(days=1))
    f.ActivityFactory(unit=ns.field, place="一科调查", activity_type="investigation",
                      arrived_at=now - timedelta(days=1))
    f.ActivityFactory(unit=ns.field, place="一科旧案", arrived_at=now - timedelta(days=40))
    client = login(ns.people["leader"])

    def places(**query):
        rows = client.get(reverse("activity_list"), query).context["page"].rows
        return {a.place for a in rows}

    assert places() == {"一科现场", "二科现场", "一科调查", "一科旧案"}
    assert places(unit=ns.field2.pk) == {"二科现场"}
    assert places(activity_type="investigation") == {"一科调查"}
    start = timezone.localdate(now - timedelta(days=3)).isoformat()
    assert places(unit=ns.field.pk, start=start) == {"一科现场", "一科调查"}
    end = timezone.localdate(now - timedelta(days=30)).isoformat()
    assert places(end=end) == {"一科旧案"}


def test_keyset_paging_walks_every_row_once(site, login):
    ns = site()
    now = timezone.now()
    for i in range(55):
        f.ActivityFactory(unit=ns.field, place=f"地点{i}", arrived_at=now - timedelta(hours=i))
    client = login(ns.people["leader"])
    seen, query = [], {}
    while True:
        page = client.get(reverse("activity_list"), query).context["page"]
        seen += [a.place for a in page.rows]
        if not page.next_cursor:
            break
        query = {"after": page.next_cursor}
    assert seen == [f"地点{i}" for i in range(55)]


@pytest.mark.parametrize("cursor", ["garbage", "nonsense~12", "2026-01-01T00:00:00~x",
                                    "2026-01-01T00:00:00~5"])
def test_a_bad_or_naive_cursor_does_not_break_the_list(site, login, cursor):
    ns = site()
    f.ActivityFactory(unit=ns.field)
    response = login(ns.people["leader"]).get(reverse("activity_list"), {"after": cursor})
    assert response.status_code == 200
