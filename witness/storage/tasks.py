"""Background jobs of the blob store (django-tasks; run by ``db_worker``, which ``witness
serve`` starts): the second copy of each new original, and the daily fixity batch."""

from __future__ import annotations

from django_tasks import task


@task()
def replicate_blob(blob_id: int) -> str:
    """Copy one original to the replica store, verified (``replica.replicate``); returns
    "present", "verified", "copied" or "repaired". Safe to run twice."""
    from . import replica

    return replica.replicate(blob_id)


@task()
def fixity_batch(repair: bool = False) -> dict[str, int]:
    """Re-read the originals least recently checked, so that a daily run checks every one
    once per ``WITNESS_FIXITY_DAYS``; returns the count of each result. The scheduler calls
    it once a day."""
    from . import fixity

    return fixity.run_due(repair=repair).counts
