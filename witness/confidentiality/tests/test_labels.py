"""Label changes (EVD-4, issue 5 item 4): asked for within scope, decided by the approver
the profile names and never by the requester, applied only on approval, audited."""

from __future__ import annotations

import pytest
from django.db import transaction

from witness.access.authz import Denied
from witness.access.labels import Label
from witness.audit.models import AuditEntry
from witness.confidentiality import services
from witness.confidentiality.models import ChangeState, HandoffState, LabelChange
from witness.core.errors import Refused, WitnessError
from witness.recordings.models import Recording
from witness.testing import factories as f


def entries(action, obj=None):
    qs = AuditEntry.objects.filter(action=action)
    if obj is not None:
        qs = qs.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    return list(qs.order_by("id"))


def test_EVD4_an_approved_change_sets_the_label_with_before_and_after_audited(world):
    w = world
    change = services.request_change(w.subject(w.officer), w.rec, "privacy", "当事人面部")
    assert change.state == ChangeState.PENDING and change.old_label == Label.GENERAL
    w.rec.refresh_from_db()
    assert w.rec.label == Label.GENERAL  # nothing changes before the decision
    [asked] = entries("label.request", change)
    assert asked.details["new_label"] == "privacy" and asked.details["reason"] == "当事人面部"

    services.decide(w.subject(w.principal), change, approve=True, note="同意")
    w.rec.refresh_from_db()
    change.refresh_from_db()
    assert w.rec.label == Label.PRIVACY
    assert change.state == ChangeState.APPROVED and change.decided_by == w.principal
    [approved] = entries("label.approve", change)
    [changed] = entries("label.set", w.rec)
    assert changed.details == {"before": "general", "after": "privacy",
                               "label_change": change.pk}
    assert approved.actor_id == str(w.principal.user.pk)


def test_EVD4_a_rejection_needs_a_reason_keeps_the_label_and_is_audited(world):
    w = world
    change = services.request_change(w.subject(w.officer), w.loose, "commercial", "涉及配方")
    with pytest.raises(WitnessError) as refused:
        services.decide(w.subject(w.principal), change, approve=False, note="  ")
    assert refused.value.code == "reason_required"
    services.decide(w.subject(w.principal), change, approve=False, note="不涉及商业秘密")
    change.refresh_from_db()
    w.loose.refresh_from_db()
    assert change.state == ChangeState.REJECTED and change.note == "不涉及商业秘密"
    assert w.loose.label == Label.GENERAL
    assert entries("label.reject", change) and not entries("label.set", w.loose)
    with pytest.raises(Refused):  # decided once
        services.decide(w.subject(w.principal), change, approve=True)


def test_EVD4_the_requester_cannot_approve_their_own_change(world):
    w = world
    change = services.request_change(w.subject(w.principal), w.loose, "internal", "内部会议")
    with pytest.raises(Denied) as refused:
        services.decide(w.subject(w.principal), change, approve=True)
    assert refused.value.code == "own_request"
    change.refresh_from_db()
    assert change.state == ChangeState.PENDING
    assert services.to_decide(w.subject(w.principal)) == []


@pytest.mark.parametrize("approver", ["principal_leader", "leader_in_charge"])
def test_EVD4_only_the_approver_the_profile_names_decides(world, approver):
    w = world
    w.use_profile_approver(approver)
    in_case = services.request_change(w.subject(w.officer), w.rec, "privacy", "未成年人")
    loose = services.request_change(w.subject(w.officer), w.loose, "privacy", "未成年人")
    right = w.in_charge if approver == "leader_in_charge" else w.principal
    wrong = w.principal if approver == "leader_in_charge" else w.in_charge
    assert in_case.approver == right
    for person in (wrong, w.p["unit_head"], w.p["legal"]):
        with pytest.raises(Denied) as refused:
            services.decide(w.subject(person), in_case, approve=True)
        assert refused.value.code == "not_approver"
    with pytest.raises(Denied) as refused:  # a custodian: not even the role
        services.decide(w.subject(w.custodian), in_case, approve=True)
    assert refused.value.code == "role"
    assert [c.pk for c in services.to_decide(w.subject(right))] == \
        [in_case.pk] + ([loose.pk] if right == w.principal else [])
    services.decide(w.subject(right), in_case, approve=True)
    # outside any case the principal leader decides under either setting
    assert loose.approver == w.principal
    services.decide(w.subject(w.principal), loose, approve=True)
    assert Recording.objects.get(pk=w.rec.pk).label == Label.PRIVACY
    w.loose.refresh_from_db()
    assert w.loose.label == Label.PRIVACY


def test_EVD4_raising_and_lowering_both_need_approval_and_one_change_is_pending_at_a_time(
        world):
    w = world
    officer = w.subject(w.officer)
    raise_ = services.request_change(officer, w.rec, "internal", "内部")
    with pytest.raises(Refused) as refused:
        services.request_change(officer, w.rec, "privacy", "再提一次")
    assert refused.value.code == "change_pending"
    services.decide(w.subject(w.principal), raise_, approve=True)
    with pytest.raises(Refused) as same:
        services.request_change(officer, w.rec, "internal", "同样")
    assert same.value.code == "same_label"
    lower = services.request_change(officer, w.rec, "general", "不再需要保密")
    assert Recording.objects.get(pk=w.rec.pk).label == Label.INTERNAL
    services.decide(w.subject(w.principal), lower, approve=True)
    assert Recording.objects.get(pk=w.rec.pk).label == Label.GENERAL


