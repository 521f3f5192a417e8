"""Fixity audits: re-read stored originals and compare every recorded digest (ING-4).

A check reads one copy of a blob (the primary store's, and the replica's if it has one)
from the medium, never from a cache (``read_verified``), computes every digest the register
holds for it in one pass, and compares them by algorithm name with ``Blob.digests``, and the
size. Results: ``ok``, ``missing``, ``mismatch``, ``untracked`` (an object in a store that
no blob names: the stores are listed) and ``repaired``. Results are written set-based
(``bulk_create``), a part at a time, each part in one transaction with its audit entries:
``blob.fixity`` per failure, ``fixity.record`` per part (whose ``verified_at`` it advanced),
``fixity.run`` per run. Each failure also raises a finding (rule ``ING-4.fixity``, serious)
for the custodian and the security administrator.

Repair (``repair=True``): a damaged or missing copy is rewritten from the other copy, and
only when that copy's digests all matched the register in this run; the bytes are verified
again as they are copied (``pipeline.copy_verified``) and the damaged object is kept aside
(``replace_damaged``: filesystem ``quarantine/``, S3 an older version). Audited
``blob.repair`` with the digests before and after. With both copies bad nothing is written.

Rolling batches: ``due_batch(now)`` is the ``ceil(total / WITNESS_FIXITY_DAYS)`` blobs
checked least recently (never checked: by the time they were stored and verified), so a
daily run re-reads every original once per period; ``tasks.fixity_batch`` runs it.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from django.db import transaction
from django.db.models import F, Max, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from witness.audit import services as audit
from witness.core.errors import NotFound, WitnessError
from witness.findings.models import Finding, Severity
from witness.findings.services import raise_finding

from .backends.base import BlobBackend, key_sha256
from .config import fixity_days, get_backend, get_replica
from .models import Blob, Copy, FixityCheck, Replica, held_blobs
from .models import FixityResult as R
from .pipeline import copy_verified, digests_of

RULE = "ING-4.fixity"
ACTOR = "system:fixity"
FOR_ROLES = ["custodian", "secadmin"]  # who must look at a failure
PART = 200  # checks written per transaction
LISTED = 1000  # store keys looked up in the register per query
SHOWN = 1000  # failures listed in a report (all are recorded)
CATCH_UP = 2  # a batch grows up to this many times when checks are overdue

Progress = Callable[[int], None] | None


@dataclass
class Check:
    copy: str
    store: str
    key: str
    result: str
    blob: Blob | None = None
    sha256: str = ""
    size: int | None = None
    digests: dict = field(default_factory=dict)
    mismatched: list = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"blob": self.blob.pk if self.blob else None, "copy": self.copy,
                "store": self.store, "key": self.key, "result": self.result,
                "sha256": self.sha256 or None, "size": self.size,
                "mismatched": self.mismatched, "details": self.details}


@dataclass
class Report:
    run: uuid.UUID
    counts: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)  # the first SHOWN
    not_shown: int = 0
    blobs: int = 0
    unreplicated: int = 0  # checked blobs without a copy in the configured replica

    @property
    def ok(self) -> bool:
        return all(n == 0 for result, n in self.counts.items() if result != R.OK)

    def as_dict(self) -> dict:
        return {"run": str(self.run), "ok": self.ok, "blobs": self.blobs,
                "counts": {r.value: self.counts.get(r.value, 0) for r in R},
                "unreplicated": self.unreplicated, "failures": self.failures,
                "failures_not_shown": self.not_shown}

    def add(self, checks: list[Check]) -> None:
        self.counts.update(c.result for c in checks)
        failed = [c for c in checks if c.result != R.OK]
        room = max(0, SHOWN - len(self.failures))
        self.failures += [c.as_dict() for c in failed[:room]]
        self.not_shown += max(0, len(failed) - room)


# -- what to check ------------------------------------------------------------------------

def due_batch(now: datetime | None = None) -> list[int]:
    """Ids of the blobs the daily run checks: the least recently checked, as many as
    ``ceil(total / days)``, and up to CATCH_UP times that while checks are overdue."""
    now = now or timezone.now()
    days = fixity_days()
    base = math.ceil(held_blobs().count() / days)
    ranked = held_blobs().annotate(
        last_checked=Coalesce(Max("fixity_checks__checked_at"), F("stored_at")))
    overdue = ranked.filter(last_checked__lt=now - timedelta(days=days)).count()
    size = max(base, min(overdue, CATCH_UP * base))
    return list(ranked.order_by("last_checked", "pk").values_list("pk", flat=True)[:size])


def sample(n: int) -> list[int]:
    return list(held_blobs().order_by("?").values_list("pk", flat=True)[:n])


def _parts(selection) -> Iterator[list[Blob]]:
    """Blobs a part at a time: a list of ids in its order, or a queryset by primary key."""
    if isinstance(selection, list):
        for i in range(0, len(selection), PART):
            ids = selection[i:i + PART]
            found = Blob.objects.in_bulk(ids)
            yield [found[pk] for pk in ids if pk in found]
        return
    last = 0
    while part := list(selection.filter(pk__gt=last).order_by("pk")[:PART]):
        last = part[-1].pk
        yield part


def planned_bytes(selection, replica: BlobBackend | None) -> int:
    """Bytes a run over ``selection`` reads (both copies), for a progress bar."""
    if not isinstance(selection, list):
        copies = Replica.objects.filter(store=replica.location, blob__in=selection.values(
            "pk")).aggregate(n=Sum("size"))["n"] if replica is not None else 0
        return (selection.aggregate(n=Sum("size"))["n"] or 0) + (copies or 0)
    total = 0
    for blobs in _parts(selection):
        ids = [b.pk for b in blobs]
        total += sum(b.size for b in blobs)
        if replica is not None:
            total += Replica.objects.filter(store=replica.location, blob__in=ids).aggregate(
                n=Sum("size"))["n"] or 0
    return total


# -- checking -----------------------------------------------------------------------------

def expected(blob: Blob) -> dict[str, str]:
    return {"sha256": blob.sha256, **blob.digests}


def check_copy(backend: BlobBackend, blob: Blob, copy: str, progress: Progress = None) -> Check:
    """Re-read one copy of ``blob`` uncached; every registered digest compared by name."""
    want = expected(blob)
    known = [a for a in want if a in hashlib.algorithms_available]
    check = Check(copy=copy, store=backend.location, key=blob.key, result=R.OK, blob=blob)
    try:
        read, size = digests_of(backend.read_verified(blob.key), known, progress)
    except NotFound:
        check.result = R.MISSING
        return check
    except OSError as exc:  # the medium failed (EIO): the bytes cannot be vouched for
        check.result, check.mismatched = R.MISMATCH, ["read"]
        check.details["error"] = exc.strerror or str(exc)
        return check
    check.sha256, check.size, check.digests = read["sha256"], size, read
    check.mismatched = [a for a in known if read[a] != want[a]]
    if size != blob.size:
        check.mismatched.append("size")
    if unknown := [a for a in want if a not in known]:
        check.details["unverifiable"] = unknown
    if check.mismatched or unknown:
        check.result = R.MISMATCH
    return check


@dataclass(frozen=True)
class Fixity:
    ok: bool
    sha256: str | None  # what was read back; None if the object is missing
    size: int | None


def verify_blob(blob: Blob, backend: BlobBackend, *, actor=None) -> Fixity:
    """One original checked now, outside a run (``check_copy``: uncached, every digest):
    success advances ``verified_at``; either way an audit entry records the check."""
    check = check_copy(backend, blob, Copy.PRIMARY)
    ok = check.result == R.OK
    with transaction.atomic():
        if ok:
            Blob.objects.filter(pk=blob.pk).update(verified_at=timezone.now())
        audit.append(actor, "blob.verify", blob, outcome="success" if ok else "failure",
                     details={"sha256": check.sha256 or None, "size": check.size,
                              "expected": blob.sha256, "key": blob.key,
                              "mismatched": check.mismatched, "store": backend.location})
    return Fixity(ok=ok, sha256=check.sha256 or None, size=check.size)


def _state(check: Check) -> dict:
    return {"result": check.result, "sha256": check.sha256 or None, "size": check.size,
            "digests": check.digests}


def repair(blob: Blob, bad: Check, source: BlobBackend, target: BlobBackend, *,
           actor=ACTOR, progress: Progress = None) -> Check:
    """Rewrite the damaged or missing copy ``bad`` in ``target`` from ``source``, whose copy
    matched the register; the copy is verified again as it is written. Returns the
    ``repaired`` check, or ``bad`` with the reason if it could not be done."""
    try:
        stored = copy_verified(source.read_verified(blob.key), target, expected(blob),
                               blob.size, blob.key, replace=True, progress=progress)
    except WitnessError as exc:
        bad.details["repair_error"] = exc.as_dict()
        with transaction.atomic():
            audit.append(actor, "blob.repair", blob, outcome="failure", details={
                "copy": bad.copy, "store": target.location, "key": blob.key,
                "before": _state(bad), "error": exc.as_dict()})
        return bad
    done = Check(copy=bad.copy, store=target.location, key=blob.key, result=R.REPAIRED,
                 blob=blob, sha256=stored.sha256, size=stored.size, digests=stored.digests,
                 mismatched=bad.mismatched)
    done.details = {"before": _state(bad), "after": _state(done), "source": source.location,
                    "aside": stored.aside}
    with transaction.atomic():
        audit.append(actor, "blob.repair", blob, details={
            "copy": bad.copy, "store": target.location, "key": blob.key, **done.details})
    return done


def _check_blob(blob: Blob, primary: BlobBackend, replica: BlobBackend | None, *,
                fix: bool, actor, progress: Progress) -> list[Check]:
    """Both copies of ``blob``; with ``fix`` a bad one is repaired from a good one."""
    first = check_copy(primary, blob, Copy.PRIMARY, progress)
    second = check_copy(replica, blob, Copy.REPLICA, progress) if replica else None
    if second is None:
        if first.result != R.OK:
            first.details["no_replica"] = True
        return [first]
    for bad, good, source, target in ((first, second, replica, primary),
                                      (second, first, primary, replica)):
        if bad.result == R.OK:
            continue
        if good.result != R.OK:
            bad.details["no_good_copy"] = True
        elif fix:
            fixed = repair(blob, bad, source, target, actor=actor)
            return [fixed, good] if bad is first else [good, fixed]
        else:
            bad.details["repairable_from"] = good.copy
    return [first, second]


def _untracked(backend: BlobBackend, copy: str) -> Iterator[Check]:
    """Objects in ``backend`` that no blob of the register names."""
    keys = backend.list_keys()
    while batch := list(islice(keys, LISTED)):
        named = [s for s in map(key_sha256, batch) if s]
        known = set(held_blobs().filter(sha256__in=named).values_list("key", flat=True))
        for key in batch:
            if key not in known:
                yield Check(copy=copy, store=backend.location, key=key, result=R.UNTRACKED)


# -- recording ----------------------------------------------------------------------------

def _finding_key(check: Check) -> str:
    if check.blob is None:
        return f"{check.copy}:untracked:{check.key}"[:200]
    before = check.details.get("before", {}) if check.result == R.REPAIRED else _state(check)
    return f"{check.copy}:{before.get('sha256') or before.get('result')}"


def _record(checks: list[Check], run: uuid.UUID, report: Report, *, actor,
            replica: BlobBackend | None, now: datetime | None) -> None:
    """One part of a run: rows, ``verified_at``, audit entries and findings, together."""
    when = now or timezone.now()
    with transaction.atomic():
        rows = FixityCheck.objects.bulk_create([FixityCheck(
            run=run, blob=c.blob, copy=c.copy, store=c.store, key=c.key, result=c.result,
            sha256=c.sha256, size=c.size, digests=c.digests, mismatched=c.mismatched,
            details=c.details, checked_at=when) for c in checks])
        good = {copy.value: [c.blob.pk for c in checks if c.copy == copy
                             and c.result in (R.OK, R.REPAIRED)] for copy in Copy}
        Blob.objects.filter(pk__in=good[Copy.PRIMARY]).update(verified_at=when)
        if replica is not None:
            Replica.objects.filter(store=replica.location,
                                   blob__in=good[Copy.REPLICA]).update(verified_at=when)
        failed = [(c, row) for c, row in zip(checks, rows, strict=True) if c.result != R.OK]
        keys = [_finding_key(c) for c, _row in failed]
        raised = set(Finding.objects.filter(rule_id=RULE, key__in=[
            k for (c, _row), k in zip(failed, keys, strict=True) if c.blob is None])
            .values_list("key", flat=True))
        for (check, row), key in zip(failed, keys, strict=True):
            subject = check.blob if check.blob is not None else row
            details = {**check.as_dict(), "run": str(run), "check": row.pk,
                       "expected_sha256": check.blob.sha256 if check.blob else None}
            audit.append(actor, "blob.fixity", subject, outcome="failure", details=details)
            if key not in raised:
                raise_finding(RULE, subject, {**details, "for_roles": FOR_ROLES}, key=key,
                              severity=Severity.SERIOUS, actor=actor)
        counts = Counter(c.result for c in checks)
        audit.append(actor, "fixity.record", ("storage.fixityrun", str(run)), details={
            "counts": dict(counts), "verified": good})
    report.add(checks)


def run_checks(selection, *, primary: BlobBackend | None = None, replica=None,
               fix: bool = False, untracked: bool = False, actor=ACTOR,
               progress: Progress = None, now: datetime | None = None) -> Report:
    """Check every blob of ``selection`` (ids, or a queryset) in the primary store and, for
    those with a replica row, in the replica; with ``untracked`` also list both stores.
    ``replica``: a backend, False for none, None for the configured one."""
    primary = primary if primary is not None else get_backend()
    replica = get_replica() if replica is None else (replica or None)
    report = Report(run=uuid.uuid4())
    try:
        _run(selection, report, primary, replica, fix=fix, untracked=untracked, actor=actor,
             progress=progress, now=now)
    except WitnessError as exc:  # a store failed (unreachable, refused): the run stops
        with transaction.atomic():
            audit.append(actor, "fixity.run", ("storage.fixityrun", str(report.run)),
                         outcome="failure", details={"blobs": report.blobs,
                                                     "counts": dict(report.counts),
                                                     "error": exc.as_dict()})
        raise
    with transaction.atomic():
        audit.append(actor, "fixity.run", ("storage.fixityrun", str(report.run)),
                     outcome="success" if report.ok else "failure", details={
                         "blobs": report.blobs, "counts": dict(report.counts),
                         "unreplicated": report.unreplicated, "repair": fix,
                         "primary": primary.location,
                         "replica": replica.location if replica else None})
    return report


def _run(selection, report: Report, primary: BlobBackend, replica: BlobBackend | None, *,
         fix: bool, untracked: bool, actor, progress: Progress, now) -> None:
    record = {"run": report.run, "report": report, "actor": actor, "replica": replica,
              "now": now}
    for blobs in _parts(selection):
        copied = set(Replica.objects.filter(store=replica.location, blob__in=blobs)
                     .values_list("blob_id", flat=True)) if replica else set()
        checks = []
        for blob in blobs:
            checks += _check_blob(blob, primary, replica if blob.pk in copied else None,
                                  fix=fix, actor=actor, progress=progress)
        report.blobs += len(blobs)
        report.unreplicated += sum(1 for b in blobs if replica and b.pk not in copied)
        _record(checks, **record)
    if untracked:
        stores = [(primary, Copy.PRIMARY)] + ([(replica, Copy.REPLICA)] if replica else [])
        for backend, copy in stores:
            found = _untracked(backend, copy)
            while part := list(islice(found, PART)):
                _record(part, **record)


def run_due(*, now: datetime | None = None, repair: bool = False, actor=ACTOR,
            progress: Progress = None) -> Report:
    """The scheduled run: the due batch, and both stores listed for untracked objects."""
    return run_checks(due_batch(now), fix=repair, untracked=True, actor=actor,
                      progress=progress, now=now)
