"""The viewing approval chain (查阅审批, EVD-2), disclosure requests (EVD-3) and the
approver for labelled items (EVD-4) — issue 5 items 3, 4 and 5.

A request names exactly the recordings it is for (:class:`RequestItem`); its steps come
from the profile in force (``viewing.chain``):

* ``unit_head_review`` (审核) — any unit head whose scope covers the requester's unit;
* ``leader_approval`` (批准) — the leader in charge (分管领导) of each case the items belong
  to, one step per distinct leader; items outside any case: any bureau leader;
* ``principal_leader_approval`` — the agency's principal leader (主要负责人);
* ``label_approval`` — added when an item (the recording, its activity or its case) carries
  a label above 一般: the approver the profile names (``viewing.label_approver``), placed
  before the custodian's registration;
* ``custodian_registration`` (登记) — any custodian of the agency registers viewer, reason and
  time; the approval of this step makes one :class:`Grant` per item.

No step is skipped silently: a step nobody can decide is refused when the request is made.
The requester never decides a step of their own request. Every change is audited in its
own transaction; the people who can decide an opened step get an inbox entry (and an
e-mail where the installation sends mail), sent after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from witness.access import authz, policy
from witness.access.labels import RESTRICTED, Label
from witness.access.models import (
    AccessRequest,
    ApprovalStep,
    Delivery,
    Grant,
    Notification,
    RecipientKind,
    RequestItem,
    RequestKind,
    RequestStatus,
    Step,
    StepState,
    active_grants,
)
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.org import services as org
from witness.org.models import Person, Role, RoleAssignment

log = logging.getLogger(__name__)

# The longest period one request may ask for. Neither regulation states one; Witness
# chose 90 days: long enough for a case's review, short enough that a forgotten grant
# lapses. A longer need is a new request.
MAX_PERIOD = timedelta(days=90)
# How far ahead a request may start.
MAX_LEAD = timedelta(days=90)
# The most recordings one request may name (an activity or a case gives all of theirs).
MAX_ITEMS = 1000

STEP_ROLE = {
    Step.UNIT_HEAD_REVIEW: Role.UNIT_HEAD,
    Step.LEADER_APPROVAL: Role.LEADER,
    Step.PRINCIPAL_LEADER_APPROVAL: Role.LEADER,
    Step.LABEL_APPROVAL: Role.LEADER,
    Step.CUSTODIAN_REGISTRATION: Role.CUSTODIAN,
}

# Inbox entries: kind -> text (parameters from the entry's details).
NOTICES = {
    "step_open": _("Request #%(request)s by %(requester)s waits for your decision: %(step)s."),
    "request_rejected": _("Your request #%(request)s was rejected at %(step)s by %(by)s: "
                          "%(note)s"),
    "request_granted": _("Your request #%(request)s is granted: %(count)s recordings from "
                         "%(from)s until %(until)s."),
    "grant_revoked": _("Your grant from request #%(request)s was revoked by %(by)s: "
                       "%(note)s"),
    # findings workflow (issue 6 item 2; witness.findings.workflow)
    "finding_explained": _("Finding #%(finding)s (%(rule)s) was explained by %(by)s; it "
                           "waits for your decision."),
    "finding_decided": _("Your explanation of finding #%(finding)s (%(rule)s): %(decision)s "
                         "by %(by)s. %(note)s"),
    # ACT-5 (B16): the department head is told of an interruption at once
    # (witness.compliance.rules.recordings)
    "finding_gap": _("Finding #%(finding)s: the recording of activity #%(activity)s "
                     "(device %(device)s) was interrupted for %(gap)s s; the officer must "
                     "explain why (B16)."),
}


# --- who decides ------------------------------------------------------------------------

def subject_for(person: Person) -> authz.Subject:
    """The authorisation subject of ``person`` (their roles now), for services called
    with a person rather than a signed-in user."""
    return authz.Subject(user=person.user if person.user_id else None, person=person,
                         roles=frozenset(org.roles_at(person)) if person.active else frozenset(),
                         agency=person.agency)


def _deciders_of_role(agency, role: str, unit):
    return org.people_with_role(role, unit=unit).filter(agency=agency)


def deciders(step: ApprovalStep):
    """The people who may decide ``step`` now (the requester excluded)."""
    request = step.request
    if step.approver_id is not None:
        qs = Person.objects.filter(pk=step.approver_id, active=True)
    else:
        qs = _deciders_of_role(request.agency, step.role, step.unit)
    return qs.exclude(pk=request.requester_id)


def may_decide(step: ApprovalStep, person: Person | None) -> bool:
    if person is None or person.pk == step.request.requester_id or not person.active:
        return False
    if person.agency_id != step.request.agency_id:
        return False
    if step.approver_id is not None:
        return person.pk == step.approver_id
    return _deciders_of_role(step.request.agency, step.role, step.unit).filter(
        pk=person.pk).exists()


def _scopes(person: Person) -> list[tuple[str, int]]:
    """(role, unit id) of each role ``person`` holds now, unscoped ones on their own unit."""
    rows = (RoleAssignment.objects.filter(org.active_q(timezone.now()), person=person)
            .order_by().values_list("role", "unit_id"))
    return [(role, unit_id if unit_id is not None else person.unit_id) for role, unit_id in rows]


def open_steps_for(person: Person | None):
    """Open steps ``person`` may decide, as one query (the inbox): named for them, or for a
    role they hold whose scope covers the step's unit; never of their own requests."""
    if person is None or not person.active:
        return ApprovalStep.objects.none()
    mine = Q(approver=person)
    for role, unit_id in _scopes(person):
        mine |= Q(approver__isnull=True, role=role) & (Q(unit__isnull=True) | Q(unit_id=unit_id))
    return (ApprovalStep.objects
            .filter(mine, state=StepState.OPEN, request__agency_id=person.agency_id,
                    request__status=RequestStatus.PENDING)
            .exclude(request__requester=person)
            .select_related("request__requester__unit", "unit", "approver"))


