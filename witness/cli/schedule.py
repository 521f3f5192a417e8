"""Periodic background jobs (issue 4: fixity in rolling batches; later issues add theirs).

``witness scheduler`` (started by ``witness serve``) looks every minute at ``JOBS`` and
enqueues a job whose last run was enqueued longer ago than its interval. "Last run" is the
job's newest row in the django-tasks queue table, so the schedule needs no state of its own,
survives restarts, and shows in the same place as every job's outcome. Jobs are idempotent:
two schedulers racing enqueue a job twice at worst.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from witness.audit import services as audit

ACTOR = "system:scheduler"


@dataclass(frozen=True)
class Job:
    task: str  # dotted path of a django-tasks task
    every: timedelta


JOBS = (
    # every original re-read once per WITNESS_FIXITY_DAYS, a slice a day (ING-4)
    Job("witness.storage.tasks.fixity_batch", timedelta(days=1)),
    # every rule of every agency decided afresh each night (issue 6)
    Job("witness.compliance.tasks.full_check", timedelta(days=1)),
    # keep-until dates extended where their derivation moved later (RET-1)
    Job("witness.retention.tasks.recompute_all", timedelta(days=1)),
    # export packages removed once their approval ended (EVD-3; their copies go with it)
    Job("witness.preservation.tasks.clean_packages", timedelta(days=1)),
)


def _task(path: str):
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def due(now=None) -> list[Job]:
    now = now or timezone.now()
    jobs = []
    for job in JOBS:
        last = (DBTaskResult.objects.filter(task_path=job.task).order_by("-enqueued_at")
                .values_list("enqueued_at", flat=True).first())
        if last is None or now - last >= job.every:
            jobs.append(job)
    return jobs


def run_due(now=None, *, actor=ACTOR) -> list[str]:
    """Enqueue the jobs that are due, each with its audit entry (``job.enqueue``) in the
    transaction that queues it; returns their task paths."""
    enqueued = []
    for job in due(now):
        with transaction.atomic():
            result = _task(job.task).enqueue()
            audit.append(actor, "job.enqueue", ("django_tasks_db.dbtaskresult", result.id),
                         details={"task": job.task, "every_seconds":
                                  int(job.every.total_seconds())})
        enqueued.append(job.task)
    return enqueued
