"""What each role must do today, for the home page (issue 8 item 1). Every list is cut at
``LIMIT`` rows (one more is read to say "and more"), every figure is one query over an
indexed column, and nothing is computed per row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, F, Func, OuterRef, Subquery
from django.utils import timezone

from witness.access import authz, chain
from witness.access.models import Step
from witness.devices.models import DeviceIssue
from witness.findings.models import FindingStatus
from witness.org.models import Role
from witness.recordings.models import MediaKind, Recording
from witness.recordings.services import queue
from witness.review.models import CampaignStatus
from witness.review.services import visible_campaigns
from witness.station.models import StationVolume, VolumeState

LIMIT = 10
MISSING_DAYS = 30  # activities of the last 30 days with no recording yet
AV = (MediaKind.VIDEO, MediaKind.AUDIO)


def count_all(**querysets) -> dict[str, int]:
    """Several COUNTs in one query: ``SELECT (SELECT COUNT(*) …) AS a, (…) AS b``."""
    if not querysets:
        return {}
    from witness.org.models import Agency

    columns = {name: Subquery(qs.order_by().annotate(n=Func(F("pk"), function="COUNT"))
                              .values("n")[:1])
               for name, qs in querysets.items()}
    # One row from any table (the agency table always has one when a page shows figures);
    # with none, every figure is zero.
    row = Agency.objects.order_by().annotate(**columns).values(*columns)[:1]
    found = next(iter(row), None)
    return {name: (found or {}).get(name) or 0 for name in querysets}


@dataclass
class Bounded:
    """A list cut at LIMIT rows; ``more`` says there were others."""

    rows: list = field(default_factory=list)
    more: bool = False

    @classmethod
    def of(cls, qs) -> Bounded:
        rows = list(qs[: LIMIT + 1])
        return cls(rows[:LIMIT], len(rows) > LIMIT)


def officer(subject) -> dict:
    person = subject.person
    if person is None:
        return {}
    now = timezone.now()
    recorded = Exists(Recording.objects.filter(activity=OuterRef("pk"), kind__in=AV))
    missing = (authz.visible_activities(subject)
               .filter(officers__person=person, arrived_at__gte=now - timedelta(days=MISSING_DAYS),
                       arrived_at__lte=now)
               .exclude(recorded).select_related("unit").order_by("-arrived_at", "-id"))
    return {
        "my_findings": Bounded.of(
            authz.visible_findings(subject).filter(status=FindingStatus.OPEN)
            .select_related("unit").order_by("-raised_at", "-id")),
        "missing_recordings": Bounded.of(missing),
        "devices_held": Bounded.of(
            DeviceIssue.objects.filter(holder=person, returned_at__isnull=True)
            .select_related("device").order_by("issued_at", "id")),
    }


def custodian(subject) -> dict:
    agency, person = subject.agency, subject.person
    docked = dict(StationVolume.objects.filter(agency=agency, present=True)
                  .order_by().values_list("state").annotate(n=Count("pk")))
    steps = chain.open_steps_for(person).filter(step=Step.CUSTODIAN_REGISTRATION)
    figures = count_all(unassigned=queue(agency), registrations=steps)
    return {
        "docked": [(VolumeState(state).label, n) for state, n in sorted(docked.items())],
        "docked_total": sum(docked.values()),
        **figures,
    }


def approver(subject) -> dict:
    to_decide = authz.visible_findings(subject).filter(status=FindingStatus.EXPLAINED)
    if not subject.agency_wide:
        to_decide = to_decide.filter(unit__in=subject.head_units)
    return count_all(approvals=chain.open_steps_for(subject.person),
                     findings_to_decide=to_decide)


def legal(subject) -> dict:
    return {"campaigns": Bounded.of(
        visible_campaigns(subject).filter(status__in=[CampaignStatus.DRAFT,
                                                      CampaignStatus.APPROVED])
        .order_by("-id"))}


def tasks(subject) -> dict:
    roles = subject.roles
    out: dict = {}
    if Role.OFFICER in roles:
        out["officer"] = officer(subject)
    if Role.CUSTODIAN in roles:
        out["custodian"] = custodian(subject)
    if roles & {Role.UNIT_HEAD, Role.LEADER}:
        out["approver"] = approver(subject)
    if Role.LEGAL in roles:
        out["legal"] = legal(subject)
    return out
