"""Run the rules and reconcile their matches with the findings (issue 6 item 1).

For each rule and each profile period of the agency, the rule's query returns its breaches;
the engine then compares them, as sets, with the rule's existing findings:

- a breach with no finding raises one (``finding.raise`` audit entry, one per finding);
- an open finding whose breach is gone is resolved (``finding.resolve``): the data changed,
  e.g. the missing recording was ingested;
- a resolved finding whose breach is back reopens (``finding.reopen``);
- findings a person has acted on (explained, accepted, rejected, escalated) are left alone.

A full check decides every finding of a rule; an incremental check (after an ingest) decides
only the subject rows the rule says the given activities touch. Each rule runs in its own
transaction, so a long full check holds no lock across rules; the run is recorded in
``CheckRun`` with per-rule counts and times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from witness.audit import services as audit
from witness.findings.models import AUTO_RESOLVABLE, Finding, FindingStatus
from witness.org.models import Agency
from witness.profiles.models import ProfileActivation
from witness.profiles.services import profile_of

from .models import CheckKind, CheckRun, CheckStatus
from .rules import Context, Match, Rule, Window, all_rules


@dataclass
class RuleResult:
    rule: str
    found: int = 0
    raised: int = 0
    resolved: int = 0
    reopened: int = 0
    seconds: float = 0.0
    raised_ids: list[int] = field(default_factory=list)
    reopened_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"found": self.found, "raised": self.raised, "resolved": self.resolved,
                "reopened": self.reopened, "seconds": round(self.seconds, 3)}


def periods(agency) -> list[tuple[object, Window]]:
    """(profile, window) for every stretch of time in which one profile version was in
    force. Before the first activation the first version applies (as
    ``profiles.services.versions_in_force``); consecutive activations of the same version
    merge."""
    activations = list(ProfileActivation.objects.filter(agency=agency)
                       .select_related("version").order_by("effective_from", "id"))
    out: list[tuple[object, Window]] = []
    for index, activation in enumerate(activations):
        start = None if index == 0 else activation.effective_from
        end = (activations[index + 1].effective_from if index + 1 < len(activations)
               else None)
        if out and out[-1][0][0] == activation.version_id:
            (version_id, profile), window = out[-1]
            out[-1] = ((version_id, profile), Window(window.start, end))
            continue
        out.append(((activation.version_id, profile_of(activation.version)),
                    Window(start, end)))
    return [(profile, window) for (_vid, profile), window in out]


def _subject_model(rule: Rule):
    return apps.get_model(rule.subject)


# How a subject row leads to its agency, tried in order; a model with none of these (a
# blob of the shared store) is not the agency's own, and its findings are decided by any
# agency's run alike.
AGENCY_PATHS = ("agency", "unit__agency")
INDIRECT_AGENCY_PATHS = ("device__unit__agency", "activity__agency", "ingest_run__agency")


def _valid_path(model, path: str) -> bool:
    for name in path.split("__"):
        try:
            field_ = model._meta.get_field(name)
        except Exception:  # FieldDoesNotExist
            return False
        if not field_.is_relation or field_.related_model is None:
            return False
        model = field_.related_model
    return model._meta.label_lower == "org.agency"


def agency_q(model, agency) -> Q | None:
    """The subject rows of ``model`` that belong to ``agency``; None: rows of no agency."""
    if model._meta.label_lower == "org.agency":  # the agency itself (SUP-1)
        return Q(pk=agency.pk)
    for path in AGENCY_PATHS:
        if _valid_path(model, path):
            return Q(**{path: agency})
    q = None
    for path in INDIRECT_AGENCY_PATHS:
        if _valid_path(model, path):
            q = Q(**{path: agency}) if q is None else q | Q(**{path: agency})
    return q


def _other_agencies(ctx: Context) -> bool:
    """Whether another agency exists (else scoping findings to this one is a no-op, and a
    costly one over a million recordings); asked once per run."""
    if not hasattr(ctx, "_others"):
        ctx._others = Agency.objects.exclude(pk=ctx.agency.pk).exists()
    return ctx._others


def evaluate(rule: Rule, ctx: Context) -> dict[tuple[int, str], Match]:
    """The rule's breaches under the profile in force when each subject row happened."""
    spans = periods(ctx.agency)
    if not spans:
        return {}
    if not rule.by_activity_time:  # the profile in force now (not one scheduled later)
        current = next((profile for profile, window in spans
                        if window.end is None or ctx.now < window.end), spans[-1][0])
        spans = [(current, Window(None, None))]
    found: dict[tuple[int, str], Match] = {}
    for profile, window in spans:
        for match in rule.evaluate(ctx, profile, window):
            found[(match.object_id, match.key)] = match
    return found


