"""RET-2 (A16): holds with their reason on a recording, activity or case — proposed,
approved, released, audited; a complaint or petition proposes one automatically."""

from __future__ import annotations

import pytest
from django.utils import timezone

from witness.access.authz import Denied
from witness.audit.models import AuditEntry
from witness.core.errors import NotFound, Refused, WitnessError
from witness.retention import holds, keep
from witness.retention.models import HoldReason, HoldState

pytestmark = pytest.mark.django_db


def actions(obj):
    return list(AuditEntry.objects.filter(object_type=obj._meta.label_lower,
                                          object_id=str(obj.pk))
                .order_by("id").values_list("action", flat=True))


def test_RET2_a_complaint_proposes_a_hold_on_the_activity(world):
    rec = world.recording(world.loose)
    keep.recompute(actor="test")
    assert rec in keep.expired(world.agency)
    complaint, hold = holds.register_complaint(
        world.subject(world.p["legal"]), world.loose, kind="petition", complainant="王某",
        received_at=timezone.now(), summary="对现场检查有异议")
    assert hold.activity == world.loose and hold.reason == HoldReason.DISPUTE
    assert hold.state == HoldState.PROPOSED and hold.complaint == complaint
    assert rec not in keep.expired(world.agency)
    assert actions(complaint) == ["complaint.register"] and actions(hold) == ["hold.propose"]


def test_RET2_hold_lifecycle_on_a_case_is_audited(world):
    rec = world.recording(world.act)
    world.case.status, world.case.closed_at = "closed", world.case.opened_at.replace(year=2022)
    world.case.save()
    keep.recompute(actor="test")
    hold = holds.propose(world.subject(world.officer), world.case, "major", "舆情敏感")
    assert keep.reasons_for(rec) == ["hold"]
    with pytest.raises(Denied):
        holds.decide(world.subject(world.officer), hold, approve=True)
    hold = holds.decide(world.subject(world.leader), hold, approve=True)
    assert hold.state == HoldState.ACTIVE
    with pytest.raises(Refused):
        holds.decide(world.subject(world.leader), hold, approve=True)
    hold = holds.release(world.subject(world.p["legal"]), hold, "事项已办结")
    assert hold.state == HoldState.RELEASED and keep.reasons_for(rec) == []
    assert actions(hold) == ["hold.propose", "hold.approve", "hold.release"]


def test_RET2_a_reason_outside_A16_and_a_hidden_target_are_refused(world, site):
    rec = world.recording()
    with pytest.raises(WitnessError, match="A16"):
        holds.propose(world.subject(world.officer), rec, "because")
    other = site()
    outsider = other.people["officer"]
    from witness.access import authz

    subject = authz.subject_of(type(outsider.user).objects.get(pk=outsider.user.pk))
    with pytest.raises(NotFound):
        holds.target_for(subject, "recording", rec.pk)
