"""Review campaigns (评查, SUP-1; inspections, SUP-3): create, sample, approve, score, close.

**Who.** The legal and supervision role (法规股, ``review.manage``) creates a campaign,
draws its sample and closes it; a bureau leader (``review.approve``) approves it; its
reviewers (``review.score``, any enforcement staff named as reviewer) see the approved
campaigns they review and score their items. Every step is audited in its transaction.

**The sample** (``per_unit``, ``per_officer``; counts, not fractions — a fraction of a
small unit's activities would be zero, and a count is what a review plan states):

1. The candidates are the agency's activities of the campaign's units whose arrival falls
   in the period (local days, ``period_from`` 00:00 to the day after ``period_to``),
   ordered by (unit id, activity id) — an order no later edit of an activity changes.
2. ``rng = random.Random(seed)``; for each unit of the campaign in id order,
   ``rng.sample(pool, min(per_unit, len(pool)))`` of that unit's candidates (stratum
   *unit*). ``per_unit`` is at least 1, so every unit with activities gets an item.
3. Then for each officer on any candidate, in person-id order: while they are on fewer
   than ``per_officer`` sampled activities, ``rng.sample`` of their candidates not yet
   sampled makes up the difference (stratum *officer*, with the officer named).

The same seed, parameters and candidates give the same sample (:func:`draw` is pure); the
seed is stored, so anyone can draw it again and compare.

**Viewing.** Approval makes, for each reviewer, one access request of kind ``review``,
granted, whose items are exactly the recordings of the sampled activities, with its
approval step (the leader's) and one :class:`~witness.access.models.Grant` per recording
until the campaign's ``valid_until`` (at most ``chain.MAX_PERIOD`` ahead): the only way a
reviewer gets to the content, through the same player and grant check as any viewer.
Recordings labelled above 一般 (own, activity's or case's label; EVD-4) are granted only
when the approving leader is the label approver the profile names for them, and state
secrets never; the others are withheld and listed in the approval's audit entry. Closing
the campaign revokes the grants still in force.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz, chain, policy
from witness.access.chain import MAX_PERIOD
from witness.access.labels import RESTRICTED, Label
from witness.access.models import (
    AccessRequest,
    ApprovalStep,
    Grant,
    RequestItem,
    RequestKind,
    RequestStatus,
    Step,
    StepState,
)
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.org import services as org
from witness.org.models import Person, Role, Unit

from .models import (
    Campaign,
    CampaignItem,
    CampaignKind,
    CampaignStatus,
    Criterion,
    Result,
    Score,
    Stratum,
)

MAX_PER_STRATUM = 100
SEED_LIMIT = 2**31


@dataclass(frozen=True)
class Pick:
    activity_id: int
    stratum: str
    unit_id: int
    officer_id: int | None = None


def _actor(subject: authz.Subject):
    return subject.user if getattr(subject.user, "is_authenticated", False) else subject.person


def _person(subject: authz.Subject) -> Person:
    if subject.person is None or subject.agency is None:
        raise authz.Denied(_("Your account is not linked to a person of the agency."),
                           code="no_person")
    return subject.person


def day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min),
                               timezone.get_default_timezone())


# --- who sees what ----------------------------------------------------------------------

def visible_campaigns(subject: authz.Subject) -> QuerySet:
    """Legal and leaders: the agency's campaigns; anyone else: the approved or closed
    campaigns they review."""
    if not subject.may("review.score") or subject.agency is None or subject.person is None:
        return Campaign.objects.none()
    qs = Campaign.objects.filter(agency=subject.agency)
    if subject.roles & {Role.LEGAL, Role.LEADER}:
        return qs
    return qs.filter(reviewers=subject.person,
                     status__in=[CampaignStatus.APPROVED, CampaignStatus.CLOSED])


def campaign_for(subject: authz.Subject, pk) -> Campaign:
    found = visible_campaigns(subject).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("There is no review campaign with the number %(pk)s."),
                       code="no_campaign", pk=pk)
    return found


def item_for(subject: authz.Subject, pk) -> CampaignItem:
    found = (CampaignItem.objects.select_related("campaign", "activity", "unit")
             .filter(pk=pk, campaign__in=visible_campaigns(subject)).first())
    if found is None:
        raise NotFound(_("There is no sampled activity with the number %(pk)s."),
                       code="no_item", pk=pk)
    return found


def is_reviewer(subject: authz.Subject, campaign: Campaign) -> bool:
    return subject.person is not None and campaign.reviewers.filter(
        pk=subject.person.pk).exists()


# --- create -----------------------------------------------------------------------------

def _check_reviewers(agency, reviewers) -> list[Person]:
    people = list(reviewers)
    if not people:
        raise WitnessError(_("Name at least one reviewer."), code="no_reviewers")
    for p in people:
        if p.agency_id != agency.pk or not p.active:
            raise WitnessError(_("%(name)s is not an active member of this agency."),
                               code="bad_reviewer", name=p.name)
        roles = frozenset(org.roles_at(p))
        if not (policy.may(roles, "review.score") and policy.may(roles, "recording.play")):
            raise WitnessError(_("%(name)s holds no role that may review recordings."),
                               code="bad_reviewer", name=p.name)
        if not p.user_id:
            raise WitnessError(_("%(name)s has no user account to sign in and review with."),
                               code="bad_reviewer", name=p.name)
    return people


def _check_valid_until(valid_until: datetime, now: datetime) -> None:
    if valid_until <= now:
        raise WitnessError(_("The viewing must end in the future."), code="valid_until")
    if valid_until - now > MAX_PERIOD:
        raise WitnessError(_("Viewing may last at most %(days)s days from now."),
                           code="valid_until", days=MAX_PERIOD.days)


@transaction.atomic
def create_campaign(subject: authz.Subject, *, name: str, kind: str, period_from: date,
                    period_to: date, units, reviewers, valid_until: datetime,
                    per_unit: int = 3, per_officer: int = 1, seed: int | None = None,
                    note: str = "") -> Campaign:
    authz.require(subject, "review.manage")
    person = _person(subject)
    agency = subject.agency
    name = (name or "").strip()
    if not name:
        raise WitnessError(_("Give the campaign a name."), code="name_required")
    if kind not in CampaignKind.values:
        raise WitnessError(_("Unknown campaign kind: %(kind)s."), code="bad_kind", kind=kind)
    if period_to < period_from:
        raise WitnessError(_("The period must end on or after its first day."),
                           code="period_order")
    units = list(units)
    if not units:
        raise WitnessError(_("Choose at least one unit."), code="no_units")
    if any(u.agency_id != agency.pk for u in units):
        raise WitnessError(_("Every unit must belong to this agency."), code="bad_unit")
    if not 1 <= per_unit <= MAX_PER_STRATUM or not 0 <= per_officer <= MAX_PER_STRATUM:
        raise WitnessError(_("Activities per unit must be 1 to %(max)s and per officer 0 to "
                             "%(max)s."), code="bad_size", max=MAX_PER_STRATUM)
    if seed is None:
        seed = secrets.randbelow(SEED_LIMIT)
    elif not 0 <= seed < SEED_LIMIT:
        raise WitnessError(_("The seed must be a whole number from 0 to %(max)s."),
                           code="bad_seed", max=SEED_LIMIT - 1)
    people = _check_reviewers(agency, reviewers)
    _check_valid_until(valid_until, timezone.now())
    campaign = Campaign.objects.create(
        agency=agency, name=name, kind=kind, period_from=period_from, period_to=period_to,
        per_unit=per_unit, per_officer=per_officer, seed=seed, valid_until=valid_until,
        note=(note or "").strip(), created_by=person)
    campaign.units.set(units)
    campaign.reviewers.set(people)
    audit.append(_actor(subject), "review.campaign.create", campaign, details={
        "name": name, "kind": kind, "period_from": period_from.isoformat(),
        "period_to": period_to.isoformat(), "units": sorted(u.pk for u in units),
        "per_unit": per_unit, "per_officer": per_officer, "seed": seed,
        "reviewers": [p.name for p in people], "valid_until": valid_until.isoformat()})
    return campaign


# --- sample -----------------------------------------------------------------------------

def candidates(campaign: Campaign) -> QuerySet:
    """The activities the sample is drawn from (see the module's text)."""
    from witness.activities.models import Activity

    return Activity.objects.filter(
        agency=campaign.agency, unit__in=campaign.units.all(),
        arrived_at__gte=day_start(campaign.period_from),
        arrived_at__lt=day_start(campaign.period_to + timedelta(days=1)))


def draw(campaign: Campaign) -> list[Pick]:
    """The sample of ``campaign`` from its seed: pure, two queries, same answer each time
    for the same candidates."""
    from witness.activities.models import ActivityOfficer

    pool_qs = candidates(campaign)
    by_unit: dict[int, list[int]] = defaultdict(list)
    for activity_id, unit_id in pool_qs.order_by("unit_id", "id").values_list("id",
                                                                               "unit_id"):
        by_unit[unit_id].append(activity_id)
    unit_of = {a: u for u, ids in by_unit.items() for a in ids}
    rng = random.Random(campaign.seed)  # noqa: S311 - reproducible by design, not a secret
    picks: list[Pick] = []
    taken: set[int] = set()
    for unit_id in sorted(campaign.units.values_list("pk", flat=True)):
        pool = by_unit.get(unit_id, [])
        for activity_id in rng.sample(pool, min(campaign.per_unit, len(pool))):
            picks.append(Pick(activity_id, Stratum.UNIT, unit_id))
            taken.add(activity_id)
    if campaign.per_officer:
        of_officer: dict[int, list[int]] = defaultdict(list)
        for person_id, activity_id in (ActivityOfficer.objects
                                       .filter(activity__in=pool_qs.values("id"))
                                       .order_by("person_id", "activity_id")
                                       .values_list("person_id", "activity_id")):
            of_officer[person_id].append(activity_id)
        for person_id in sorted(of_officer):
            theirs = of_officer[person_id]
            need = campaign.per_officer - sum(1 for a in theirs if a in taken)
            if need <= 0:
                continue
            pool = [a for a in theirs if a not in taken]
            for activity_id in rng.sample(pool, min(need, len(pool))):
                picks.append(Pick(activity_id, Stratum.OFFICER, unit_of[activity_id],
                                  person_id))
                taken.add(activity_id)
    return picks


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().select_related("agency").get(pk=campaign.pk)


def _draft(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise Refused(_("This campaign is %(status)s; only a draft can be changed."),
                      code="not_draft", status=campaign.get_status_display())


@transaction.atomic
def sample(subject: authz.Subject, campaign: Campaign) -> list[CampaignItem]:
    """Draw the sample once, for a draft campaign."""
    authz.require(subject, "review.manage")
    _person(subject)
    campaign = _locked(campaign)
    if campaign.agency_id != subject.agency.pk:
        raise NotFound(_("There is no review campaign with the number %(pk)s."),
                       code="no_campaign", pk=campaign.pk)
    _draft(campaign)
    if campaign.items.exists():
        raise Refused(_("The sample of this campaign is drawn already (seed %(seed)s)."),
                      code="sampled", seed=campaign.seed)
    picks = draw(campaign)
    if not picks:
        raise Refused(_("No activities of these units in this period: nothing to sample."),
                      code="nothing_to_sample")
    items = CampaignItem.objects.bulk_create([
        CampaignItem(campaign=campaign, activity_id=p.activity_id, stratum=p.stratum,
                     unit_id=p.unit_id, officer_id=p.officer_id, position=i)
        for i, p in enumerate(picks, start=1)])
    campaign.sampled_at = timezone.now()
    campaign.save(update_fields=["sampled_at"])
    per_unit: dict[str, int] = defaultdict(int)
    for p in picks:
        per_unit[str(p.unit_id)] += 1
    audit.append(_actor(subject), "review.campaign.sample", campaign, details={
        "seed": campaign.seed, "per_unit": campaign.per_unit,
        "per_officer": campaign.per_officer, "items": len(items),
        "activities": [p.activity_id for p in picks], "by_unit": dict(per_unit)})
    return items


# --- approve: the viewing grants ----------------------------------------------------------

def _label_approver_id(agency, profile, recording) -> int | None:
    case = recording.activity.case if recording.activity_id else None
    if profile.viewing_label_approver == "leader_in_charge" and case is not None:
        return case.leader_in_charge_id
    return agency.principal_leader_id


def _grantable(campaign: Campaign, leader: Person):
    """(recordings to grant, recordings withheld with why) of the sampled activities."""
    from witness.profiles import services as profiles
    from witness.recordings.models import Recording

    recordings = list(Recording.objects.filter(
        activity__in=campaign.items.values("activity_id"))
        .select_related("activity__case").order_by("id"))
    _version, profile = profiles.active(campaign.agency)
    granted, withheld = [], []
    for r in recordings:
        labels = {r.label, r.activity.label}
        if r.activity.case is not None:
            labels.add(r.activity.case.label)
        if Label.STATE_SECRET in labels:
            withheld.append({"recording": r.pk, "why": "state_secret"})
        elif labels & RESTRICTED and _label_approver_id(
                campaign.agency, profile, r) != leader.pk:
            withheld.append({"recording": r.pk, "why": "label",
                             "labels": sorted(labels & RESTRICTED)})
        else:
            granted.append(r)
    return granted, withheld


@transaction.atomic
def approve(subject: authz.Subject, campaign: Campaign) -> Campaign:
    authz.require(subject, "review.approve")
    leader = _person(subject)
    campaign = _locked(campaign)
    if campaign.agency_id != subject.agency.pk:
        raise NotFound(_("There is no review campaign with the number %(pk)s."),
                       code="no_campaign", pk=campaign.pk)
    _draft(campaign)
    if not campaign.items.exists():
        raise Refused(_("Draw the sample before the campaign is approved."),
                      code="not_sampled")
    # checked again: a reviewer may have left or lost their role since the campaign was made
    reviewers = _check_reviewers(campaign.agency, campaign.reviewers.order_by("pk"))
    if leader.pk in {r.pk for r in reviewers}:
        raise Refused(_("You are a reviewer of this campaign; another leader approves it."),
                      code="own_request")
    now = timezone.now()
    _check_valid_until(campaign.valid_until, now)
    granted, withheld = _grantable(campaign, leader)
    actor = _actor(subject)
    reason = f"评查：{campaign.name}（#{campaign.pk}）"
    for reviewer in reviewers:
        request = AccessRequest.objects.create(
            agency=campaign.agency, kind=RequestKind.REVIEW, requester=reviewer,
            reason=reason, wanted_from=now, wanted_until=campaign.valid_until,
            may_download=False, status=RequestStatus.GRANTED, decided_at=now,
            created_by=subject.user if getattr(subject.user, "is_authenticated", False)
            else None)
        RequestItem.objects.bulk_create([RequestItem(request=request, recording=r)
                                         for r in granted])
        ApprovalStep.objects.create(
            request=request, position=1, step=Step.LEADER_APPROVAL, role=Role.LEADER,
            approver=leader, state=StepState.APPROVED, decided_by=leader, decided_at=now,
            note=reason, details={"campaign": campaign.pk})
        grants = Grant.objects.bulk_create([
            Grant(request=request, person=reviewer, recording=r, may_download=False,
                  valid_from=now, valid_until=campaign.valid_until, created_at=now)
            for r in granted])
        campaign.access_requests.add(request)
        chain._notify([reviewer], "request_granted", request, count=len(grants), **{
            "from": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
            "until": timezone.localtime(campaign.valid_until).strftime("%Y-%m-%d %H:%M")})
        audit.append(actor, "grant.create", request, details={
            "viewer": reviewer.name, "recordings": [g.recording_id for g in grants],
            "may_download": False, "valid_from": now.isoformat(),
            "valid_until": campaign.valid_until.isoformat(), "campaign": campaign.pk})
    campaign.status, campaign.approved_by, campaign.approved_at = (
        CampaignStatus.APPROVED, leader, now)
    campaign.save(update_fields=["status", "approved_by", "approved_at"])
    audit.append(actor, "review.campaign.approve", campaign, details={
        "by": leader.name, "reviewers": [r.name for r in reviewers],
        "recordings": [r.pk for r in granted], "withheld": withheld,
        "valid_until": campaign.valid_until.isoformat()})
    return campaign


# --- score ------------------------------------------------------------------------------

def current_scores(qs: QuerySet | None = None) -> QuerySet:
    """The scores in force: no later score of the same item, reviewer and criterion."""
    qs = Score.objects.all() if qs is None else qs
    later = Score.objects.filter(item=OuterRef("item"), reviewer=OuterRef("reviewer"),
                                 criterion=OuterRef("criterion")).filter(
        Q(scored_at__gt=OuterRef("scored_at"))
        | Q(scored_at=OuterRef("scored_at"), id__gt=OuterRef("id")))
    return qs.filter(~Exists(later))


@transaction.atomic
def score(subject: authz.Subject, item: CampaignItem, results: dict[str, str],
          notes: dict[str, str] | None = None) -> list[Score]:
    """A reviewer's results for some or all criteria of one item; a fail needs a note."""
    authz.require(subject, "review.score")
    reviewer = _person(subject)
    campaign = _locked(item.campaign)
    if campaign.agency_id != subject.agency.pk or not is_reviewer(subject, campaign):
        raise authz.Denied(_("You are not a reviewer of this campaign."),
                           code="not_reviewer")
    if campaign.status != CampaignStatus.APPROVED:
        raise Refused(_("This campaign is %(status)s; scores are given while it is "
                        "approved."), code="not_open", status=campaign.get_status_display())
    if item.activity.officers.filter(person=reviewer).exists():
        raise Refused(_("You were an officer of this activity; another reviewer scores it."),
                      code="own_activity")
    notes = {k: (v or "").strip() for k, v in (notes or {}).items()}
    results = {k: v for k, v in results.items() if v}
    if not results:
        raise WitnessError(_("Give a result for at least one criterion."),
                           code="no_results")
    for criterion, result in results.items():
        if criterion not in Criterion.values:
            raise WitnessError(_("Unknown criterion: %(criterion)s."), code="bad_criterion",
                               criterion=criterion)
        if result not in Result.values:
            raise WitnessError(_("Unknown result: %(result)s."), code="bad_result",
                               result=result)
        if result == Result.FAIL and not notes.get(criterion):
            raise WitnessError(_("Say what was wrong: a fail of %(criterion)s needs a "
                                 "note."), code="note_required",
                               criterion=Criterion(criterion).label)
    now = timezone.now()
    rows = Score.objects.bulk_create([
        Score(item=item, reviewer=reviewer, criterion=c, result=r, note=notes.get(c, ""),
              scored_at=now)
        for c, r in sorted(results.items())])
    audit.append(_actor(subject), "review.score", item, details={
        "campaign": campaign.pk, "activity": item.activity_id, "reviewer": reviewer.name,
        "results": dict(sorted(results.items())),
        "notes": {c: n for c, n in notes.items() if n and c in results}})
    return rows


# --- close ------------------------------------------------------------------------------

@transaction.atomic
def close(subject: authz.Subject, campaign: Campaign, note: str = "") -> Campaign:
    """End the campaign: its viewing grants still in force are revoked."""
    authz.require(subject, "review.manage")
    person = _person(subject)
    campaign = _locked(campaign)
    if campaign.agency_id != subject.agency.pk:
        raise NotFound(_("There is no review campaign with the number %(pk)s."),
                       code="no_campaign", pk=campaign.pk)
    if campaign.status != CampaignStatus.APPROVED:
        raise Refused(_("Only an approved campaign can be closed (this one is %(status)s)."),
                      code="not_approved", status=campaign.get_status_display())
    now = timezone.now()
    actor = _actor(subject)
    reason = f"评查结束：{campaign.name}（#{campaign.pk}）"
    revoked = 0
    for request in campaign.access_requests.order_by("pk"):
        qs = Grant.objects.filter(request=request, revoked_at__isnull=True,
                                  valid_until__gt=now)
        ids = list(qs.values_list("pk", flat=True))
        if not ids:
            continue
        recordings = list(qs.order_by("recording_id").values_list("recording_id", flat=True))
        Grant.objects.filter(pk__in=ids).update(revoked_at=now, revoked_by=person,
                                                revoke_reason=reason)
        revoked += len(ids)
        audit.append(actor, "grant.revoke", request, details={
            "grants": ids, "recordings": recordings, "reason": reason, "by": person.name})
    scored = (current_scores(Score.objects.filter(item__campaign=campaign))
              .values("item_id").distinct().count())
    campaign.status, campaign.closed_by, campaign.closed_at = (
        CampaignStatus.CLOSED, person, now)
    campaign.save(update_fields=["status", "closed_by", "closed_at"])
    audit.append(actor, "review.campaign.close", campaign, details={
        "by": person.name, "items": campaign.items.count(), "scored_items": scored,
        "grants_revoked": revoked, "note": (note or "").strip()})
    return campaign


# --- reading ----------------------------------------------------------------------------

def items_of(campaign: Campaign) -> QuerySet:
    return (CampaignItem.objects.filter(campaign=campaign)
            .select_related("activity", "unit", "officer").order_by("position"))


def campaign_json(c: Campaign) -> dict:
    return {
        "id": c.pk, "name": c.name, "kind": c.kind, "status": c.status,
        "period_from": c.period_from.isoformat(), "period_to": c.period_to.isoformat(),
        "units": [u.code for u in c.units.order_by("code")],
        "per_unit": c.per_unit, "per_officer": c.per_officer, "seed": c.seed,
        "reviewers": [p.name for p in c.reviewers.order_by("pk")],
        "valid_until": c.valid_until.isoformat(), "created_by": c.created_by.name,
        "approved_by": c.approved_by.name if c.approved_by_id else None,
        "approved_at": c.approved_at.isoformat() if c.approved_at else None,
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
        "items": c.items.count(),
    }


def item_json(item: CampaignItem, scored: dict[int, int] | None = None) -> dict:
    a = item.activity
    return {
        "id": item.pk, "position": item.position, "activity": a.pk,
        "unit": item.unit.name, "stratum": item.stratum,
        "officer": item.officer.name if item.officer_id else None,
        "arrived_at": a.arrived_at.isoformat(), "place": a.place,
        "activity_type": a.activity_type,
        "criteria_scored": (scored or {}).get(item.pk, 0),
    }


def scored_counts(campaign: Campaign, reviewer: Person | None = None) -> dict[int, int]:
    """item id -> number of criteria with a score in force (by ``reviewer`` if given)."""
    from django.db.models import Count

    qs = current_scores(Score.objects.filter(item__campaign=campaign))
    if reviewer is not None:
        qs = qs.filter(reviewer=reviewer)
    return dict(qs.values("item_id").annotate(n=Count("criterion", distinct=True))
                .values_list("item_id", "n"))


def units_of_agency(agency) -> QuerySet:
    return Unit.objects.filter(agency=agency).order_by("code")