def notifications_for(person: Person, *, unread_only: bool = False):
    qs = Notification.objects.filter(person=person).select_related("request")
    return qs.filter(read_at__isnull=True) if unread_only else qs


def notice_text(notification: Notification) -> str:
    """The entry's text in the active language."""
    message = NOTICES.get(notification.kind)
    if message is None:
        return notification.kind
    params = dict(notification.details)
    step = params.get("step")
    if step:
        try:
            params["step"] = str(Step(step).label)
        except ValueError:
            pass
    decision = params.get("decision")
    if decision:
        from witness.findings.models import FindingStatus

        try:
            params["decision"] = str(FindingStatus(decision).label)
        except ValueError:
            pass
    try:
        return str(message) % params
    except (KeyError, TypeError, ValueError):
        return str(message)


def mark_read(person: Person, ids=None) -> int:
    """Mark ``person``'s inbox entries (all, or those of ``ids``) as read."""
    qs = Notification.objects.filter(person=person, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


# --- notifications ----------------------------------------------------------------------

def _mail_configured() -> bool:
    """Mail goes out where the installation configured a mail server (EMAIL_HOST other
    than Django's default ``localhost``) or another mail backend (tests: locmem)."""
    backend = getattr(settings, "EMAIL_BACKEND", "")
    if backend and backend != "django.core.mail.backends.smtp.EmailBackend":
        return True
    return bool(getattr(settings, "EMAIL_HOST", "")) and settings.EMAIL_HOST != "localhost"


def _mail_after_commit(address: str, kind: str, details: dict) -> None:
    message = NOTICES.get(kind)
    if message is None:
        return

    def text(language: str) -> str:
        with translation.override(language):
            return notice_text(Notification(kind=kind, details=details))

    def deliver():
        zh, en = text("zh-hans"), text("en")
        try:
            send_mail(f"见证 Witness: {zh}"[:150], f"{zh}\n\n{en}\n", None, [address],
                      fail_silently=False)
        except Exception:  # mail is a courtesy; the inbox has the entry
            log.warning("notification mail to %s failed", address, exc_info=True)

    transaction.on_commit(deliver)


def _notify(people, kind: str, request: AccessRequest, **details) -> list[Notification]:
    details = {"request": request.pk, "requester": request.requester.name, **details}
    people = list(people)
    rows = Notification.objects.bulk_create(
        [Notification(person=p, kind=kind, request=request, details=details) for p in people])
    if _mail_configured():
        for p in Person.objects.filter(pk__in=[p.pk for p in people]).select_related("user"):
            email = getattr(p.user, "email", "") if p.user_id else ""
            if email:
                _mail_after_commit(email, kind, details)
    return rows


# --- building the chain -----------------------------------------------------------------

@dataclass
class PlannedStep:
    step: str
    role: str
    unit: object = None
    approver: Person | None = None
    details: dict | None = None


def _item_context(recordings) -> list[dict]:
    """Per recording: its case and the restricted labels touching it (own, activity's,
    case's)."""
    out = []
    for r in recordings:
        activity = r.activity
        case = activity.case if activity is not None else None
        labels = {r.label}
        if activity is not None:
            labels.add(activity.label)
        if case is not None:
            labels.add(case.label)
        out.append({"recording": r, "case": case,
                    "labels": sorted(set(labels) & RESTRICTED)})
    return out


def _may_decide_at_all(person: Person) -> bool:
    return policy.may(frozenset(org.roles_at(person)), "request.decide")


def _named(person, requester, message, **params) -> Person:
    """A named approver: must exist, be active, hold a role that decides, not be the
    requester."""
    if person is None:
        raise Refused(message, code="no_approver", **params)
    if person.pk == requester.pk:
        raise Refused(_("%(name)s would decide a step of their own request "
                        "(%(step)s); the requester never approves their own request."),
                      code="own_request", name=person.name, step=params.get("step", ""))
    if not person.active or not _may_decide_at_all(person):
        raise Refused(_("%(name)s cannot decide the step %(step)s: no current role that "
                        "decides requests."), code="approver_cannot_decide",
                      name=person.name, step=params.get("step", ""))
    return person


def _label_steps(agency, profile, context, requester) -> list[PlannedStep]:
    """EVD-4: the label approver(s) for items labelled above 一般, one step per person."""
    labelled = [c for c in context if c["labels"]]
    if not labelled:
        return []
    step_label = Step.LABEL_APPROVAL.label
    by_person: dict[int, PlannedStep] = {}
    for c in labelled:
        approver = None
        if profile.viewing_label_approver == "leader_in_charge" and c["case"] is not None:
            approver = c["case"].leader_in_charge
        if approver is None:  # principal_leader, or an item outside any case
            approver = agency.principal_leader
            message = _("Item %(item)s is labelled; its approver is the principal leader, "
                        "and the agency has none set.")
        else:
            message = _("Item %(item)s is labelled; no approver for it.")
        approver = _named(approver, requester, message, item=c["recording"].pk,
                          step=step_label)
        planned = by_person.setdefault(approver.pk, PlannedStep(
            Step.LABEL_APPROVAL, Role.LEADER, approver=approver,
            details={"labels": [], "recordings": []}))
        planned.details["labels"] = sorted(set(planned.details["labels"]) | set(c["labels"]))
        planned.details["recordings"].append(c["recording"].pk)
    return list(by_person.values())


def plan(agency, profile, requester: Person, recordings) -> list[PlannedStep]:
    """The steps of a chain for ``requester`` asking for ``recordings`` under ``profile``;
    refuses (bilingual) where a step has nobody who can decide it."""
    context = _item_context(recordings)
    steps: list[PlannedStep] = []
    for name in profile.viewing_chain:
        label = Step(name).label
        if name == Step.UNIT_HEAD_REVIEW:
            unit = requester.unit
            if not _deciders_of_role(agency, Role.UNIT_HEAD, unit).exclude(
                    pk=requester.pk).exists():
                raise Refused(_("Nobody can review this request: the unit %(unit)s has no "
                                "unit head other than the requester."),
                              code="no_unit_head", unit=unit.name)
            steps.append(PlannedStep(name, Role.UNIT_HEAD, unit=unit))
        elif name == Step.LEADER_APPROVAL:
            leaders: dict[int, PlannedStep] = {}
            caseless = []
            for c in context:
                case = c["case"]
                if case is None:
                    caseless.append(c["recording"].pk)
                    continue
                leader = _named(case.leader_in_charge, requester,
                                _("Case %(case)s has no leader in charge."),
                                case=case.number, step=label)
                planned = leaders.setdefault(leader.pk, PlannedStep(
                    name, Role.LEADER, approver=leader, details={"cases": []}))
                if case.number not in planned.details["cases"]:
                    planned.details["cases"].append(case.number)
            steps.extend(leaders.values())
            if caseless:
                if not _deciders_of_role(agency, Role.LEADER, None).exclude(
                        pk=requester.pk).exists():
                    raise Refused(_("Nobody can approve this request: the agency has no "
                                    "bureau leader other than the requester."),
                                  code="no_leader")
                steps.append(PlannedStep(name, Role.LEADER,
                                         details={"recordings": caseless}))
        elif name == Step.PRINCIPAL_LEADER_APPROVAL:
            principal = _named(agency.principal_leader, requester,
                               _("The agency has no principal leader set."), step=label)
            steps.append(PlannedStep(name, Role.LEADER, approver=principal))
        elif name == Step.CUSTODIAN_REGISTRATION:
            steps.extend(_label_steps(agency, profile, context, requester))
            if not _deciders_of_role(agency, Role.CUSTODIAN, None).exclude(
                    pk=requester.pk).exists():
                raise Refused(_("Nobody can register this request: the agency has no "
                                "custodian other than the requester."), code="no_custodian")
            steps.append(PlannedStep(name, Role.CUSTODIAN))
    if Step.CUSTODIAN_REGISTRATION not in profile.viewing_chain:
        steps.extend(_label_steps(agency, profile, context, requester))
    if not steps:
        raise Refused(_("The profile in force names no viewing chain; nobody can approve "
                        "a request."), code="no_chain")
    return steps


# --- submitting ---------------------------------------------------------------------------

def _recordings_for(subject, agency, *, recordings, activity, case):
    from witness.activities.models import Case
    from witness.recordings.models import Recording

    given = [x for x in (recordings, activity, case) if x]
    if len(given) != 1:
        raise WitnessError(_("Name the recordings, one activity or one case to view."),
                           code="what_to_view")
    base = (Recording.objects.filter(ingest_run__agency=agency)
            .select_related("activity__case__leader_in_charge"))
    if recordings:
        ids = sorted({r.pk if hasattr(r, "pk") else int(r) for r in recordings})
        found = list(base.filter(pk__in=ids).order_by("pk"))
        missing = sorted(set(ids) - {r.pk for r in found})
        if missing:
            raise NotFound(_("No recording %(ids)s in this agency."), code="no_recording",
                           ids=", ".join(map(str, missing)))
        visible = set(authz.visible_recordings(subject).filter(pk__in=ids)
                      .values_list("pk", flat=True))
        outside = sorted(set(ids) - visible)
        if outside:
            raise authz.Denied(_("Recording %(ids)s is outside what you may see."),
                               code="scope", ids=", ".join(map(str, outside)))
        return found, None, None
    if activity is not None:
        if activity.agency_id != agency.pk or not authz.can_see_activity(subject, activity):
            raise authz.Denied(_("This activity is outside what you may see."), code="scope")
        return list(base.filter(activity=activity).order_by("pk")), activity, None
    if case.agency_id != agency.pk or not authz.visible_cases(
            subject, Case.objects.filter(pk=case.pk)).exists():
        raise authz.Denied(_("This case is outside what you may see."), code="scope")
    return list(base.filter(activity__case=case).order_by("pk")), None, case


def _check_period(wanted_from, wanted_until, now):
    if wanted_from is None or wanted_until is None:
        raise WitnessError(_("Give the period the viewing is wanted for."),
                           code="period_required")
    if wanted_until <= wanted_from:
        raise WitnessError(_("The wanted period must end after it starts."),
                           code="period_order")
    if wanted_until <= now:
        raise WitnessError(_("The wanted period is already over."), code="period_past")
    if wanted_until - wanted_from > MAX_PERIOD:
        raise WitnessError(_("A request may cover at most %(days)s days; ask again for a "
                             "longer need."), code="period_too_long", days=MAX_PERIOD.days)
    if wanted_from - now > MAX_LEAD:
        raise WitnessError(_("The wanted period may start at most %(days)s days ahead."),
                           code="period_too_far", days=MAX_LEAD.days)


def _check_disclosure(recipient_kind, recipient_name, delivery):
    if recipient_kind not in RecipientKind.values:
        raise WitnessError(_("Say to whom the recordings are to be given (the party, "
                             "another unit, a court)."), code="recipient_kind")
    if not recipient_name.strip():
        raise WitnessError(_("Name the recipient."), code="recipient_name")
    if delivery not in Delivery.values:
        raise WitnessError(_("Choose how the recordings are given: an export package or a "
                             "time-limited link."), code="delivery")


def _open(step: ApprovalStep, actor) -> None:
    step.state = StepState.OPEN
    step.save(update_fields=["state"])
    audit.append(actor, "request.step_open", step.request,
                 details={"step": step.step, "position": step.position})
    _notify(deciders(step), "step_open", step.request, step=step.step,
            step_id=step.pk)


@transaction.atomic
def submit(requester: Person, *, recordings=None, activity=None, case=None, reason: str = "",
           wanted_from=None, wanted_until=None, may_download: bool = False,
           kind: str = RequestKind.VIEWING, recipient_kind: str = "", recipient_name: str = "",
           recipient_org: str = "", delivery: str = "", actor=None) -> AccessRequest:
    """Ask to view (or to disclose, EVD-3) exactly the given recordings, or those of one
    activity or one case; builds the chain from the profile in force and opens its first
    step (EVD-2, EVD-4)."""
    from witness.profiles import services as profiles

    now = timezone.now()
    agency = requester.agency
    subject = subject_for(requester)
    action = "disclosure.create" if kind == RequestKind.DISCLOSURE else "request.create"
    if kind not in RequestKind.values:
        raise WitnessError(_("Unknown request kind: %(kind)s."), code="kind", kind=kind)
    authz.require(subject, action)
    reason = (reason or "").strip()
    if not reason:
        raise WitnessError(_("Give the reason for viewing (查阅事由)."), code="reason_required")
    _check_period(wanted_from, wanted_until, now)
    if kind == RequestKind.DISCLOSURE:
        _check_disclosure(recipient_kind, recipient_name or "", delivery)
    else:
        recipient_kind = recipient_name = recipient_org = delivery = ""
    items, activity, case = _recordings_for(subject, agency, recordings=recordings,
                                            activity=activity, case=case)
    if not items:
        raise WitnessError(_("There are no recordings to view here."), code="no_items")
    if len(items) > MAX_ITEMS:
        raise WitnessError(_("A request may name at most %(max)s recordings."),
                           code="too_many_items", max=MAX_ITEMS)
    secret = [c["recording"].pk for c in _item_context(items)
              if Label.STATE_SECRET in c["labels"]]
    if secret:
        raise Refused(_("Recording %(ids)s is marked as a state secret (国家秘密); its content "
                        "is not given out on this system."), code="state_secret",
                      ids=", ".join(map(str, secret)))
    _version, profile = profiles.active(agency)
    planned = plan(agency, profile, requester, items)
    request = AccessRequest.objects.create(
        agency=agency, kind=kind, requester=requester, reason=reason, wanted_from=wanted_from,
        wanted_until=wanted_until, may_download=may_download, activity=activity, case=case,
        recipient_kind=recipient_kind, recipient_name=(recipient_name or "").strip(),
        recipient_org=(recipient_org or "").strip(), delivery=delivery,
        created_by=actor if hasattr(actor, "get_username") else None, created_at=now)
    RequestItem.objects.bulk_create([RequestItem(request=request, recording=r) for r in items])
    steps = [ApprovalStep(request=request, position=i, step=p.step, role=p.role, unit=p.unit,
                          approver=p.approver, details=p.details or {})
             for i, p in enumerate(planned, start=1)]
    ApprovalStep.objects.bulk_create(steps)
    audit.append(actor, "request.submit", request, details={
        "kind": kind, "requester": requester.name, "reason": reason,
        "recordings": [r.pk for r in items], "wanted_from": wanted_from.isoformat(),
        "wanted_until": wanted_until.isoformat(), "may_download": may_download,
        "chain": [s.step for s in steps], "recipient": request.recipient_name})
    _open(request.steps.order_by("position").first(), actor)
    return request


# --- deciding ---------------------------------------------------------------------------

def _locked(request: AccessRequest) -> AccessRequest:
    return AccessRequest.objects.select_for_update().select_related(
        "requester", "agency").get(pk=request.pk)


def _ensure_label_steps(request: AccessRequest, actor) -> list[ApprovalStep]:
    """EVD-4: a label set after the request was made adds the label approver before the
    custodian's registration (the steps after it move down one place)."""
    from witness.profiles import services as profiles
    from witness.recordings.models import Recording

    items = list(Recording.objects.filter(pk__in=request.items.values("recording_id"))
                 .select_related("activity__case__leader_in_charge"))
    _version, profile = profiles.active(request.agency)
    needed = _label_steps(request.agency, profile, _item_context(items), request.requester)
    have = {s.approver_id: s for s in request.steps.filter(step=Step.LABEL_APPROVAL)
            .order_by("position")}
    added = []
    for planned in needed:
        existing = have.get(planned.approver.pk)
        if existing is not None:
            if not set(planned.details["recordings"]) - set(
                    existing.details.get("recordings", [])):
                continue  # every labelled item is already before this approver
            if existing.state in (StepState.WAITING, StepState.OPEN):
                existing.details = planned.details
                existing.save(update_fields=["details"])
                continue
            # approved before the new label: the approver decides again on the new items
        registration = request.steps.filter(step=Step.CUSTODIAN_REGISTRATION).first()
        if registration is not None:
            position = registration.position
            for later in request.steps.filter(position__gte=position).order_by("-position"):
                later.position += 1
                if later.state == StepState.OPEN:
                    later.state = StepState.WAITING
                later.save(update_fields=["position", "state"])
        else:
            position = (request.steps.order_by("-position").values_list(
                "position", flat=True).first() or 0) + 1
        step = ApprovalStep.objects.create(
            request=request, position=position, step=Step.LABEL_APPROVAL, role=Role.LEADER,
            approver=planned.approver, details=planned.details)
        audit.append(actor, "request.step_add", request, details={
            "step": step.step, "position": position, "approver": planned.approver.name,
            "labels": planned.details["labels"]})
        added.append(step)
    return added


@transaction.atomic
def on_label_change(obj, *, actor=None) -> list[AccessRequest]:
    """EVD-4: after the label of a recording, an activity or a case changed, add the label
    approver to every request still in approval that touches it (before the custodian's
    registration; an open registration waits). Returns the requests that got a step. The
    registration checks again in any case, so a caller that does not call this loses
    nothing but the early notice."""
    from witness.activities.models import Activity, Case

    if isinstance(obj, Case):
        touching = Q(items__recording__activity__case=obj)
    elif isinstance(obj, Activity):
        touching = Q(items__recording__activity=obj)
    else:
        touching = Q(items__recording=obj)
    changed = []
    pending = (AccessRequest.objects.filter(touching, status=RequestStatus.PENDING)
               .select_related("requester", "agency").distinct())
    for request in pending:
        try:
            with transaction.atomic():  # one request's refusal leaves the others alone
                request = _locked(request)
                if _ensure_label_steps(request, actor):
                    if not request.steps.filter(state=StepState.OPEN).exists():
                        _open(_next_step(request), actor)
                    changed.append(request)
        except WitnessError:
            # no label approver who may decide (none set, or the requester): the
            # registration refuses later with the reason; the label change stands
            continue
    return changed


def _next_step(request: AccessRequest) -> ApprovalStep | None:
    return request.steps.filter(state=StepState.WAITING).order_by("position").first()


def _ended(request: AccessRequest, status: str) -> None:
    now = timezone.now()
    request.status = status
    request.decided_at = now
    request.save(update_fields=["status", "decided_at"])
    request.steps.filter(state__in=[StepState.WAITING, StepState.OPEN]).update(
        state=StepState.CANCELLED)


def _grant(request: AccessRequest, registration: ApprovalStep, actor) -> list[Grant]:
    now = timezone.now()
    valid_from = max(now, request.wanted_from)
    if request.wanted_until <= valid_from:
        raise Refused(_("The period this request wanted ended on %(until)s; reject it, and "
                        "the requester may ask again."), code="period_over",
                      until=timezone.localtime(request.wanted_until).strftime("%Y-%m-%d %H:%M"))
    person = request.requester if request.kind == RequestKind.VIEWING else None
    grants = Grant.objects.bulk_create([
        Grant(request=request, person=person, recording_id=rec_id,
              may_download=request.may_download, valid_from=valid_from,
              valid_until=request.wanted_until, created_at=now)
        for rec_id in request.items.order_by("recording_id").values_list("recording_id",
                                                                         flat=True)])
    audit.append(actor, "grant.create", request, details={
        "viewer": person.name if person else request.recipient_name,
        "recordings": [g.recording_id for g in grants], "may_download": request.may_download,
        "valid_from": valid_from.isoformat(), "valid_until": request.wanted_until.isoformat()})
    return grants


@transaction.atomic
def decide(step: ApprovalStep, person: Person, approve: bool, note: str = "", *,
           actor=None) -> ApprovalStep:
    """Approve or reject one open step (EVD-2). Only its approver, or a holder of its role
    whose scope covers its unit, decides; never the requester. A rejection needs a reason
    and ends the request; the approval of the custodian's registration grants exactly the
    request's items for the period asked."""
    request = _locked(step.request)
    step = ApprovalStep.objects.select_for_update().get(pk=step.pk)
    step.request = request
    note = (note or "").strip()
    subject = subject_for(person)
    authz.require(subject, "request.decide")
    if person.pk == request.requester_id:
        raise Refused(_("You cannot decide a step of your own request."), code="own_request")
    if request.status != RequestStatus.PENDING or step.state != StepState.OPEN:
        raise Refused(_("This step is not open for a decision (%(state)s)."),
                      code="step_not_open", state=step.get_state_display())
    if not may_decide(step, person):
        raise authz.Denied(_("This step is not yours to decide."), code="not_approver")
    if not approve and not note:
        raise WitnessError(_("Give the reason for the rejection."), code="reason_required")
    now = timezone.now()
    if approve and step.step == Step.CUSTODIAN_REGISTRATION:
        # A label set meanwhile adds its approver first (EVD-4): the registration waits.
        if _ensure_label_steps(request, actor):
            _open(_next_step(request), actor)
            return ApprovalStep.objects.get(pk=step.pk)
        step.details = {**step.details, "viewer": request.requester.name,
                        "viewer_badge": request.requester.badge_number or "",
                        "reason": request.reason, "time": now.isoformat(),
                        "registered_by": person.name}
    step.state = StepState.APPROVED if approve else StepState.REJECTED
    step.decided_by, step.decided_at, step.note = person, now, note
    step.save(update_fields=["state", "decided_by", "decided_at", "note", "details"])
    audit.append(actor, "request.register" if step.step == Step.CUSTODIAN_REGISTRATION
                 and approve else "request.decide", request, details={
                     "step": step.step, "position": step.position,
                     "decision": "approve" if approve else "reject", "note": note,
                     "by": person.name})
    if not approve:
        _ended(request, RequestStatus.REJECTED)
        _notify([request.requester], "request_rejected", request, step=step.step,
                by=person.name, note=note)
        return step
    if step.step == Step.CUSTODIAN_REGISTRATION:
        grants = _grant(request, step, actor)
        _ended(request, RequestStatus.GRANTED)
        _notify([request.requester], "request_granted", request, count=len(grants),
                **{"from": timezone.localtime(grants[0].valid_from).strftime("%Y-%m-%d %H:%M"),
                   "until": timezone.localtime(grants[0].valid_until).strftime(
                       "%Y-%m-%d %H:%M")})
        return step
    if _next_step(request) is not None and request.steps.filter(
            state=StepState.WAITING, step=Step.CUSTODIAN_REGISTRATION).exists():
        _ensure_label_steps(request, actor)
    following = _next_step(request)
    if following is not None:
        _open(following, actor)
    else:  # a chain without registration (a custom profile): the last approval grants
        _grant(request, step, actor)
        _ended(request, RequestStatus.GRANTED)
        _notify([request.requester], "request_granted", request, count=request.items.count(),
                **{"from": "", "until": ""})
    return step


@transaction.atomic
def withdraw(request: AccessRequest, person: Person, *, actor=None) -> AccessRequest:
    """The requester withdraws a request still in approval."""
    request = _locked(request)
    if person.pk != request.requester_id:
        raise authz.Denied(_("Only the requester may withdraw a request."), code="not_requester")
    if request.status != RequestStatus.PENDING:
        raise Refused(_("This request is no longer in approval (%(status)s)."),
                      code="not_pending", status=request.get_status_display())
    _ended(request, RequestStatus.WITHDRAWN)
    audit.append(actor, "request.withdraw", request, details={"by": person.name})
    return request


# --- grants -----------------------------------------------------------------------------

def may_revoke(person: Person | None, request: AccessRequest) -> bool:
    """A custodian or bureau leader of the agency, or a unit head of the requester's unit;
    the role must allow ``grant.revoke`` (policy)."""
    if person is None or person.agency_id != request.agency_id:
        return False
    subject = subject_for(person)
    if not subject.may("grant.revoke"):
        return False
    if subject.roles & {Role.CUSTODIAN, Role.LEADER}:
        return True
    return Role.UNIT_HEAD in subject.roles and request.requester.unit_id in subject.head_units


@transaction.atomic
def revoke(target, person: Person, reason: str, *, actor=None) -> list[Grant]:
    """Revoke a grant, or every grant of a request still in force (reason required)."""
    request = target if isinstance(target, AccessRequest) else target.request
    request = _locked(request)
    reason = (reason or "").strip()
    if not may_revoke(person, request):
        raise authz.Denied(_("You may not revoke this grant."), code="not_revoker")
    if not reason:
        raise WitnessError(_("Give the reason for revoking."), code="reason_required")
    now = timezone.now()
    qs = Grant.objects.select_for_update().filter(request=request, revoked_at__isnull=True,
                                                  valid_until__gt=now)
    if isinstance(target, Grant):
        qs = qs.filter(pk=target.pk)
    grants = list(qs)
    if not grants:
        raise Refused(_("There is no grant in force to revoke."), code="nothing_to_revoke")
    Grant.objects.filter(pk__in=[g.pk for g in grants]).update(
        revoked_at=now, revoked_by=person, revoke_reason=reason)
    audit.append(actor, "grant.revoke", request, details={
        "grants": [g.pk for g in grants], "recordings": [g.recording_id for g in grants],
        "reason": reason, "by": person.name})
    if request.requester_id:
        _notify([request.requester], "grant_revoked", request, by=person.name, note=reason)
    for g in grants:
        g.revoked_at, g.revoked_by, g.revoke_reason = now, person, reason
    return grants


def expired_grants(agency=None, at=None):
    """Grants whose period ended (not revoked); expiry is by time, nothing to run."""
    at = at or timezone.now()
    qs = Grant.objects.filter(valid_until__lte=at, revoked_at__isnull=True)
    return qs.filter(request__agency=agency) if agency is not None else qs


def grants_in_force(agency=None, at=None):
    qs = active_grants(at)
    return qs.filter(request__agency=agency) if agency is not None else qs


# --- who sees a request ------------------------------------------------------------------

def register_scope_q(subject: authz.Subject, prefix: str = "") -> Q:
    """Requests of the register ``subject`` may read: custodians, leaders and the legal
    role the agency's; unit heads those of their units' people."""
    if not subject.may("register.view") or subject.agency is None:
        return Q(pk__in=[])
    q = Q(**{f"{prefix}agency": subject.agency})
    if subject.roles & {Role.CUSTODIAN, Role.LEADER, Role.LEGAL}:
        return q
    return q & Q(**{f"{prefix}requester__unit__in": subject.head_units})


def can_view_request(subject: authz.Subject, request: AccessRequest) -> bool:
    """The requester, anyone who may decide or decided one of its steps, and those whose
    register scope covers it."""
    person = subject.person
    if person is None or person.agency_id != request.agency_id:
        return False
    if person.pk == request.requester_id:
        return True
    if AccessRequest.objects.filter(register_scope_q(subject), pk=request.pk).exists():
        return True
    if request.steps.filter(Q(approver=person) | Q(decided_by=person)).exists():
        return True
    return open_steps_for(person).filter(request=request).exists()
