"""The findings workflow (issue 6 item 2; ACT-5 B16, SUP-2 A18 B26).

    open ──explain──▶ explained ──accept──▶ accepted
      ▲                   │
      └──── rejected ◀─reject (a reason)      (the responsible person may explain again)

    open / explained / accepted / rejected ──escalate──▶ escalated ──outcome──▶ closed

- **explain**: the person responsible (``Finding.responsible``) writes why — e.g. the reason
  for an interruption (B16). Where no person is responsible, any officer of the finding's
  activity or anyone of the finding's unit may. The unit's heads are notified.
- **decide**: a head of the finding's unit (a bureau leader for any unit) accepts the
  explanation or rejects it with a reason; never their own explanation. The responsible
  person is notified.
- **escalate**: a head of the unit, a bureau leader or the legal and supervision role
  registers a violation (SUP-2) of a kind A18/B26 list, naming the person responsible;
  the violation links to the finding and through it to its subject (the evidence).
- **outcome**: a bureau leader or the legal role records the outcome (批评教育, 通报,
  按照有关规定处理, 追究责任, or no violation); once every violation of the finding has one,
  the finding is closed.

Each step is a :class:`FindingStep` and an audit entry (``finding.explain``,
``finding.accept``, ``finding.reject``, ``finding.escalate``, ``violation.decide``) written
in the transaction of the change. Refusals raise :class:`Refused` / :class:`WitnessError`
(Chinese and English); a role the policy refuses raises ``authz.Denied``.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.access.models import Notification
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.findings.models import (
    Finding,
    FindingStatus,
    FindingStep,
    StepKind,
    Violation,
    ViolationKind,
    ViolationOutcome,
)
from witness.findings.services import register_violation
from witness.org import services as org
from witness.org.models import Person, Role

TEXT_LIMIT = 5000

EXPLAINABLE = (FindingStatus.OPEN, FindingStatus.REJECTED)
ESCALATABLE = (FindingStatus.OPEN, FindingStatus.EXPLAINED, FindingStatus.ACCEPTED,
               FindingStatus.REJECTED)


# --- what a subject may see ----------------------------------------------------------------

def findings(subject: authz.Subject) -> QuerySet:
    """The findings ``subject`` may see, with what the pages show."""
    return authz.visible_findings(subject).select_related(
        "unit", "responsible", "content_type")


def filtered(qs: QuerySet, *, status: str | None = None, rule: str | None = None,
             unit=None) -> QuerySet:
    """``qs`` narrowed to a status, a rule (its id, or a requirement ID such as ``ACT-5``
    for all its rules) and a unit (an object or its code)."""
    if status:
        qs = qs.filter(status=status)
    if rule:
        qs = qs.filter(Q(rule_id=rule) | Q(rule_id__startswith=f"{rule}."))
    if unit is not None:
        qs = qs.filter(unit__code=unit) if isinstance(unit, str) else qs.filter(unit=unit)
    return qs


def finding_for(subject: authz.Subject, pk) -> Finding:
    """The finding ``pk`` if ``subject`` may see it; NotFound otherwise (its existence is
    not revealed)."""
    found = findings(subject).filter(pk=_number(pk)).first()
    if found is None:
        raise NotFound(_("There is no finding with the number %(pk)s."), pk=pk)
    return found


def violations_q(subject: authz.Subject) -> Q:
    """The violations of the register ``subject`` may see: leaders and the legal role the
    agency's; unit heads those of findings of the units they head and those naming a
    person of those units."""
    if not subject.may("violation.view") or subject.agency is None:
        return Q(pk__in=[])
    people = Person.objects.filter(agency=subject.agency)
    if not subject.agency_wide:
        if not subject.head_units:
            return Q(pk__in=[])
        people = people.filter(unit__in=subject.head_units)
    by_person = Q(responsible_type__app_label="org", responsible_type__model="person",
                  responsible_id__in=people.values("pk"))
    by_finding = (Q(finding__unit__agency=subject.agency) if subject.agency_wide
                  else Q(finding__unit__in=subject.head_units))
    return by_person | by_finding


def violations(subject: authz.Subject) -> QuerySet:
    return (Violation.objects.filter(violations_q(subject))
            .select_related("finding", "finding__unit", "finding__content_type",
                            "registered_by").prefetch_related("responsible"))


def violation_for(subject: authz.Subject, pk) -> Violation:
    found = violations(subject).filter(pk=_number(pk)).first()
    if found is None:
        raise NotFound(_("There is no violation with the number %(pk)s."), pk=pk)
    return found


def steps_of(finding: Finding) -> QuerySet:
    """Every step of ``finding`` and of its violations, oldest first."""
    return (FindingStep.objects.filter(Q(finding=finding) | Q(violation__finding=finding))
            .select_related("person", "violation").order_by("at", "id"))


def _number(pk) -> int:
    try:
        return int(pk)
    except (TypeError, ValueError):
        return 0


# --- who may do what -----------------------------------------------------------------------

def _person(subject: authz.Subject) -> Person:
    if subject.person is None:
        raise Refused(_("Your account is not linked to a person of the agency."),
                      code="no_person")
    return subject.person


def _on_activity(finding: Finding, person: Person) -> bool:
    from witness.activities.models import ActivityOfficer

    ct = finding.content_type
    return (ct.app_label, ct.model) == ("activities", "activity") and \
        ActivityOfficer.objects.filter(activity_id=finding.object_id, person=person).exists()


def check_may_explain(subject: authz.Subject, finding: Finding) -> None:
    authz.require(subject, "finding.explain")
    person = _person(subject)
    if finding.responsible_id is not None:
        if finding.responsible_id != person.pk:
            raise Refused(_("Finding %(pk)s is for %(name)s to explain, not you."),
                          code="not_responsible", pk=finding.pk,
                          name=finding.responsible.name)
    elif not (_on_activity(finding, person)
              or (finding.unit_id is not None and finding.unit_id == person.unit_id)):
        raise Refused(_("Finding %(pk)s has no person responsible; an officer of its activity "
                        "or someone of its unit explains it."), code="not_responsible",
                      pk=finding.pk)
    if finding.status not in EXPLAINABLE:
        raise Refused(_("Finding %(pk)s is %(status)s; only an open finding or one whose "
                        "explanation was rejected can be explained."), code="not_explainable",
                      pk=finding.pk, status=finding.get_status_display())


def _heads(subject: authz.Subject, finding: Finding, action: str) -> None:
    """The subject acts for the finding's unit: a bureau leader (or, for the register, the
    legal role) for any unit of the agency, a unit head for the units they head."""
    authz.require(subject, action)
    if subject.agency_wide:
        if not authz.visible_findings(subject).filter(pk=finding.pk).exists():
            raise NotFound(_("There is no finding with the number %(pk)s."), pk=finding.pk)
        return
    if finding.unit_id is None or finding.unit_id not in subject.head_units:
        raise Refused(_("Finding %(pk)s belongs to %(unit)s; only a head of that unit or a "
                        "bureau leader may do this."), code="not_unit_head", pk=finding.pk,
                      unit=finding.unit.name if finding.unit_id else "—")


def check_may_decide(subject: authz.Subject, finding: Finding) -> None:
    _heads(subject, finding, "finding.decide")
    person = _person(subject)
    if finding.status in (FindingStatus.OPEN, FindingStatus.REJECTED):
        raise Refused(_("Finding %(pk)s has no explanation to decide on yet."),
                      code="no_explanation", pk=finding.pk)
    if finding.status != FindingStatus.EXPLAINED:
        raise Refused(_("Finding %(pk)s is %(status)s; only an explained finding can be "
                        "accepted or rejected."), code="not_decidable", pk=finding.pk,
                      status=finding.get_status_display())
    last = finding.steps.filter(kind=StepKind.EXPLAIN).order_by("-at", "-id").first()
    if finding.responsible_id == person.pk or (last is not None and last.person_id == person.pk):
        raise Refused(_("You cannot decide on your own explanation; a bureau leader decides "
                        "it."), code="own_explanation")


def check_may_escalate(subject: authz.Subject, finding: Finding) -> None:
    _heads(subject, finding, "violation.register")
    if finding.status not in ESCALATABLE:
        raise Refused(_("Finding %(pk)s is %(status)s; it cannot be escalated."),
                      code="not_escalatable", pk=finding.pk,
                      status=finding.get_status_display())


def check_may_record_outcome(subject: authz.Subject, violation: Violation) -> None:
    authz.require(subject, "violation.decide")
    if not Violation.objects.filter(violations_q(subject), pk=violation.pk).exists():
        raise NotFound(_("There is no violation with the number %(pk)s."), pk=violation.pk)
    if violation.outcome != ViolationOutcome.PENDING:
        raise Refused(_("The outcome of violation %(pk)s is already recorded: %(outcome)s."),
                      code="already_decided", pk=violation.pk,
                      outcome=violation.get_outcome_display())


def allowed(check, subject, obj) -> bool:
    """Whether ``check(subject, obj)`` passes (for showing a form)."""
    try:
        check(subject, obj)
    except (authz.Denied, WitnessError):
        return False
    return True


# --- the steps -----------------------------------------------------------------------------

def _text(text: str, message, code: str) -> str:
    text = (text or "").strip()
    if not text:
        raise WitnessError(message, code=code)
    if len(text) > TEXT_LIMIT:
        raise WitnessError(_("The text is too long (at most %(limit)s characters)."),
                           code="too_long", limit=TEXT_LIMIT)
    return text


def _locked(finding: Finding) -> Finding:
    """The finding's row, locked for the step (two heads deciding at once: one wins)."""
    return (Finding.objects.select_for_update(of=("self",))
            .select_related("unit", "responsible", "content_type").get(pk=finding.pk))


