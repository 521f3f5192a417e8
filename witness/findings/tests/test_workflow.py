"""The findings workflow (issue 6 item 2; ACT-5 B16, SUP-2 A18 B26): explain, accept or
reject, escalate to a violation, record its outcome — each step a FindingStep, an audit
entry and, where someone must act, an inbox notification; each refusal in Chinese and
English; scope as witness.access.authz.visible_findings says."""

import pytest
from django.utils import translation

from witness.access import authz
from witness.access.chain import notice_text
from witness.access.models import Notification
from witness.audit.models import AuditEntry
from witness.core.errors import Refused, WitnessError
from witness.findings import workflow
from witness.findings.models import (
    KIND_ARTICLES,
    FindingStatus,
    StepKind,
    ViolationKind,
    ViolationOutcome,
)

pytestmark = pytest.mark.django_db


def actions_on(obj) -> list[str]:
    return list(AuditEntry.objects.filter(object_type=obj._meta.label_lower,
                                          object_id=str(obj.pk))
                .order_by("id").values_list("action", flat=True))


def refused(code, call, *args, **kwargs):
    with pytest.raises(WitnessError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.as_dict()
    assert caught.value.zh and caught.value.en and caught.value.zh != caught.value.en
    return caught.value


def test_ACT5_SUP2_explain_reject_explain_accept_escalate_and_outcome_end_to_end(
        world, as_subject):
    finding = world.finding
    assert (finding.status, finding.unit, finding.responsible) == (
        FindingStatus.OPEN, world.field, world.officer)

    workflow.explain(as_subject(world.officer), finding, "电池耗尽，更换电池后继续录制")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.EXPLAINED
    [note] = Notification.objects.filter(kind="finding_explained")
    assert note.person == world.head and note.details["finding"] == finding.pk
    with translation.override("en"):
        assert notice_text(note) == (f"Finding #{finding.pk} (ACT-5.gap) was explained by "
                                     f"{world.officer.name}; it waits for your decision.")

    workflow.decide(as_subject(world.head), finding, accept=False, reason="未说明中断时长")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.REJECTED
    [decided] = Notification.objects.filter(kind="finding_decided")
    assert decided.person == world.officer
    with translation.override("en"):
        assert "explanation rejected" in notice_text(decided)
        assert "未说明中断时长" in notice_text(decided)
    with translation.override("zh-hans"):
        assert notice_text(decided) != notice_text(Notification(kind="finding_decided",
                                                                details={}))

    workflow.explain(as_subject(world.officer), finding, "电池耗尽约2分钟，已口头说明")
    workflow.decide(as_subject(world.head), finding, accept=True)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.ACCEPTED
    assert Notification.objects.filter(kind="finding_decided", person=world.officer).count() == 2

    violation = workflow.escalate(as_subject(world.legal), finding,
                                  kind=ViolationKind.NOT_RECORDED,
                                  description="未按规定全程录制")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.ESCALATED
    assert violation.responsible == world.officer and violation.finding == finding
    assert violation.outcome == ViolationOutcome.PENDING
    assert violation.registered_by == world.legal.user

    workflow.record_outcome(as_subject(world.leader), violation,
                            outcome=ViolationOutcome.CIRCULATED, note="全局通报")
    violation.refresh_from_db()
    finding.refresh_from_db()
    assert violation.outcome == ViolationOutcome.CIRCULATED and violation.decided_at
    assert finding.status == FindingStatus.CLOSED

    steps = list(workflow.steps_of(finding))
    assert [(s.kind, s.person) for s in steps] == [
        (StepKind.EXPLAIN, world.officer), (StepKind.REJECT, world.head),
        (StepKind.EXPLAIN, world.officer), (StepKind.ACCEPT, world.head),
        (StepKind.ESCALATE, world.legal), (StepKind.OUTCOME, world.leader)]
    assert steps[1].text == "未说明中断时长" and steps[-1].text == "全局通报"

    assert actions_on(finding) == ["finding.raise", "finding.explain", "finding.reject",
                                   "finding.explain", "finding.accept", "finding.escalate"]
    assert actions_on(violation) == ["violation.register", "violation.decide"]
    explain_entry = AuditEntry.objects.filter(action="finding.explain").first()
    assert explain_entry.actor_id == str(world.officer.user_id)
    assert explain_entry.details["text"] == "电池耗尽，更换电池后继续录制"


def test_ACT5_a_colleague_cannot_explain_someone_elses_finding(world, as_subject):
    error = refused("not_responsible", workflow.explain, as_subject(world.colleague),
                    world.finding, "不是我的")
    assert world.officer.name in error.zh
    world.finding.refresh_from_db()
    assert world.finding.status == FindingStatus.OPEN
    assert not world.finding.steps.exists()
    assert "finding.explain" not in actions_on(world.finding)


def test_ACT5_without_a_person_responsible_the_activitys_officer_or_the_unit_explains(
        world, as_subject, more):
    finding = more.raise_on(world.activity, "gap-2", unit=world.field2)
    # not responsible, not on the activity, not of the finding's unit
    refused("not_responsible", workflow.explain, as_subject(world.colleague), finding, "x")
    workflow.explain(as_subject(world.officer), finding, "我在该活动中")  # on the activity
    finding.refresh_from_db()
    assert finding.status == FindingStatus.EXPLAINED
    # the heads of the finding's unit are told, not those of the officer's unit
    assert list(Notification.objects.filter(kind="finding_explained")
                .values_list("person", flat=True)) == [world.other_head.pk]

    other = more.raise_on(world.activity, "gap-3", unit=world.field)
    workflow.explain(as_subject(world.colleague), other, "本科室人员说明")  # of the unit
    other.refresh_from_db()
    assert other.status == FindingStatus.EXPLAINED


def test_ACT5_explaining_needs_text_and_an_open_or_rejected_finding(world, as_subject):
    refused("explanation_required", workflow.explain, as_subject(world.officer),
            world.finding, "   ")
    workflow.explain(as_subject(world.officer), world.finding, "原因")
    refused("not_explainable", workflow.explain, as_subject(world.officer),
            world.finding, "再说一次")


def test_ACT5_deciding_refusals(world, as_subject, more):
    head = as_subject(world.head)
    refused("no_explanation", workflow.decide, head, world.finding, accept=True)
    workflow.explain(as_subject(world.officer), world.finding, "原因")
    # the head of another unit
    refused("not_unit_head", workflow.decide, as_subject(world.other_head), world.finding,
            accept=True)
    # a rejection needs its reason
    refused("reason_required", workflow.decide, head, world.finding, accept=False, reason="")
    # officers and the legal role may not decide at all (role)
    with pytest.raises(authz.Denied):
        workflow.decide(as_subject(world.colleague), world.finding, accept=True)
    with pytest.raises(authz.Denied):
        workflow.decide(as_subject(world.legal), world.finding, accept=True)
    world.finding.refresh_from_db()
    assert world.finding.status == FindingStatus.EXPLAINED
    workflow.decide(head, world.finding, accept=True)
    refused("not_decidable", workflow.decide, head, world.finding, accept=False, reason="x")

    # a unit head never decides their own explanation; a bureau leader does
    own = more.raise_on(world.activity, "gap-head", unit=world.field, responsible=world.head)
    workflow.explain(head, own, "本人说明")
    refused("own_explanation", workflow.decide, head, own, accept=True)
    workflow.decide(as_subject(world.leader), own, accept=True)
    own.refresh_from_db()
    assert own.status == FindingStatus.ACCEPTED


def test_SUP2_escalation_refusals(world, as_subject, more):
    refused("not_unit_head", workflow.escalate, as_subject(world.other_head), world.finding,
            kind=ViolationKind.NOT_RECORDED, description="x")
    with pytest.raises(authz.Denied):
        workflow.escalate(as_subject(world.officer), world.finding,
                          kind=ViolationKind.NOT_RECORDED, description="x")
    refused("bad_kind", workflow.escalate, as_subject(world.head), world.finding,
            kind="jaywalking", description="x")
    refused("description_required", workflow.escalate, as_subject(world.head), world.finding,
            kind=ViolationKind.NOT_RECORDED, description="")
    nobody = more.raise_on(world.activity, "gap-nobody", unit=world.field)
    refused("responsible_required", workflow.escalate, as_subject(world.head), nobody,
            kind=ViolationKind.NOT_RECORDED, description="无责任人")
    violation = workflow.escalate(as_subject(world.head), nobody,
                                  kind=ViolationKind.NOT_RECORDED, description="指定责任人",
                                  person=world.colleague)
    assert violation.responsible == world.colleague
    refused("not_escalatable", workflow.escalate, as_subject(world.head), nobody,
            kind=ViolationKind.OTHER, description="再次")
    assert nobody.violations.count() == 1


def test_SUP2_outcome_refusals(world, as_subject):
    violation = workflow.escalate(as_subject(world.head), world.finding,
                                  kind=ViolationKind.NOT_RECORDED, description="未录制")
    with pytest.raises(authz.Denied):  # the unit head registers; the outcome is not theirs
        workflow.record_outcome(as_subject(world.head), violation,
                                outcome=ViolationOutcome.CRITICISM)
    refused("bad_outcome", workflow.record_outcome, as_subject(world.legal), violation,
            outcome=ViolationOutcome.PENDING)
    workflow.record_outcome(as_subject(world.legal), violation,
                            outcome=ViolationOutcome.CRITICISM)
    error = refused("already_decided", workflow.record_outcome, as_subject(world.leader),
                    violation, outcome=ViolationOutcome.ACCOUNTABILITY)
    assert isinstance(error, Refused)
    violation.refresh_from_db()
    assert violation.outcome == ViolationOutcome.CRITICISM
    assert actions_on(violation).count("violation.decide") == 1


def test_SUP2_scope_of_findings_and_violations(world, as_subject, more):
    theirs = more.raise_on(world.activity, "gap-colleague", unit=world.field,
                           responsible=world.colleague)
    elsewhere_activity = type(world.activity).objects.create(
        agency=world.agency, unit=world.field2, activity_type="x", place="二科现场",
        arrived_at=world.activity.arrived_at, departed_at=world.activity.departed_at)
    elsewhere = more.raise_on(elsewhere_activity, "gap-2", unit=world.field2,
                              responsible=world.other_head)

    def seen(person):
        return set(authz.visible_findings(as_subject(person)).values_list("pk", flat=True))

    mine = world.finding.pk
    # the officer: their own, and the colleague's on the activity they were on
    assert seen(world.officer) == {mine, theirs.pk}
    assert seen(world.colleague) == {theirs.pk}
    assert seen(world.head) == {mine, theirs.pk}
    assert seen(world.other_head) == {elsewhere.pk}
    assert seen(world.leader) == seen(world.legal) == {mine, theirs.pk, elsewhere.pk}
    assert seen(world.custodian) == set()
    assert seen(world.people["sysadmin"]) == set()

    violation = workflow.escalate(as_subject(world.legal), elsewhere,
                                  kind=ViolationKind.LOSS, description="遗失")

    def register(person):
        return set(workflow.violations(as_subject(person)).values_list("pk", flat=True))

    assert register(world.legal) == register(world.leader) == {violation.pk}
    assert register(world.other_head) == {violation.pk}
    assert register(world.head) == set()
    with pytest.raises(authz.Denied):
        workflow.record_outcome(as_subject(world.officer), violation,
                                outcome=ViolationOutcome.CRITICISM)


def test_SUP2_every_kind_of_A18_and_B26_has_a_violation_kind():
    """The items of A18 (regulation A, 第十八条) and B26 (regulation B, 第二十六条), written
    out from the seeds: each is one kind of the register."""
    items = {
        "A18(1)": "不按规定佩戴、使用音像记录设备记录", "A18(2)": "删减、修改、弄虚作假",
        "A18(3)": "滥用、私用，交由非本单位人员使用", "A18(4)": "私自复制、保存或者传播、泄露",
        "A18(5)": "故意毁坏设备或存储设备", "A18(6)": "其他严重违反",
        "B26(1)": "故意删除有效证据信息", "B26(2)": "擅自借给其他人员使用",
        "B26(3)": "不按规定记录导致信访、投诉、负面炒作", "B26(4)": "违反规定泄露",
        "B26(5)": "摄录虚假证据或删改", "B26(6)": "用于非单位工作或违法违纪活动",
        "B26(7)": "保管不妥遗失、被盗或损毁、丢失", "B26(8)": "其他严重违反",
    }
    covered = {item for articles in KIND_ARTICLES.values() for item in articles}
    assert covered == set(items)
    assert set(KIND_ARTICLES) == set(ViolationKind)


def test_SUP2_outcomes_include_criticism_circulation_and_accountability():
    with translation.override("zh-hans"):
        labels = {str(label) for _v, label in ViolationOutcome.choices}
    for term in ("批评教育", "通报", "追究责任"):
        assert any(term in label for label in labels), (term, labels)
