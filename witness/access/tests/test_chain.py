"""The viewing approval chain (查阅审批, EVD-2), disclosure requests (EVD-3) and the label
approver (EVD-4): issue 5 item 3."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from witness.access import authz, chain
from witness.access.labels import Label
from witness.access.models import (
    ApprovalStep,
    Grant,
    Notification,
    RequestKind,
    RequestStatus,
    Step,
    StepState,
)
from witness.audit.models import AuditEntry
from witness.core.errors import Refused, WitnessError
from witness.org.models import Role
from witness.recordings.models import Attribution
from witness.testing import factories as f

PROFILES = ["lushan-2019", "full-process-b"]


class World:
    """An agency (make_agency) with a case led by the bureau leader, two activities of the
    field unit (the first in the case), and recordings: two of the first activity, one of
    the second."""

    def __init__(self, make_agency, profile="lushan-2019"):
        ns = make_agency(profile)
        self.ns, self.agency, self.p = ns, ns.agency, ns.people
        self.officer = self.p["officer"]
        self.case = f.CaseFactory(agency=ns.agency, leader_in_charge=self.p["leader"])
        self.act = f.ActivityFactory(unit=ns.field, case=self.case)
        self.other_act = f.ActivityFactory(unit=ns.field)
        for a in (self.act, self.other_act):
            f.ActivityOfficerFactory(activity=a, person=self.officer)
        device = f.DeviceFactory(unit=ns.field)
        self.rec, self.neighbour = (
            f.RecordingFactory(device=device, activity=self.act, holder=self.officer,
                               attribution=Attribution.ATTRIBUTED) for _ in range(2))
        self.elsewhere = f.RecordingFactory(device=device, activity=self.other_act,
                                            holder=self.officer,
                                            attribution=Attribution.ATTRIBUTED)

    def submit(self, person=None, **kwargs):
        now = timezone.now()
        kwargs.setdefault("recordings", [self.rec])
        kwargs.setdefault("reason", "复核现场检查过程")
        kwargs.setdefault("wanted_from", now)
        kwargs.setdefault("wanted_until", now + timedelta(days=3))
        return chain.submit(person or self.officer, actor="test", **kwargs)

    def walk(self, request):
        """Approve every step, each by someone who may decide it; returns the deciders."""
        who = []
        while True:
            step = request.steps.filter(state=StepState.OPEN).first()
            if step is None:
                return who
            decider = chain.deciders(step).first()
            chain.decide(step, decider, True, "同意", actor="test")
            who.append((step.step, decider))


def states(request):
    return [(s.step, s.state) for s in request.steps.order_by("position")]


@pytest.mark.django_db
@pytest.mark.parametrize("profile", PROFILES)
def test_evd2_full_chain_grants_exactly_the_items_under_each_profile(make_agency, profile):
    w = World(make_agency, profile)
    subject = chain.subject_for(w.officer)
    with pytest.raises(authz.Denied):  # nobody plays without a grant, the holder included
        authz.content_allowance(subject, w.rec)
    request = w.submit()
    assert [s for s, _ in states(request)] == [
        Step.UNIT_HEAD_REVIEW, Step.LEADER_APPROVAL, Step.CUSTODIAN_REGISTRATION]
    assert states(request)[0][1] == StepState.OPEN
    who = w.walk(request)
    assert who == [(Step.UNIT_HEAD_REVIEW, w.p["unit_head"]),
                   (Step.LEADER_APPROVAL, w.p["leader"]),
                   (Step.CUSTODIAN_REGISTRATION, w.p["custodian"])]
    request.refresh_from_db()
    assert request.status == RequestStatus.GRANTED
    [grant] = Grant.objects.filter(request=request)
    assert (grant.person, grant.recording, grant.may_download) == (w.officer, w.rec, False)
    assert grant.valid_until == request.wanted_until
    assert authz.content_allowance(subject, w.rec).grant == grant
    with pytest.raises(authz.Denied):  # download was not asked for
        authz.content_allowance(subject, w.rec, download=True)
    registration = request.steps.get(step=Step.CUSTODIAN_REGISTRATION)
    assert registration.details["viewer"] == w.officer.name
    assert registration.details["reason"] == "复核现场检查过程"
    assert registration.details["time"]


@pytest.mark.django_db
def test_evd2_grant_does_not_open_neighbours_or_other_activities_idor(make_agency):
    w = World(make_agency)
    w.walk(w.submit())
    subject = chain.subject_for(w.officer)
    authz.content_allowance(subject, w.rec)
    for other in (w.neighbour, w.elsewhere):
        with pytest.raises(authz.Denied) as refused:
            authz.content_allowance(subject, other)
        assert refused.value.code == "no_grant"
    # nor anyone else: the grant is the requester's
    with pytest.raises(authz.Denied):
        authz.content_allowance(chain.subject_for(w.p["unit_head"]), w.rec)


@pytest.mark.django_db
def test_evd2_activity_request_covers_its_recordings_only(make_agency):
    w = World(make_agency)
    request = w.submit(recordings=None, activity=w.act)
    assert set(request.items.values_list("recording_id", flat=True)) == {w.rec.pk,
                                                                        w.neighbour.pk}
    assert request.activity == w.act
    w.walk(request)
    subject = chain.subject_for(w.officer)
    authz.content_allowance(subject, w.neighbour)
    with pytest.raises(authz.Denied):
        authz.content_allowance(subject, w.elsewhere)


@pytest.mark.django_db
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("at", [0, 1, 2])
def test_evd2_rejection_at_each_step_ends_the_request(make_agency, profile, at):
    w = World(make_agency, profile)
    request = w.submit()
    for _ in range(at):
        step = request.steps.get(state=StepState.OPEN)
        chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    step = request.steps.get(state=StepState.OPEN)
    decider = chain.deciders(step).first()
    with pytest.raises(WitnessError) as no_reason:
        chain.decide(step, decider, False, "  ", actor="test")
    assert no_reason.value.code == "reason_required"
    chain.decide(step, decider, False, "事由不充分", actor="test")
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED
    assert states(request)[at][1] == StepState.REJECTED
    after = states(request)[at + 1:]
    assert len(after) == 2 - at and all(s == StepState.CANCELLED for _, s in after)
    assert not Grant.objects.filter(request=request).exists()
    note = Notification.objects.get(person=w.officer, kind="request_rejected")
    assert "事由不充分" in chain.notice_text(note)
    with pytest.raises(authz.Denied):
        authz.content_allowance(chain.subject_for(w.officer), w.rec)


@pytest.mark.django_db
def test_evd2_requester_cannot_approve_own_request(make_agency):
    w = World(make_agency)
    head = w.p["unit_head"]
    # the unit head asks for a recording of their unit; another unit head must review
    other_head = f.PersonFactory(unit=w.ns.field, roles=[Role.UNIT_HEAD])
    request = w.submit(head)
    step = request.steps.get(state=StepState.OPEN)
    assert list(chain.deciders(step)) == [other_head]
    with pytest.raises(Refused) as own:
        chain.decide(step, head, True, "", actor="test")
    assert own.value.code == "own_request"
    assert not chain.open_steps_for(head).exists()
    assert list(chain.open_steps_for(other_head)) == [step]


@pytest.mark.django_db
def test_evd2_a_leader_in_charge_asking_is_refused_not_skipped(make_agency):
    w = World(make_agency)
    with pytest.raises(Refused) as refused:  # the office has no unit head to review
        w.submit(w.p["leader"])
    assert refused.value.code == "no_unit_head"
    f.PersonFactory(unit=w.ns.office, roles=[Role.UNIT_HEAD])
    with pytest.raises(Refused) as refused:  # the leader in charge of the case asks
        w.submit(w.p["leader"])
    assert refused.value.code == "own_request"
    assert "own request" in refused.value.en and "leader in charge approval" in refused.value.en


@pytest.mark.django_db
def test_evd2_unit_head_of_another_unit_cannot_review(make_agency):
    w = World(make_agency)
    stranger = f.PersonFactory(unit=w.ns.field2, roles=[Role.UNIT_HEAD])
    request = w.submit()
    step = request.steps.get(state=StepState.OPEN)
    assert not chain.may_decide(step, stranger)
    assert not chain.open_steps_for(stranger).exists()
    with pytest.raises(authz.Denied):
        chain.decide(step, stranger, True, "", actor="test")
    # a custodian cannot review either: the step is a unit head's
    with pytest.raises(authz.Denied):
        chain.decide(step, w.p["custodian"], True, "", actor="test")


@pytest.mark.django_db
def test_evd2_a_step_nobody_can_decide_is_refused(make_agency):
    w = World(make_agency)
    lonely = f.PersonFactory(unit=w.ns.field2, roles=[Role.OFFICER])
    rec = f.RecordingFactory(device=f.DeviceFactory(unit=w.ns.field2), holder=lonely,
                             activity=None, attribution=Attribution.NO_ACTIVITY)
    with pytest.raises(Refused) as refused:
        w.submit(lonely, recordings=[rec])
    assert refused.value.code == "no_unit_head"
    assert "执法二科" in refused.value.zh


@pytest.mark.django_db
def test_evd2_bad_requests_are_refused_in_both_languages(make_agency):
    w = World(make_agency)
    now = timezone.now()
    empty = f.ActivityFactory(unit=w.ns.field, case=w.case)
    f.ActivityOfficerFactory(activity=empty, person=w.officer)
    cases = [
        ({"reason": " "}, "reason_required"),
        ({"wanted_until": now - timedelta(hours=1), "wanted_from": now - timedelta(days=1)},
         "period_past"),
        ({"wanted_until": now, "wanted_from": now + timedelta(days=1)}, "period_order"),
        ({"wanted_until": now + timedelta(days=91)}, "period_too_long"),
        ({"recordings": [999999]}, "no_recording"),
        ({"recordings": None, "activity": empty}, "no_items"),
    ]
    for kwargs, code in cases:
        with pytest.raises(WitnessError) as bad:
            w.submit(**kwargs)
        assert bad.value.code == code, kwargs
        assert bad.value.zh and bad.value.en
    # a recording outside the officer's scope (another unit's, not theirs)
    foreign = f.RecordingFactory(device=f.DeviceFactory(unit=w.ns.field2),
                                 attribution=Attribution.NO_ACTIVITY, activity=None)
    with pytest.raises(authz.Denied) as scope:
        w.submit(recordings=[foreign])
    assert scope.value.code == "scope"
    # another agency's recording does not exist for this one
    other = make_agency()
    stranger = f.RecordingFactory(device=f.DeviceFactory(unit=other.field))
    with pytest.raises(WitnessError) as missing:
        w.submit(recordings=[stranger])
    assert missing.value.code == "no_recording"


@pytest.mark.django_db
def test_evd4_state_secret_item_is_refused(make_agency):
    w = World(make_agency)
    w.act.label = Label.STATE_SECRET
    w.act.save(update_fields=["label"])
    with pytest.raises(Refused) as refused:
        w.submit()
    assert refused.value.code == "state_secret"


@pytest.mark.django_db
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("where", ["recording", "activity", "case"])
def test_evd4_label_above_general_adds_the_label_approver(make_agency, profile, where):
    w = World(make_agency, profile)
    principal = f.PersonFactory(unit=w.ns.office, roles=[Role.LEADER])
    w.agency.principal_leader = principal
    w.agency.save(update_fields=["principal_leader"])
    target = {"recording": w.rec, "activity": w.act, "case": w.case}[where]
    target.label = Label.PRIVACY
    target.save(update_fields=["label"])
    request = w.submit()
    assert [s for s, _ in states(request)] == [
        Step.UNIT_HEAD_REVIEW, Step.LEADER_APPROVAL, Step.LABEL_APPROVAL,
        Step.CUSTODIAN_REGISTRATION]
    label_step = request.steps.get(step=Step.LABEL_APPROVAL)
    assert label_step.approver == principal  # viewing.label_approver = principal_leader
    assert label_step.details["labels"] == [Label.PRIVACY]
    who = w.walk(request)
    assert (Step.LABEL_APPROVAL, principal) in who
    assert Grant.objects.filter(request=request).count() == 1


@pytest.mark.django_db
def test_evd4_label_change_to_privacy_during_approval_adds_the_step(make_agency):
    """A label set while the request waits puts the label approver before registration."""
    w = World(make_agency)
    request = w.submit()
    for _ in range(2):  # review and approval
        step = request.steps.get(state=StepState.OPEN)
        chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    registration = request.steps.get(state=StepState.OPEN)
    assert registration.step == Step.CUSTODIAN_REGISTRATION
    w.rec.label = Label.PRIVACY  # 个人隐私
    w.rec.save(update_fields=["label"])
    result = chain.decide(registration, w.p["custodian"], True, "", actor="test")
    assert result.state == StepState.WAITING
    assert [s for s in states(request)][2:] == [
        (Step.LABEL_APPROVAL, StepState.OPEN), (Step.CUSTODIAN_REGISTRATION, StepState.WAITING)]
    assert not Grant.objects.filter(request=request).exists()
    assert AuditEntry.objects.filter(action="request.step_add", object_id=str(request.pk)).exists()
    label_step = request.steps.get(step=Step.LABEL_APPROVAL)
    assert Notification.objects.filter(person=label_step.approver, kind="step_open",
                                       details__step_id=label_step.pk).exists()
    w.walk(request)
    request.refresh_from_db()
    assert request.status == RequestStatus.GRANTED


@pytest.mark.django_db
def test_evd4_leader_in_charge_as_label_approver(make_agency, settings):
    from witness.profiles import services as profiles

    w = World(make_agency)
    _version, profile = profiles.active(w.agency)
    w.case.label = Label.COMMERCIAL
    w.case.save(update_fields=["label"])
    # a profile naming the leader in charge (custom profiles may): patch the parsed profile
    import dataclasses

    custom = dataclasses.replace(profile, viewing_label_approver="leader_in_charge")
    steps = chain.plan(w.agency, custom, w.officer, [w.rec])
    label = [s for s in steps if s.step == Step.LABEL_APPROVAL]
    assert [s.approver for s in label] == [w.case.leader_in_charge]


@pytest.mark.django_db
def test_evd2_leaders_of_several_cases_each_approve(make_agency):
    w = World(make_agency)
    leader2 = f.PersonFactory(unit=w.ns.office, roles=[Role.LEADER])
    case2 = f.CaseFactory(agency=w.agency, leader_in_charge=leader2)
    w.other_act.case = case2
    w.other_act.save(update_fields=["case"])
    loose = f.RecordingFactory(device=f.DeviceFactory(unit=w.ns.field), holder=w.officer,
                               activity=None, attribution=Attribution.NO_ACTIVITY)
    request = w.submit(recordings=[w.rec, w.elsewhere, loose])
    leader_steps = list(request.steps.filter(step=Step.LEADER_APPROVAL).order_by("position"))
    assert [(s.approver, s.role) for s in leader_steps] == [
        (w.p["leader"], Role.LEADER), (leader2, Role.LEADER), (None, Role.LEADER)]
    who = w.walk(request)
    assert [p for s, p in who if s == Step.LEADER_APPROVAL][:2] == [w.p["leader"], leader2]
    assert Grant.objects.filter(request=request).count() == 3


@pytest.mark.django_db
def test_evd2_notifications_reach_the_right_people(make_agency, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    w = World(make_agency)
    head = w.p["unit_head"]
    head.user = f.UserFactory(username="head-mail", email="head@example.cn")
    head.save(update_fields=["user"])
    stranger = f.PersonFactory(unit=w.ns.field2, roles=[Role.UNIT_HEAD])
    request = w.submit()
    assert Notification.objects.filter(person=head, kind="step_open").count() == 1
    assert not Notification.objects.filter(person=stranger).exists()
    assert not Notification.objects.filter(person=w.p["leader"]).exists()
    step = request.steps.get(state=StepState.OPEN)
    chain.decide(step, head, True, "", actor="test")
    assert Notification.objects.filter(person=w.p["leader"], kind="step_open").count() == 1
    assert not Notification.objects.filter(person=w.p["custodian"]).exists()
    w.walk(request)
    granted = Notification.objects.get(person=w.officer, kind="request_granted")
    assert f"#{request.pk}" in chain.notice_text(granted)
    assert chain.mark_read(w.officer) == 1
    assert not chain.notifications_for(w.officer, unread_only=True).exists()


@pytest.mark.django_db(transaction=True)
def test_evd2_notification_mail_is_sent_after_commit(make_agency, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    w = World(make_agency)
    head = w.p["unit_head"]
    head.user = f.UserFactory(username="head-mail2", email="head2@example.cn")
    head.save(update_fields=["user"])
    mail.outbox.clear()
    request = w.submit()
    [message] = mail.outbox
    assert message.to == ["head2@example.cn"]
    assert f"#{request.pk}" in message.body and "waits for your decision" in message.body


@pytest.mark.django_db
def test_evd2_expiry_and_revocation_close_the_content(make_agency):
    w = World(make_agency)
    request = w.submit(recordings=[w.rec, w.neighbour])
    w.walk(request)
    subject = chain.subject_for(w.officer)
    grant = Grant.objects.get(request=request, recording=w.rec)
    authz.content_allowance(subject, w.rec)
    # expiry is by time
    later = request.wanted_until + timedelta(seconds=1)
    with pytest.raises(authz.Denied):
        authz.content_allowance(subject, w.rec, at=later)
    assert set(chain.expired_grants(w.agency, at=later)) == set(request.grants.all())
    assert not chain.expired_grants(w.agency).exists()
    # revocation: reason required, only those who may
    with pytest.raises(authz.Denied):
        chain.revoke(grant, w.officer, "不需要了", actor="test")
    with pytest.raises(WitnessError) as no_reason:
        chain.revoke(grant, w.p["custodian"], "", actor="test")
    assert no_reason.value.code == "reason_required"
    chain.revoke(grant, w.p["custodian"], "案件已移送", actor="test")
    with pytest.raises(authz.Denied):
        authz.content_allowance(subject, w.rec)
    authz.content_allowance(subject, w.neighbour)  # the other grant still holds
    chain.revoke(request, w.p["unit_head"], "全部收回", actor="test")
    with pytest.raises(authz.Denied):
        authz.content_allowance(subject, w.neighbour)
    with pytest.raises(Refused):
        chain.revoke(request, w.p["leader"], "再次", actor="test")
    entries = AuditEntry.objects.filter(action="grant.revoke", object_id=str(request.pk))
    assert entries.count() == 2
    assert Notification.objects.filter(person=w.officer, kind="grant_revoked").count() == 2


@pytest.mark.django_db
def test_evd2_unit_head_of_another_unit_cannot_revoke(make_agency):
    w = World(make_agency)
    request = w.submit()
    w.walk(request)
    stranger = f.PersonFactory(unit=w.ns.field2, roles=[Role.UNIT_HEAD])
    with pytest.raises(authz.Denied):
        chain.revoke(request, stranger, "越权", actor="test")


@pytest.mark.django_db
def test_evd2_every_step_writes_an_audit_entry(make_agency):
    w = World(make_agency)
    request = w.submit()
    w.walk(request)
    actions = list(AuditEntry.objects.filter(object_type="access.accessrequest",
                                             object_id=str(request.pk))
                   .order_by("id").values_list("action", "details__step"))
    assert actions == [
        ("request.submit", None),
        ("request.step_open", Step.UNIT_HEAD_REVIEW), ("request.decide", Step.UNIT_HEAD_REVIEW),
        ("request.step_open", Step.LEADER_APPROVAL), ("request.decide", Step.LEADER_APPROVAL),
        ("request.step_open", Step.CUSTODIAN_REGISTRATION),
        ("request.register", Step.CUSTODIAN_REGISTRATION),
        ("grant.create", None)]


@pytest.mark.django_db
def test_evd2_withdraw(make_agency):
    w = World(make_agency)
    request = w.submit()
    with pytest.raises(authz.Denied):
        chain.withdraw(request, w.p["unit_head"], actor="test")
    chain.withdraw(request, w.officer, actor="test")
    request.refresh_from_db()
    assert request.status == RequestStatus.WITHDRAWN
    assert set(request.steps.values_list("state", flat=True)) == {StepState.CANCELLED}
    assert not chain.open_steps_for(w.p["unit_head"]).exists()
    with pytest.raises(Refused):
        chain.withdraw(request, w.officer, actor="test")


@pytest.mark.django_db
def test_evd2_inbox_is_one_query(make_agency, django_assert_num_queries):
    w = World(make_agency)
    for _ in range(3):
        w.submit()
    head = w.p["unit_head"]
    with django_assert_num_queries(2):  # the person's roles, then the steps
        steps = list(chain.open_steps_for(head))
        assert [s.request.requester.unit.name for s in steps] == ["执法一科"] * 3


@pytest.mark.django_db
@pytest.mark.parametrize("profile", PROFILES)
def test_evd3_disclosure_request_and_approval(make_agency, profile):
    w = World(make_agency, profile)
    head = w.p["unit_head"]
    with pytest.raises(WitnessError) as nameless:
        w.submit(kind=RequestKind.DISCLOSURE, recipient_kind="court", recipient_name="",
                 delivery="link")
    assert nameless.value.code == "recipient_name"
    request = w.submit(kind=RequestKind.DISCLOSURE, recipient_kind="court",
                       recipient_name="鲁山县人民法院", recipient_org="行政审判庭",
                       delivery="link")
    assert request.kind == RequestKind.DISCLOSURE
    w.walk(request)
    request.refresh_from_db()
    assert request.status == RequestStatus.GRANTED
    [grant] = request.grants.all()
    assert grant.person is None  # the recipient's link (another part) is its viewer
    with pytest.raises(authz.Denied):
        authz.content_allowance(chain.subject_for(w.officer), w.rec)
    assert head  # the unit head reviewed it
    assert ApprovalStep.objects.filter(request=request, decided_by=head).exists()


@pytest.mark.django_db
def test_evd3_custodian_may_not_ask_for_disclosure(make_agency):
    w = World(make_agency)
    with pytest.raises(authz.Denied):
        w.submit(w.p["custodian"], kind=RequestKind.DISCLOSURE, recipient_kind="party",
                 recipient_name="某商行", delivery="package")


@pytest.mark.django_db
def test_evd4_on_label_change_adds_the_step_to_pending_requests_at_once(make_agency):
    w = World(make_agency)
    request = w.submit()
    untouched = w.submit(recordings=[w.elsewhere])
    for _ in range(2):
        step = request.steps.get(state=StepState.OPEN)
        chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    w.case.label = Label.PRIVACY
    w.case.save(update_fields=["label"])
    assert chain.on_label_change(w.case, actor="test") == [request]
    assert [s for s in states(request)][2:] == [
        (Step.LABEL_APPROVAL, StepState.OPEN), (Step.CUSTODIAN_REGISTRATION, StepState.WAITING)]
    assert not untouched.steps.filter(step=Step.LABEL_APPROVAL).exists()
    assert chain.on_label_change(w.case, actor="test") == []  # nothing more to add
    w.walk(request)
    request.refresh_from_db()
    assert request.status == RequestStatus.GRANTED
