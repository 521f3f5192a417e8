"""Cases: opening, numbering, leader in charge, retention class (RET-1), closing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from witness.activities import services
from witness.activities.models import Case, CaseStatus
from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.org.services import end_role
from witness.testing import factories as f


def _case(w, number="鲁市监立〔2026〕1号", **kwargs):
    kwargs.setdefault("leader_in_charge", w.leader)
    return services.create_case(w.agency, number=number, name="某商行销售过期食品案", **kwargs)


def test_create_case_stores_it_and_audits_in_the_same_transaction(a_world):
    case = _case(a_world, retention_class="10y", actor="system:test")
    case.refresh_from_db()
    assert (case.status, case.retention_class, case.leader_in_charge) == (
        CaseStatus.OPEN, "10y", a_world.leader)
    entry = AuditEntry.objects.get(action="case.create", object_id=str(case.pk))
    assert entry.details["after"]["number"] == "鲁市监立〔2026〕1号"
    assert entry.details["after"]["retention_class"] == "10y"


def test_case_number_is_unique_with_a_friendly_error(a_world):
    _case(a_world)
    with pytest.raises(WitnessError) as err:
        _case(a_world, number=" 鲁市监立〔2026〕1号 ")
    assert err.value.code == "duplicate_case"
    assert "鲁市监立〔2026〕1号" in err.value.en
    assert Case.objects.count() == 1


def test_retention_class_must_be_known_ret_1(a_world):
    with pytest.raises(WitnessError) as err:
        _case(a_world, retention_class="5y")
    assert err.value.code == "bad_retention_class"
    assert "permanent" in err.value.en


def test_leader_in_charge_must_hold_the_leader_role_at_the_time(a_world):
    officer = a_world.officers[0]
    with pytest.raises(WitnessError) as err:
        _case(a_world, leader_in_charge=officer)
    assert err.value.code == "not_leader"
    # The leader's role ended yesterday: a case opened today cannot name them…
    assignment = a_world.leader.roles.get(role="leader")
    with_end = timezone.now() - timedelta(days=1)
    end_role(assignment, with_end, actor="system:test")
    with pytest.raises(WitnessError) as err:
        _case(a_world)
    assert err.value.code == "not_leader"
    # …but a case opened while they still held it can.
    case = _case(a_world, opened_at=with_end - timedelta(days=2))
    assert case.leader_in_charge == a_world.leader


def test_leader_from_another_agency_is_refused(a_world, make_agency):
    other = make_agency("lushan-2019")
    with pytest.raises(WitnessError) as err:
        _case(a_world, leader_in_charge=other.people["leader"])
    assert err.value.code == "person_agency"


def test_case_needs_number_and_name(a_world):
    with pytest.raises(WitnessError) as err:
        _case(a_world, number="  ")
    assert err.value.code == "number_required"
    with pytest.raises(WitnessError) as err:
        services.create_case(a_world.agency, number="X-1", name="",
                             leader_in_charge=a_world.leader)
    assert err.value.code == "name_required"


def test_close_case_records_when_and_refuses_twice(a_world):
    case = _case(a_world, opened_at=timezone.now() - timedelta(days=3))
    with pytest.raises(WitnessError) as err:
        services.close_case(case, at=timezone.now() - timedelta(days=4))
    assert err.value.code == "close_before_open"
    at = timezone.now() - timedelta(hours=1)
    closed = services.close_case(case, at=at, actor="system:test")
    assert (closed.status, closed.closed_at) == (CaseStatus.CLOSED, at)
    entry = AuditEntry.objects.get(action="case.close", object_id=str(case.pk))
    assert entry.details["before"]["status"] == "open"
    assert entry.details["after"]["status"] == "closed"
    with pytest.raises(WitnessError) as err:
        services.close_case(case)
    assert err.value.code == "case_not_open"


def test_get_case_is_scoped_to_the_agency(a_world, make_agency):
    other = make_agency("lushan-2019")
    case = f.CaseFactory(agency=other.agency, leader_in_charge=other.people["leader"])
    with pytest.raises(WitnessError) as err:
        services.get_case(a_world.agency, case.number)
    assert err.value.code == "not_found"
    assert services.get_case(other.agency, case.number) == case


def test_a_case_cannot_be_opened_or_closed_in_the_future(a_world):
    with pytest.raises(WitnessError) as err:
        _case(a_world, opened_at=timezone.now() + timedelta(hours=1))
    assert err.value.code == "time_in_future"
    assert err.value.en.startswith("The opening of the case (")
    assert not Case.objects.exists()
    case = _case(a_world, opened_at=timezone.now() + timedelta(minutes=2))  # a fast clock
    with pytest.raises(WitnessError) as err:
        services.close_case(case, at=timezone.now() + timedelta(days=1))
    assert err.value.code == "time_in_future"
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def _cases(w, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        case = _case(w, number=f"鲁市监立〔2026〕{100 + i}号")
        f.ActivityFactory(unit=w.field, case=case)


def test_case_list_takes_one_query_for_2_and_20_cases(a_world, django_assert_max_num_queries):
    _cases(a_world, 2)
    with django_assert_max_num_queries(1):
        two = [services.case_dict(c) for c in services.cases(a_world.agency)]
    _cases(a_world, 18, start=2)
    with django_assert_max_num_queries(1):
        twenty = [services.case_dict(c) for c in services.cases(a_world.agency)]
    assert (len(two), len(twenty)) == (2, 20)
    assert {c["activities"] for c in twenty} == {1}
    assert services.cases(a_world.agency, status="closed").count() == 0
