"""Who recorded what (issue 3 item 3; DEV-3, ACT-1).

A recording belongs to the ledger entry (领用台账) open on its device when it started, to
that entry's holder, and to the one enforcement activity of the holder whose arrival →
departure window (widened by ``SLACK`` on each side: officers start recording on the way in)
overlaps it. Anything less certain goes to the custodian's assignment queue with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from witness.activities.models import Activity
from witness.devices.models import Device, DeviceIssue
from witness.org.models import Person

from .models import Attribution, QueueReason

SLACK = timedelta(minutes=30)


@dataclass(frozen=True)
class Attributed:
    issue: DeviceIssue | None
    holder: Person | None
    activity: Activity | None
    attribution: str
    queue_reason: str = ""


def ledger_entry(device: Device, at: datetime) -> DeviceIssue | None:
    """The issue of ``device`` open at ``at`` (DEV-3: one holder at a time)."""
    return (DeviceIssue.objects.filter(device=device, issued_at__lte=at)
            .filter(Q(returned_at__isnull=True) | Q(returned_at__gte=at))
            .select_related("holder").order_by("-issued_at", "-id").first())


def candidate_activities(person: Person, start: datetime, end: datetime):
    """Activities with ``person`` among the officers whose widened window overlaps."""
    return (Activity.objects.filter(officers__person=person, arrived_at__lte=end + SLACK,
                                    departed_at__gte=start - SLACK)
            .distinct().order_by("arrived_at", "id"))


def attribute(device: Device | None, start: datetime | None, end: datetime | None, *,
              backfill: bool = False) -> Attributed:
    def queued(reason, issue=None):
        return Attributed(issue, issue.holder if issue else None, None, Attribution.QUEUED,
                          reason)

    if backfill:
        return queued(QueueReason.BACKFILL)
    if start is None:
        return queued(QueueReason.NO_TIME)
    issue = ledger_entry(device, start) if device is not None else None
    if issue is None:
        return queued(QueueReason.NO_HOLDER)
    activities = list(candidate_activities(issue.holder, start, end or start)[:2])
    if not activities:
        return queued(QueueReason.NO_ACTIVITY, issue)
    if len(activities) > 1:
        return queued(QueueReason.SEVERAL_ACTIVITIES, issue)
    return Attributed(issue, issue.holder, activities[0], Attribution.ATTRIBUTED)
