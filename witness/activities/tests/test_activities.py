"""Enforcement activities: the type list of the profile in force (ACT-1), what an activity
records (ACT-2), the ING-2 exception flags, and audited updates."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from witness.activities import services
from witness.activities.models import Activity, ActivityOfficer, EvidenceItem
from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.profiles import services as profiles
from witness.testing import factories as f


def _add(w, **kwargs):
    values = {
        "unit": w.field, "activity_type": "on_site_enforcement", "place": "鲁山县人民路1号",
        "arrived_at": w.arrived, "departed_at": w.departed, "officers": w.officers[:2],
        "recorder": w.officers[0],
    }
    values.update(kwargs)
    return services.create_activity(w.agency, **values)


def _error(w, **kwargs) -> WitnessError:
    with pytest.raises(WitnessError) as err:
        _add(w, **kwargs)
    assert Activity.objects.count() == 0
    return err.value


def test_act_2_every_field_is_stored(a_world):
    w = a_world
    case = services.create_case(w.agency, number="鲁市监立〔2026〕7号", name="某超市案",
                                leader_in_charge=w.leader)
    activity = _add(w, case=case, party="某某超市", scene="营业中，货架整齐",
                    party_conduct="配合检查", violations_found="销售过期食品",
                    evidence_items=["过期酸奶", " ", "进货票据"], actor="system:test")
    activity = Activity.objects.get(pk=activity.pk)
    assert (activity.activity_type, activity.place, activity.case) == (
        "on_site_enforcement", "鲁山县人民路1号", case)
    assert (activity.arrived_at, activity.departed_at) == (w.arrived, w.departed)
    assert (activity.party, activity.scene, activity.party_conduct, activity.violations_found) \
        == ("某某超市", "营业中，货架整齐", "配合检查", "销售过期食品")
    assert services.officers_of(activity) == [w.officers[0], w.officers[1]]
    assert services.recorder_of(activity) == w.officers[0]
    assert services.evidence_of(activity) == ["过期酸奶", "进货票据"]
    entry = AuditEntry.objects.get(action="activity.create", object_id=str(activity.pk))
    assert entry.details["after"]["place"] == "鲁山县人民路1号"
    assert entry.details["after"]["case"] == "鲁市监立〔2026〕7号"
    assert len(entry.details["after"]["officers"]) == 2


def test_act_1_type_must_be_in_the_profile_in_force(a_world):
    err = _error(a_world, activity_type="routine_inspection")  # a type of regulation B
    assert err.code == "bad_activity_type"
    assert "routine_inspection" in err.en and "lushan-2019 v1" in err.en
    assert "on_site_enforcement" in err.en


def test_act_1_type_is_judged_at_arrival_across_an_activation(a_world):
    """Switching to regulation B a day ago: yesterday's list is A's, today's is B's."""
    w = a_world
    switch = timezone.now() - timedelta(days=1)
    profiles.apply(w.agency, "full-process-b", effective_from=switch)
    before, after = switch - timedelta(hours=3), switch + timedelta(hours=3)
    assert [t.code for t in services.activity_types_for(w.agency, before)] == [
        "on_site_enforcement", "investigation", "hearing", "service_by_leaving",
        "service_by_notice"]
    assert [t.code for t in services.activity_types_for(w.agency, after)] == [
        "routine_inspection", "complaint_handling", "document_service", "other_on_site"]
    old = _add(w, arrived_at=before, departed_at=before + timedelta(hours=1))
    new = _add(w, activity_type="routine_inspection", arrived_at=after,
               departed_at=after + timedelta(hours=1))
    assert {old.activity_type, new.activity_type} == {"on_site_enforcement",
                                                      "routine_inspection"}
    with pytest.raises(WitnessError) as err:
        _add(w, arrived_at=after, departed_at=after + timedelta(hours=1))
    assert err.value.code == "bad_activity_type"


def test_departure_cannot_precede_arrival(a_world):
    err = _error(a_world, departed_at=a_world.arrived - timedelta(minutes=1))
    assert err.code == "departure_before_arrival"


def test_recorder_must_be_one_of_the_officers_act_2(a_world):
    err = _error(a_world, recorder=a_world.officers[2])
    assert err.code == "recorder_not_officer"


def test_at_least_one_officer(a_world):
    assert _error(a_world, officers=[]).code == "officers_required"


def test_officers_are_active_people_of_the_agency(a_world, make_agency):
    w = a_world
    stranger = make_agency("lushan-2019").people["officer"]
    assert _error(w, officers=[w.officers[0], stranger]).code == "person_agency"
    gone = w.officers[1]
    gone.active = False
    gone.save()
    err = _error(w, officers=[w.officers[0], gone])
    assert err.code == "person_agency" and gone.name in err.en


def test_unit_and_case_must_belong_to_the_agency(a_world, make_agency):
    other = make_agency("lushan-2019")
    assert _error(a_world, unit=other.field).code == "unit_agency"
    case = f.CaseFactory(agency=other.agency, leader_in_charge=other.people["leader"])
    assert _error(a_world, case=case).code == "case_agency"


def test_place_is_required(a_world):
    assert _error(a_world, place="  ").code == "place_required"


def test_overlong_text_is_a_friendly_error(a_world):
    assert _error(a_world, party="当" * 301).code == "too_long"


def test_fewer_officers_than_b_asks_is_kept_with_a_warning_act_2_b12(b_world):
    """B12 asks for two officers; one is not refused (it becomes a finding later)."""
    w = b_world
    activity = _add(w, activity_type="routine_inspection", officers=[w.officers[0]])
    assert Activity.objects.filter(pk=activity.pk).exists()
    assert len(activity.warnings) == 1
    with translation.override("en"):
        assert "at least 2 officers" in str(activity.warnings[0])
    with translation.override("zh-hans"):
        assert "至少2名执法人员" in str(activity.warnings[0])
    assert "B12" in str(activity.warnings[0])
    pair = _add(w, activity_type="routine_inspection")
    assert pair.warnings == []


def test_duplicate_officers_are_listed_once(a_world):
    w = a_world
    activity = _add(w, officers=[w.officers[0], w.officers[0], w.officers[1]])
    assert ActivityOfficer.objects.filter(activity=activity).count() == 2


def test_ing_2_returned_to_unit_needs_a_flag_and_follows_departure(a_world):
    w = a_world
    w.arrived, w.departed = w.arrived - timedelta(days=2), w.departed - timedelta(days=2)
    back = w.departed + timedelta(hours=30)
    assert _error(w, returned_to_unit_at=back).code == "returned_without_flag"
    err = _error(w, off_site=True, returned_to_unit_at=w.departed - timedelta(minutes=5))
    assert err.code == "return_before_departure"
    activity = _add(w, off_site=True, continuous=True, returned_to_unit_at=back)
    activity.refresh_from_db()
    assert (activity.off_site, activity.remote, activity.continuous) == (True, False, True)
    assert activity.returned_to_unit_at == back and activity.exception_flagged


def test_update_activity_audits_before_and_after_of_changed_fields(a_world):
    w = a_world
    activity = _add(w, evidence_items=["过期酸奶"])
    services.update_activity(activity, place="鲁山县向阳路2号", party="某某商行",
                             officers=[w.officers[1], w.officers[2]], recorder=w.officers[2],
                             evidence_items=["过期酸奶", "价格标签"], actor="system:test")
    activity.refresh_from_db()
    assert (activity.place, activity.party) == ("鲁山县向阳路2号", "某某商行")
    assert services.officers_of(activity) == [w.officers[2], w.officers[1]]
    assert services.recorder_of(activity) == w.officers[2]
    assert services.evidence_of(activity) == ["过期酸奶", "价格标签"]
    entry = AuditEntry.objects.get(action="activity.update")
    before, after = entry.details["before"], entry.details["after"]
    assert set(before) == set(after) == {"place", "party", "officers", "recorder",
                                         "evidence_items"}
    assert (before["place"], after["place"]) == ("鲁山县人民路1号", "鲁山县向阳路2号")
    assert before["party"] == "" and after["party"] == "某某商行"


def test_update_swaps_the_recorder_among_the_same_officers(a_world):
    w = a_world
    activity = _add(w)
    services.update_activity(activity, recorder=w.officers[1])
    assert services.recorder_of(activity) == w.officers[1]
    assert ActivityOfficer.objects.filter(activity=activity).count() == 2


def test_update_keeps_the_evidence_rows_that_stay(a_world):
    activity = _add(a_world, evidence_items=["甲", "乙"])
    kept = EvidenceItem.objects.get(activity=activity, description="甲")
    services.update_activity(activity, evidence_items=["甲", "丙"])
    assert EvidenceItem.objects.filter(pk=kept.pk).exists()
    assert services.evidence_of(activity) == ["甲", "丙"]


def test_update_without_change_writes_no_audit_entry(a_world):
    activity = _add(a_world)
    services.update_activity(activity, place="鲁山县人民路1号")
    assert not AuditEntry.objects.filter(action="activity.update").exists()


def test_update_revalidates_and_changes_nothing_on_error(a_world):
    w = a_world
    activity = _add(w)
    with pytest.raises(WitnessError) as err:
        services.update_activity(activity, departed_at=w.arrived - timedelta(hours=1),
                                 place="别处")
    assert err.value.code == "departure_before_arrival"
    with pytest.raises(WitnessError) as err:
        services.update_activity(activity, officers=[w.officers[1], w.officers[2]])
    assert err.value.code == "recorder_not_officer"
    with pytest.raises(WitnessError) as err:
        services.update_activity(activity, activity_type="hearing_typo")
    assert err.value.code == "bad_activity_type"
    with pytest.raises(WitnessError) as err:
        services.update_activity(activity, agency=None)
    assert err.value.code == "bad_field"
    activity.refresh_from_db()
    assert activity.place == "鲁山县人民路1号"
    assert not AuditEntry.objects.filter(action="activity.update").exists()


def test_update_can_detach_the_case(a_world):
    w = a_world
    case = services.create_case(w.agency, number="X-9", name="某案", leader_in_charge=w.leader)
    activity = _add(w, case=case)
    services.update_activity(activity, case=None)
    activity.refresh_from_db()
    assert activity.case is None
    entry = AuditEntry.objects.get(action="activity.update")
    assert entry.details == {"before": {"case": "X-9"}, "after": {"case": None}}


def test_list_filters_by_unit_period_and_type(a_world):
    w = a_world
    early = _add(w, arrived_at=w.arrived - timedelta(days=2),
                 departed_at=w.arrived - timedelta(days=2, hours=-1))
    late = _add(w, unit=w.field2, activity_type="investigation")
    assert list(services.activities(w.agency)) == [late, early]
    assert list(services.activities(w.agency, unit=w.field2)) == [late]
    assert list(services.activities(w.agency, start=w.arrived - timedelta(days=1))) == [late]
    assert list(services.activities(w.agency, end=w.arrived)) == [early]
    assert list(services.activities(w.agency, activity_type="investigation")) == [late]


def test_act_2_times_in_the_future_are_refused(a_world):
    """An activity is recorded after it happened: arrival, departure and the return to the
    unit more than five minutes ahead of now are refused (a clock a little fast is not)."""
    w = a_world
    soon = timezone.now() + timedelta(hours=1)
    err = _error(w, arrived_at=soon, departed_at=soon + timedelta(hours=1))
    assert err.code == "time_in_future" and err.en.startswith("The arrival (")
    assert _error(w, departed_at=soon).en.startswith("The departure (")
    err = _error(w, off_site=True, returned_to_unit_at=soon)
    assert err.code == "time_in_future" and err.en.startswith("The return to the unit (")
    assert "返回单位时间" in err.zh and "尚未发生" in err.zh
    nearly_now = timezone.now() + timedelta(minutes=2)
    activity = _add(w, departed_at=nearly_now, off_site=True, returned_to_unit_at=nearly_now)
    assert activity.pk


def test_update_to_a_future_time_is_refused_and_changes_nothing(a_world):
    w = a_world
    activity = _add(w)
    with pytest.raises(WitnessError) as err:
        services.update_activity(activity, departed_at=timezone.now() + timedelta(days=1),
                                 place="别处")
    assert err.value.code == "time_in_future"
    activity.refresh_from_db()
    assert (activity.departed_at, activity.place) == (w.departed, "鲁山县人民路1号")
    assert not AuditEntry.objects.filter(action="activity.update").exists()


def _many(w, count: int, start: int = 0) -> None:
    """``count`` activities with two officers and two evidence items each."""
    for i in range(start, start + count):
        at = w.arrived - timedelta(hours=i)
        _add(w, arrived_at=at, departed_at=at + timedelta(minutes=30),
             evidence_items=[f"证据{i}甲", f"证据{i}乙"])


def test_activity_dicts_take_the_same_queries_for_2_and_20_activities(
        a_world, django_assert_max_num_queries):
    """Listing reads activities, officers with their people, evidence items and the
    profile activations once each, whatever the number of activities."""
    w = a_world
    _many(w, 2)
    with django_assert_max_num_queries(4):
        two = services.activity_dicts(w.agency, services.activities(w.agency))
    _many(w, 18, start=2)
    with django_assert_max_num_queries(4):
        twenty = services.activity_dicts(w.agency, services.activities(w.agency))
    assert (len(two), len(twenty)) == (2, 20)
    assert all(len(d["officers"]) == 2 and d["officers"][0]["recorder"] for d in twenty)
    assert twenty[0]["officers"][0]["name"] == w.officers[0].name
    assert twenty[-1]["evidence_items"] == ["证据19甲", "证据19乙"]
    assert {d["activity_type_name"] for d in twenty} == {"现场执法"}
    single = services.activity_dict(services.get_activity(w.agency, twenty[5]["id"]),
                                    services.type_names(w.agency, w.arrived))
    assert single == twenty[5]


def test_activity_dicts_name_each_type_from_the_profile_in_force_at_arrival_act_1(a_world):
    """Across a switch to regulation B the names agree with ``type_names`` at each arrival."""
    w = a_world
    switch = timezone.now() - timedelta(days=1)
    profiles.apply(w.agency, "full-process-b", effective_from=switch)
    before, after = switch - timedelta(hours=3), switch + timedelta(hours=3)
    _add(w, arrived_at=before, departed_at=before + timedelta(hours=1))
    _add(w, activity_type="routine_inspection", arrived_at=after,
         departed_at=after + timedelta(hours=1))
    _add(w, activity_type="routine_inspection", arrived_at=switch,
         departed_at=switch + timedelta(hours=1))
    data = services.activity_dicts(w.agency, services.activities(w.agency))
    assert [d["activity_type_name"] for d in data] == ["日常执法检查", "日常执法检查", "现场执法"]
    for row, activity in zip(data, services.activities(w.agency), strict=True):
        names = services.type_names(w.agency, activity.arrived_at)
        assert row["activity_type_name"] == names[activity.activity_type]
