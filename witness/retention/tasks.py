"""Background jobs of retention (django-tasks; run by ``db_worker``): executing a batch the
approver approved (witness.retention.purge.execute), and the nightly keep-until
recomputation (witness.retention.keep.recompute; queued by ``witness scheduler``)."""

from __future__ import annotations

from django_tasks import task


@task()
def execute_purge(batch_id: int) -> dict:
    """Remove the stored objects of an approved purge batch; returns the item counts. Where
    another run (``witness retention execute``) holds the batch's lease, it is left to it."""
    from witness.core.errors import Refused
    from witness.retention import purge

    try:
        outcome = purge.execute(batch_id)
    except Refused as exc:
        if exc.code != "purge_running":
            raise
        return {"running_elsewhere": batch_id}
    counts: dict[str, int] = {}
    for item in outcome.items:
        counts[item["result"]] = counts.get(item["result"], 0) + 1
    return counts


@task()
def recompute_all() -> dict:
    """Extend every recording's keep-until where its derivation is now later (RET-1: a
    profile change, a case closed with its retention class); never shortens one."""
    from witness.retention import keep

    run = keep.recompute(actor="system:retention", scope="nightly")
    return {"run": run.pk, "extended": run.changed}
