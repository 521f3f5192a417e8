"""Holds and complaints are seen within the scope of their target (EVD-2, A14; RET-2 A16):
an officer sees the holds and complaints on his own activities and recordings, a unit head
those of his unit, leaders and legal the agency's; pages and the CLI alike. A hold is
approved and released by a second person (RET-2: four eyes before records become purgeable
again)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from witness.access import authz
from witness.core.errors import NotFound, Refused
from witness.retention import holds, keep
from witness.retention.models import HoldState
from witness.retention.tests.test_cli import cli
from witness.retention.tests.test_pages import count
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


def _person(unit, role):
    person = f.PersonFactory(unit=unit, roles=[role])
    person.user = f.UserFactory(username=f"{role}-{person.pk}", password=f.PASSWORD)
    person.save(update_fields=["user"])
    return person


def _subject(person):
    return authz.subject_of(type(person.user).objects.get(pk=person.user.pk))


@pytest.fixture
def two_units(world):
    """World's officer on ``loose`` (unit field); another officer on ``act2`` (unit field2)."""
    w = world
    w.officer2 = _person(w.ns.field2, "officer")
    w.head2 = _person(w.ns.field2, "unit_head")
    w.act2 = f.ActivityFactory(unit=w.ns.field2)
    f.ActivityOfficerFactory(activity=w.act2, person=w.officer2, is_recorder=True)
    legal = w.subject(w.p["legal"])
    w.mine = {holds.propose(legal, w.loose, "dispute", "甲").pk,
              holds.propose(legal, w.recording(w.loose), "major", "乙").pk}
    rec2 = w.recording(w.act2)
    rec2.holder = w.officer2
    rec2.save(update_fields=["holder"])
    w.theirs = {holds.propose(legal, w.act2, "dispute", "丙").pk,
                holds.propose(legal, rec2, "major", "丁").pk}
    c1, h1 = holds.register_complaint(legal, w.loose, kind="complaint", complainant="张三",
                                      received_at=timezone.now(), summary="对检查不服")
    c2, h2 = holds.register_complaint(legal, w.act2, kind="petition", complainant="李四",
                                      received_at=timezone.now(), summary="对处罚不服")
    w.mine.add(h1.pk)
    w.theirs.add(h2.pk)
    w.complaints = (c1.pk, c2.pk)
    return w


def _ids(subject):
    return set(holds.visible_holds(subject).values_list("pk", flat=True))


def test_EVD2_an_officer_sees_only_the_holds_and_complaints_on_his_own(two_units):
    w = two_units
    assert _ids(w.subject(w.officer)) == w.mine
    assert _ids(_subject(w.officer2)) == w.theirs
    assert set(holds.visible_complaints(w.subject(w.officer))
               .values_list("pk", flat=True)) == {w.complaints[0]}
    # the unit head of field2 sees field2's, not field1's; field1's head the reverse
    assert _ids(_subject(w.head2)) == w.theirs
    assert _ids(w.subject(w.p["unit_head"])) == w.mine
    assert set(holds.visible_complaints(_subject(w.head2))
               .values_list("pk", flat=True)) == {w.complaints[1]}
    # leaders see the agency's; the custodian the recordings' holds agency-wide
    assert _ids(w.subject(w.leader)) == w.mine | w.theirs
    custodian = set(holds.visible_holds(w.subject(w.custodian))
                    .filter(recording__isnull=False).values_list("pk", flat=True))
    assert len(custodian) == 2
    with pytest.raises(NotFound):
        holds.hold_for(w.subject(w.officer), next(iter(w.theirs)))


def test_EVD2_the_cli_lists_only_the_holds_and_complaints_in_scope(two_units):
    w = two_units
    officer = w.officer.user.username
    assert {h["id"] for h in cli("hold", "list", "--as", officer)} == w.mine
    listed = cli("complaint", "list", "--as", officer)
    assert [c["id"] for c in listed] == [w.complaints[0]]
    assert "李四" not in str(listed)


def test_EVD2_the_hold_page_hides_others_and_its_queries_stay_bounded(two_units, login):
    w = two_units
    client = login(w.officer)
    page = client.get(reverse("hold_list")).content.decode()
    assert "张三" in page and "李四" not in page and "丙" not in page
    few = count(client, reverse("hold_list"))
    legal = w.subject(w.p["legal"])
    for _ in range(3):
        holds.propose(legal, w.loose, "dispute", "又")
        holds.propose(legal, w.act2, "dispute", "另")
    assert count(client, reverse("hold_list")) == few


def test_RET2_a_hold_is_approved_and_released_by_a_second_person(world):
    rec = world.recording(world.loose)
    keep.recompute(actor="test")
    leader, legal = world.subject(world.leader), world.subject(world.p["legal"])
    hold = holds.propose(leader, world.loose, "major", "舆情")
    with pytest.raises(Refused) as refused:
        holds.decide(leader, hold, approve=True)
    assert refused.value.code == "same_person"
    hold = holds.decide(legal, hold, approve=True)
    for who in (leader, legal):  # the proposer, the approver
        with pytest.raises(Refused) as refused:
            holds.release(who, hold, "结案")
        assert refused.value.code == "same_person"
    hold.refresh_from_db()
    assert hold.state == HoldState.ACTIVE and keep.reasons_for(rec) == ["hold"]
    other = _subject(_person(world.ns.office, "legal"))
    hold = holds.release(other, hold, "结案")
    assert hold.state == HoldState.RELEASED and keep.reasons_for(rec) == []


def test_RET2_the_page_refuses_a_release_by_the_approver(world, login):
    hold = holds.propose(world.subject(world.officer), world.loose, "dispute", "异议")
    holds.decide(world.subject(world.leader), hold, approve=True)
    client = login(world.leader)
    response = client.post(reverse("hold_decide", args=[hold.pk]),
                           {"decision": "release", "note": "结案"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409
    hold.refresh_from_db()
    assert hold.state == HoldState.ACTIVE
