"""``raise_finding``: the one way any app records a finding. Idempotent per
(rule, object, key): raising the same finding twice returns the existing one."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from witness.audit import services as audit
from witness.findings.models import Finding, Severity, Violation, ViolationKind


@transaction.atomic
def raise_finding(rule_id: str, obj: models.Model, details: dict | None = None, *,
                  key: str = "", severity: str = Severity.WARNING,
                  actor=None, unit=None, responsible=None,
                  occurred_at=None) -> tuple[Finding, bool]:
    """Record that ``rule_id`` found something on ``obj``. Returns (finding, created).
    ``unit`` (whose head decides), ``responsible`` (the person who must explain) and
    ``occurred_at`` are set on a new finding (issue 6 item 2)."""
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    finding, created = Finding.objects.get_or_create(
        rule_id=rule_id, content_type=content_type, object_id=obj.pk, key=key,
        defaults={"details": details or {}, "severity": Severity(severity), "unit": unit,
                  "responsible": responsible, "occurred_at": occurred_at},
    )
    if created:
        audit.append(actor or f"system:rule:{rule_id}", "finding.raise", finding,
                     details={"rule_id": rule_id, "object": obj._meta.label_lower,
                              "object_id": obj.pk, "key": key, **(details or {})})
    return finding, created


def findings_for(obj: models.Model):
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    return Finding.objects.filter(content_type=content_type, object_id=obj.pk)


@transaction.atomic
def register_violation(kind: str, responsible: models.Model, description: str, *,
                       finding: Finding | None = None, user=None) -> Violation:
    violation = Violation.objects.create(
        kind=ViolationKind(kind), finding=finding,
        responsible_type=ContentType.objects.get_for_model(responsible),
        responsible_id=responsible.pk, description=description, registered_by=user,
    )
    audit.append(user, "violation.register", violation,
                 details={"kind": kind, "responsible": str(responsible),
                          "finding_id": finding.pk if finding else None})
    return violation
