"""Background jobs (django-tasks; run by ``db_worker``, which ``witness serve`` starts)."""

from __future__ import annotations

from django_tasks import task

from . import services


@task()
def make_derivatives(recording_id: int) -> dict[str, str]:
    """Make the pending or failed derivatives of one recording; return each kind's status.
    Failures are recorded in the rows (status failed, message in Chinese and English), so
    the job itself fails only for a recording that does not exist."""
    rows = services.make_for_recording(recording_id, actor=services.ACTOR)
    return {row.kind: row.status for row in rows}
