"""Background checks (django-tasks; run by ``db_worker``): the nightly full check of every
agency, and the check of the activities an ingest or an assignment touched. Both are
idempotent: a second run finds the same breaches and changes nothing."""

from __future__ import annotations

from django_tasks import task

ACTOR = "system:compliance"


@task()
def full_check() -> dict[str, int]:
    """Every rule for every agency with a profile; returns the CheckRun id per agency code.
    The scheduler calls it once a day."""
    from . import checks

    return {code: check.pk for code, check in checks.check_all(actor=ACTOR).items()}


@task()
def check_activities(activity_ids: list[int]) -> dict[str, int]:
    """The rules that an incremental check decides, for ``activity_ids`` (grouped by
    agency); returns the CheckRun id per agency code."""
    from . import checks

    return {code: check.pk for code, check in
            checks.check_activities(activity_ids, actor=ACTOR).items()}