def _step(kind: str, subject: authz.Subject, *, finding=None, violation=None, text="",
          **details) -> FindingStep:
    return FindingStep.objects.create(kind=kind, finding=finding, violation=violation,
                                      person=subject.person, user=subject.user, text=text,
                                      details=details)


def _set_status(finding: Finding, status: str) -> str:
    before = finding.status
    finding.status = status
    finding.save(update_fields=["status", "updated_at"])
    return before


def _notify(people, kind: str, finding: Finding, **details) -> list[Notification]:
    """In-app inbox entries (witness.access.chain.notice_text renders them), and mail where
    the installation has a mail server."""
    from witness.access import chain

    details = {"finding": finding.pk, "rule": finding.rule_id, **details}
    people = list({p.pk: p for p in people}.values())
    rows = Notification.objects.bulk_create(
        [Notification(person=p, kind=kind, details=details) for p in people])
    if chain._mail_configured():
        for p in Person.objects.filter(pk__in=[p.pk for p in people]).select_related("user"):
            email = getattr(p.user, "email", "") if p.user_id else ""
            if email:
                chain._mail_after_commit(email, kind, details)
    return rows


def unit_heads(finding: Finding):
    """Who decides ``finding``: the heads of its unit; the bureau leaders where it has none."""
    if finding.unit_id is not None:
        heads = org.people_with_role(Role.UNIT_HEAD, unit=finding.unit)
        return heads.filter(agency_id=finding.unit.agency_id)
    agency_id = finding.responsible.agency_id if finding.responsible_id else None
    leaders = org.people_with_role(Role.LEADER)
    return leaders.filter(agency_id=agency_id) if agency_id else leaders


