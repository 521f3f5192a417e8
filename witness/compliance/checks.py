"""Running the engine for agencies (issue 6): every agency with a profile (the nightly job,
``witness check``), or the agencies of some activities (after an ingest or an assignment),
and queueing the latter once the change that touched them has committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from witness.activities.models import Activity
from witness.core.errors import NotFound
from witness.org.models import Agency
from witness.profiles.models import ProfileActivation

from . import engine
from .models import CheckRun

logger = logging.getLogger(__name__)
ACTOR = "system:compliance"


def agencies_with_profile():
    return Agency.objects.filter(
        pk__in=ProfileActivation.objects.values("agency_id")).order_by("pk")


def check_all(*, rules=None, actor: str = ACTOR, progress=None) -> dict[str, CheckRun]:
    """A full check of every agency with a profile; CheckRun per agency code."""
    return {agency.code: engine.run(agency, rules=rules, actor=actor, progress=progress)
            for agency in agencies_with_profile()}


def by_agency(activity_ids: Iterable[int]) -> dict[int, list[int]]:
    """The given activities grouped by agency id; an unknown id is an error."""
    ids = sorted({int(i) for i in activity_ids})
    rows = dict(Activity.objects.filter(pk__in=ids).values_list("pk", "unit__agency_id"))
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(_("No activity with id %(ids)s."), code="no_activity",
                       ids=", ".join(map(str, missing)))
    grouped: dict[int, list[int]] = {}
    for pk in ids:
        grouped.setdefault(rows[pk], []).append(pk)
    return grouped


def check_activities(activity_ids: Iterable[int], *, rules=None, actor: str = ACTOR,
                     progress=None) -> dict[str, CheckRun]:
    """An incremental check of ``activity_ids`` for each of their agencies that has a
    profile; CheckRun per agency code. Activities gone from the database are skipped
    (a queued job must not fail for them)."""
    ids = set(activity_ids)
    known = set(Activity.objects.filter(pk__in=ids).values_list("pk", flat=True))
    grouped = by_agency(known)
    agencies = agencies_with_profile().filter(pk__in=grouped)
    return {agency.code: engine.run(agency, activity_ids=grouped[agency.pk], rules=rules,
                                    actor=actor, progress=progress)
            for agency in agencies}


def _enqueue(activity_ids: list[int]) -> None:
    try:
        from .tasks import check_activities as job

        job.enqueue(activity_ids)
    except Exception:  # the nightly full check decides them all the same
        logger.exception("could not queue the compliance check of activities %s",
                         activity_ids)


def enqueue_on_commit(activity_ids: Iterable[int]) -> None:
    """Queue the check of ``activity_ids`` once the current transaction commits (at once
    outside one). Never raises."""
    ids = sorted({int(i) for i in activity_ids if i is not None})
    if ids:
        transaction.on_commit(partial(_enqueue, ids))
