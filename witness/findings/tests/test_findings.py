"""raise_finding is the one way to record a finding (SUP-2 for violations); it is idempotent
per rule, object and key, and audited."""

import pytest
from django.db import IntegrityError, transaction

from witness.audit.models import AuditEntry
from witness.findings.models import Finding, FindingStatus, ViolationKind
from witness.findings.services import findings_for, raise_finding, register_violation
from witness.testing.factories import DeviceFactory, PersonFactory


def test_raise_finding_creates_once_and_audits(db):
    device = DeviceFactory()
    finding, created = raise_finding("DEV-3.refused_issue", device, {"holder": "张三"})
    assert created and finding.status == FindingStatus.OPEN
    again, created_again = raise_finding("DEV-3.refused_issue", device, {"holder": "张三"})
    assert (again.pk, created_again) == (finding.pk, False)
    assert AuditEntry.objects.filter(action="finding.raise", object_id=str(finding.pk)).count() == 1
    assert list(findings_for(device)) == [finding]


def test_keys_distinguish_findings_of_one_rule_on_one_object(db):
    device = DeviceFactory()
    raise_finding("ACT-5.gap", device, key="gap-1")
    raise_finding("ACT-5.gap", device, key="gap-2")
    assert findings_for(device).count() == 2


def test_database_refuses_a_duplicate_finding(db):
    device = DeviceFactory()
    finding, _ = raise_finding("X", device)
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.create(rule_id="X", content_type=finding.content_type,
                               object_id=device.pk, key="")


def test_register_violation_sup2_names_person_and_is_audited(db):
    person = PersonFactory()
    device = DeviceFactory()
    finding, _ = raise_finding("DEV-5.loss", device)
    violation = register_violation(ViolationKind.LOSS, person, "保管不善导致执法记录仪遗失",
                                   finding=finding)
    assert violation.responsible == person
    assert violation.outcome == "pending"
    assert AuditEntry.objects.filter(action="violation.register").count() == 1


def test_unknown_violation_kind_is_refused(db):
    with pytest.raises(ValueError):
        register_violation("jaywalking", PersonFactory(), "x")