def test_EVD4_the_database_holds_one_target_and_one_pending_change(world):
    w = world
    change = services.request_change(w.subject(w.officer), w.rec, "internal", "内部")
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        LabelChange.objects.create(agency=w.agency, recording=w.rec, activity=w.act,
                                   old_label="general", new_label="privacy", reason="x",
                                   requested_by=w.officer, approver=w.principal)
    with pytest.raises(IntegrityError), transaction.atomic():
        LabelChange.objects.create(agency=w.agency, recording=w.rec, old_label="general",
                                   new_label="privacy", reason="x", requested_by=w.officer,
                                   approver=w.principal)
    assert change.pk


def test_EVD4_requests_are_within_the_requesters_scope(world):
    w = world
    stranger_unit = f.UnitFactory(agency=w.agency, name="执法三科", code="x3")
    stranger = f.PersonFactory(unit=stranger_unit, roles=["officer"])
    stranger.user = f.UserFactory(username="stranger", password=f.PASSWORD)
    stranger.save(update_fields=["user"])
    with pytest.raises(Denied) as out:
        services.request_change(w.subject(stranger), w.rec, "privacy", "x")
    assert out.value.code == "scope"
    with pytest.raises(Denied) as role:  # officers do not see cases
        services.request_change(w.subject(w.officer), w.case, "privacy", "x")
    assert role.value.code == "scope"
    with pytest.raises(Denied):  # an administrator: no role for it
        services.request_change(w.subject(w.p["sysadmin"]), w.rec, "privacy", "x")
    # a custodian labels the agency's recordings; a unit head their unit's activities
    services.request_change(w.subject(w.custodian), w.loose_rec, "internal", "内部")
    services.request_change(w.subject(w.p["unit_head"]), w.act, "internal", "内部")
    services.request_change(w.subject(w.p["legal"]), w.case, "internal", "内部")
    with pytest.raises(WitnessError) as bad:
        services.request_change(w.subject(w.officer), w.rec, "top_secret", "x")
    assert bad.value.code == "bad_label"
    with pytest.raises(WitnessError) as no_reason:
        services.request_change(w.subject(w.officer), w.rec, "privacy", " ")
    assert no_reason.value.code == "reason_required"
    assert not LabelChange.objects.filter(recording=w.rec).exists()


def test_EVD4_a_change_is_not_made_without_its_audit_entry(world, monkeypatch):
    w = world
    change = services.request_change(w.subject(w.officer), w.rec, "privacy", "面部")
    from witness.audit import services as audit

    def refuse(*args, **kwargs):
        raise RuntimeError("audit insert refused")

    monkeypatch.setattr(audit, "append", refuse)
    with pytest.raises(RuntimeError):
        services.decide(w.subject(w.principal), change, approve=True)
    change.refresh_from_db()
    assert change.state == ChangeState.PENDING
    assert Recording.objects.get(pk=w.rec.pk).label == Label.GENERAL


def test_EVD4_a_label_change_never_touches_the_original_bytes(world):
    w = world
    from witness.storage.config import get_backend

    before = b"".join(get_backend().read(w.rec.blob.key))
    change = services.request_change(w.subject(w.officer), w.rec, "commercial", "配方")
    services.decide(w.subject(w.principal), change, approve=True)
    assert b"".join(get_backend().read(w.rec.blob.key)) == before


def test_EVD4_lowering_a_state_secret_before_export_cancels_its_handoff_after_export_is_refused(
        world):
    w = world
    up = services.request_change(w.subject(w.officer), w.rec, "state_secret", "涉密")
    services.decide(w.subject(w.principal), up, approve=True)
    [handoff] = w.rec.secret_handoffs.all()
    down = services.request_change(w.subject(w.officer), w.rec, "general", "误标")
    services.decide(w.subject(w.principal), down, approve=True)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.CANCELLED
    assert entries("secret.cancel", w.rec)
    # marked again, and this time exported: the label stays
    up = services.request_change(w.subject(w.officer), w.rec, "state_secret", "确属涉密")
    services.decide(w.subject(w.principal), up, approve=True)
    handoff = w.rec.secret_handoffs.exclude(state=HandoffState.CANCELLED).get()
    services.record_export(w.subject(w.custodian), handoff, medium="DVD-R",
                           medium_id="MM-2026-001", held_at="保密室 2 号柜", held_by="张保密",
                           exported_at="2026-11-30T10:00")
    with pytest.raises(Refused) as refused:
        services.request_change(w.subject(w.officer), w.rec, "general", "误标")
    assert refused.value.code == "handed_off"


def test_EVD4_an_approved_label_adds_its_approver_to_viewing_requests_in_approval(world):
    """The label change reaches the viewing chain at once (chain.on_label_change): a
    request in approval that touches the recording gets the label approver's step."""
    from datetime import timedelta

    from django.utils import timezone

    from witness.access import chain
    from witness.access.models import Step

    w = world
    now = timezone.now()
    request = chain.submit(w.officer, recordings=[w.rec], reason="复核现场情况",
                           wanted_from=now, wanted_until=now + timedelta(days=3),
                           actor="test")
    assert not request.steps.filter(step=Step.LABEL_APPROVAL).exists()
    change = services.request_change(w.subject(w.officer), w.rec, "privacy", "当事人面部")
    services.decide(w.subject(w.principal), change, approve=True, note="同意")
    step = request.steps.get(step=Step.LABEL_APPROVAL)
    assert step.approver == w.principal
    assert entries("request.step_add", request)