def reconcile(rule: Rule, ctx: Context, found: dict[tuple[int, str], Match],
              actor: str) -> RuleResult:
    result = RuleResult(rule.id, found=len(found))
    model = _subject_model(rule)
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=True)
    all_findings = Finding.objects.filter(rule_id=rule.id, content_type=content_type)
    existing = all_findings
    # Only this agency's findings are decided by its run: another agency's breaches are
    # not in ``found`` and must not be taken for gone.
    own = agency_q(model, ctx.agency) if _other_agencies(ctx) else None
    if own is not None:
        existing = existing.filter(object_id__in=model._default_manager.filter(own)
                                   .values("pk"))
    if ctx.incremental:
        touched = rule.touched(ctx) if rule.touched else None
        if touched is None:
            return result  # decided by full checks only
        existing = existing.filter(object_id__in=touched)
        # only breaches inside the touched set may be raised by an incremental check
        touched_ids = set(touched.values_list("pk", flat=True)) if hasattr(
            touched, "values_list") else set(touched)
        found = {k: m for k, m in found.items() if m.object_id in touched_ids}
    known = {(object_id, key): (pk, status) for pk, object_id, key, status in
             existing.values_list("pk", "object_id", "key", "status")}
    candidates = [k for k in found if k not in known]
    if candidates:
        # a breach whose finding the scoping above did not show (raised by a service on
        # an object the agency path does not reach): known all the same, never raised twice
        ids = {object_id for object_id, _key in candidates}
        for pk, object_id, key, status in all_findings.filter(
                object_id__in=ids).values_list("pk", "object_id", "key", "status"):
            known.setdefault((object_id, key), (pk, status))
    new = [m for k, m in found.items() if k not in known]
    gone = [pk for k, (pk, status) in known.items()
            if k not in found and status in AUTO_RESOLVABLE]
    back = [pk for k, (pk, status) in known.items()
            if k in found and status == FindingStatus.RESOLVED]
    rule_actor = actor or f"system:rule:{rule.id}"
    with transaction.atomic():
        if new:
            rows = Finding.objects.bulk_create([
                Finding(rule_id=rule.id, content_type=content_type, object_id=m.object_id,
                        key=m.key, details={"requirement": rule.requirement,
                                            "articles": rule.articles, **m.details},
                        severity=rule.severity, unit_id=m.unit_id,
                        responsible_id=m.person_id, occurred_at=m.at)
                for m in new])
            if not all(r.pk for r in rows):  # backends that return no ids (none we use)
                rows = list(Finding.objects.filter(
                    rule_id=rule.id, content_type=content_type,
                    object_id__in=[m.object_id for m in new]))
            for finding in rows:
                audit.append(rule_actor, "finding.raise", finding,
                             details={"rule_id": rule.id, "requirement": rule.requirement,
                                      "object": rule.subject, "object_id": finding.object_id,
                                      "key": finding.key})
            result.raised = len(rows)
            result.raised_ids = [r.pk for r in rows]
            if rule.notify:
                rule.notify(rows)
        now = timezone.now()
        changed = {}
        for status, pks, was, action in (
                (FindingStatus.RESOLVED, gone, AUTO_RESOLVABLE, "finding.resolve"),
                (FindingStatus.OPEN, back, (FindingStatus.RESOLVED,), "finding.reopen")):
            if not pks:
                changed[action] = []
                continue
            # locked and re-read: a person may have acted on one since it was read above
            rows = list(Finding.objects.select_for_update()
                        .filter(pk__in=pks, status__in=was).order_by("pk"))
            Finding.objects.filter(pk__in=[f.pk for f in rows]).update(status=status,
                                                                      updated_at=now)
            for finding in rows:
                finding.status = status
                audit.append(rule_actor, action, finding,
                             details={"rule_id": rule.id, "status": status})
            changed[action] = rows
        if rule.notify and changed["finding.reopen"]:  # back again: told again (B16)
            rule.notify(changed["finding.reopen"])
        back = [f.pk for f in changed["finding.reopen"]]
        result.resolved, result.reopened = len(changed["finding.resolve"]), len(back)
        result.reopened_ids = list(back)
    return result


def run(agency, *, activity_ids: Iterable[int] | None = None,
        rules: Iterable[Rule] | None = None, actor: str = "system:compliance",
        now=None, progress: Callable[[Rule, RuleResult | None], None] | None = None,
        ) -> CheckRun:
    """Run ``rules`` (default: all) for ``agency``; only the given activities when
    ``activity_ids`` is given. Returns the finished ``CheckRun``; its ``results`` (not
    stored) hold each rule's :class:`RuleResult` with the ids of the findings raised and
    reopened. ``progress(rule, None)`` is called before a rule runs and
    ``progress(rule, result)`` after (a display)."""
    ids = frozenset(activity_ids) if activity_ids is not None else None
    ctx = Context(agency=agency, now=now or timezone.now(), activity_ids=ids)
    with transaction.atomic():
        check = CheckRun.objects.create(
            agency=agency, kind=CheckKind.FULL if ids is None else CheckKind.ACTIVITIES,
            activity_ids=sorted(ids) if ids is not None else [], actor=actor)
        audit.append(actor, "compliance.check.start", check,
                     details={"kind": check.kind, "activities": check.activity_ids[:100]})
    per_rule = {}
    check.results = {}
    try:
        for rule in (list(rules) if rules is not None else all_rules()):
            if ctx.incremental and rule.touched is None:
                continue
            if progress:
                progress(rule, None)
            started = time.perf_counter()
            try:
                result = reconcile(rule, ctx, evaluate(rule, ctx), actor)
            except IntegrityError:
                # a service raised one of these findings meanwhile (fixity): decide again
                result = reconcile(rule, ctx, evaluate(rule, ctx), actor)
            result.seconds = time.perf_counter() - started
            per_rule[rule.id] = result.as_dict()
            check.results[rule.id] = result
            if progress:
                progress(rule, result)
    except Exception as exc:
        with transaction.atomic():
            CheckRun.objects.filter(pk=check.pk).update(
                status=CheckStatus.FAILED, finished_at=timezone.now(), per_rule=per_rule,
                error=f"{type(exc).__name__}: {exc}")
            audit.append(actor, "compliance.check.finish", check, outcome="failure",
                         details={"error": f"{type(exc).__name__}: {exc}"})
        raise
    with transaction.atomic():
        check.status, check.finished_at, check.per_rule = (CheckStatus.DONE, timezone.now(),
                                                           per_rule)
        check.save(update_fields=["status", "finished_at", "per_rule"])
        audit.append(actor, "compliance.check.finish", check,
                     details={"raised": sum(r["raised"] for r in per_rule.values()),
                              "resolved": sum(r["resolved"] for r in per_rule.values())})
    return check