def explain(subject: authz.Subject, finding: Finding, text: str) -> Finding:
    """The responsible person explains ``finding`` (ACT-5 B16: e.g. why the recording was
    interrupted). The unit's heads are notified."""
    text = _text(text, _("Write the explanation."), "explanation_required")
    with transaction.atomic():
        finding = _locked(finding)
        check_may_explain(subject, finding)
        before = _set_status(finding, FindingStatus.EXPLAINED)
        step = _step(StepKind.EXPLAIN, subject, finding=finding, text=text)
        audit.append(subject.user, "finding.explain", finding,
                     details={"rule_id": finding.rule_id, "from": before, "step": step.pk,
                              "text": text})
        heads = [p for p in unit_heads(finding) if p.pk != subject.person.pk]
        _notify(heads, "finding_explained", finding, by=subject.person.name)
    return finding


def decide(subject: authz.Subject, finding: Finding, *, accept: bool,
           reason: str = "") -> Finding:
    """A head of the finding's unit accepts the explanation, or rejects it with a reason
    (the responsible person may then explain again). The responsible person is notified."""
    if not accept or (reason or "").strip():
        reason = _text(reason, _("Give the reason for rejecting the explanation."),
                       "reason_required")
    with transaction.atomic():
        finding = _locked(finding)
        check_may_decide(subject, finding)
        status = FindingStatus.ACCEPTED if accept else FindingStatus.REJECTED
        before = _set_status(finding, status)
        step = _step(StepKind.ACCEPT if accept else StepKind.REJECT, subject, finding=finding,
                     text=reason)
        audit.append(subject.user, "finding.accept" if accept else "finding.reject", finding,
                     details={"rule_id": finding.rule_id, "from": before, "step": step.pk,
                              "reason": reason})
        explainer = finding.responsible
        if explainer is None:
            last = (finding.steps.filter(kind=StepKind.EXPLAIN).select_related("person")
                    .order_by("-at", "-id").first())
            explainer = last.person if last is not None else None
        if explainer is not None:
            _notify([explainer], "finding_decided", finding, by=subject.person.name,
                    decision=str(status), note=reason)
    return finding


def escalate(subject: authz.Subject, finding: Finding, *, kind: str, description: str,
             person: Person | None = None) -> Violation:
    """Register a violation (SUP-2) for ``finding``: its kind from A18/B26, the person
    responsible (the finding's, unless another is named), the finding as its evidence."""
    if kind not in ViolationKind.values:
        raise WitnessError(_("Unknown kind of violation: %(kind)s."), code="bad_kind",
                           kind=kind)
    description = _text(description, _("Describe the violation."), "description_required")
    with transaction.atomic():
        finding = _locked(finding)
        check_may_escalate(subject, finding)
        person = person or finding.responsible
        if person is None:
            raise WitnessError(_("Finding %(pk)s names no person responsible; name the person "
                                 "the violation is registered against."),
                               code="responsible_required", pk=finding.pk)
        if person.agency_id != subject.agency.pk:
            raise Refused(_("%(name)s is not a person of your agency."), code="other_agency",
                          name=person.name)
        violation = register_violation(kind, person, description, finding=finding,
                                       user=subject.user)
        before = _set_status(finding, FindingStatus.ESCALATED)
        step = _step(StepKind.ESCALATE, subject, finding=finding, violation=violation,
                     text=description, violation_kind=kind, responsible=person.pk)
        audit.append(subject.user, "finding.escalate", finding,
                     details={"rule_id": finding.rule_id, "from": before, "step": step.pk,
                              "violation": violation.pk, "kind": kind,
                              "responsible": person.pk,
                              "evidence": {"object": finding.content_type.model,
                                           "object_id": finding.object_id}})
    return violation


def record_outcome(subject: authz.Subject, violation: Violation, *, outcome: str,
                   note: str = "") -> Violation:
    """A bureau leader or the legal role records what came of ``violation`` (A18, B26);
    the finding is closed once none of its violations is pending."""
    if outcome not in ViolationOutcome.values or outcome == ViolationOutcome.PENDING:
        raise WitnessError(_("Choose the outcome of the violation."), code="bad_outcome")
    note = (note or "").strip()[:TEXT_LIMIT]
    with transaction.atomic():
        violation = (Violation.objects.select_for_update(of=("self",))
                     .select_related("finding").get(pk=violation.pk))
        check_may_record_outcome(subject, violation)
        violation.outcome = outcome
        violation.decided_at = timezone.now()
        violation.save(update_fields=["outcome", "decided_at"])
        finding = violation.finding
        closed = False
        if finding is not None and finding.status == FindingStatus.ESCALATED and not \
                finding.violations.filter(outcome=ViolationOutcome.PENDING).exists():
            _set_status(finding, FindingStatus.CLOSED)
            closed = True
        step = _step(StepKind.OUTCOME, subject, finding=finding, violation=violation,
                     text=note, outcome=outcome)
        audit.append(subject.user, "violation.decide", violation,
                     details={"outcome": outcome, "note": note, "step": step.pk,
                              "finding": finding.pk if finding else None,
                              "finding_closed": closed})
    return violation


# --- JSON (the CLI) ------------------------------------------------------------------------

def finding_json(finding: Finding) -> dict:
    return {"id": finding.pk, "rule": finding.rule_id, "status": finding.status,
            "severity": finding.severity,
            "subject": f"{finding.content_type.app_label}.{finding.content_type.model}:"
                       f"{finding.object_id}",
            "key": finding.key,
            "unit": finding.unit.name if finding.unit_id else None,
            "responsible": finding.responsible.name if finding.responsible_id else None,
            "occurred_at": finding.occurred_at, "raised_at": finding.raised_at,
            "details": finding.details}


def step_json(step: FindingStep) -> dict:
    return {"id": step.pk, "kind": step.kind, "at": step.at,
            "person": step.person.name if step.person_id else None, "text": step.text,
            "violation": step.violation_id, "details": step.details}


def violation_json(violation: Violation) -> dict:
    person = violation.responsible
    return {"id": violation.pk, "kind": violation.kind, "description": violation.description,
            "responsible": getattr(person, "name", str(person)),
            "badge_number": getattr(person, "badge_number", None),
            "finding": violation.finding_id,
            "rule": violation.finding.rule_id if violation.finding_id else None,
            "outcome": violation.outcome, "registered_at": violation.registered_at,
            "decided_at": violation.decided_at}
