"""The web export after approval (issue 7 item 5; EVD-1, EVD-3): an approved disclosure
request whose delivery is an export package gets **one** package, made by a background
task with ``witness.evidence.export`` into ``WITNESS_HOME/exports/<request id>/bag`` and
downloaded as a tar archive built on the fly.

The approval is the request chain's (witness.access.chain): review, the leader's approval,
the label approver where an item is labelled, the custodian's registration; its grants
(a disclosure's grants name no person) say until when the package may be made and fetched.
Every grant of the request must be in force: before the approval, after the period, or once
one grant is revoked, nothing is made and nothing is downloaded.

Who: the custodian (``recording.export``) makes the package and is its extractor; the
package is downloaded by a custodian of the agency or by the requester (the officer who
hands it to the named recipient), one ``evidence.package_download`` entry per download.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz, chain
from witness.access.models import AccessRequest, Delivery, Grant, RequestKind, RequestStatus
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.evidence import export as ex
from witness.recordings.models import Recording

from .models import ExportPackage, PackageStatus

ACTOR = "system:export"  # the audit actor of the task (the extractor is in the details)
MAX_ATTEMPTS = 3  # a write error is tried again, up to this many times in all
DEFAULT_TIME_LIMIT = 6 * 3600  # seconds; WITNESS_EXPORT_TIME_LIMIT overrides
RETRIED = {"cannot_write", "unexpected"}
READ = 1024 * 1024


def time_limit() -> int:
    return int(getattr(settings, "WITNESS_EXPORT_TIME_LIMIT", DEFAULT_TIME_LIMIT))


def root_of(request_id: int) -> Path:
    return Path(settings.WITNESS_HOME) / "exports" / str(int(request_id))


def bag_of(request_id: int) -> Path:
    return root_of(request_id) / "bag"


def is_package_request(req: AccessRequest) -> bool:
    return req.kind == RequestKind.DISCLOSURE and req.delivery == Delivery.PACKAGE


# -- is the approval valid now -----------------------------------------------------------------

def refusal(req: AccessRequest, recording_ids=None, at=None) -> WitnessError | None:
    """Why a package of ``req`` may not be made or fetched now, or None: the request must
    be granted and every grant (of ``recording_ids``: the package's recordings) in force."""
    if not is_package_request(req):
        return NotFound(_("This request is not a disclosure by export package."),
                        code="not_a_package_request")
    if req.status != RequestStatus.GRANTED:
        return Refused(_("The request has not been approved (%(status)s); no package is "
                         "made or given out before its approval."), code="not_granted",
                       status=req.get_status_display())
    at = at or timezone.now()
    grants = list(Grant.objects.filter(request=req, person__isnull=True))
    wanted = ({g.recording_id for g in grants} if recording_ids is None
              else set(recording_ids))
    by_recording = {g.recording_id: g for g in grants}
    if not wanted:
        return Refused(_("Nothing of this request is granted."), code="nothing_granted")
    for rec_id in sorted(wanted):
        g = by_recording.get(rec_id)
        if g is None or g.revoked_at is not None:
            return Refused(_("The approval of this request was revoked; its package is no "
                             "longer made or given out."), code="revoked")
        if g.valid_until <= at:
            return Refused(_("The approved period of this request ended on %(until)s; its "
                             "package is no longer made or given out."), code="expired",
                           until=timezone.localtime(g.valid_until).strftime("%Y-%m-%d %H:%M"))
        if g.valid_from > at:
            return Refused(_("The approved period of this request begins on %(from)s."),
                           code="not_yet", **{"from": timezone.localtime(g.valid_from)
                                              .strftime("%Y-%m-%d %H:%M")})
    return None


def may_make(subject: authz.Subject, req: AccessRequest) -> bool:
    return (subject.may(ex.ACTION) and subject.agency is not None
            and subject.agency.pk == req.agency_id)


def may_download(subject: authz.Subject, req: AccessRequest) -> bool:
    """A custodian of the agency, or the requester."""
    person = subject.person
    if person is None or person.agency_id != req.agency_id:
        return False
    return may_make(subject, req) or (person.pk == req.requester_id
                                      and subject.may("recording.download"))


def stale(pkg: ExportPackage, at=None) -> bool:
    """A package that has been 'running' for longer than the time limit (its worker died)."""
    at = at or timezone.now()
    return (pkg.status == PackageStatus.RUNNING and pkg.started_at is not None
            and pkg.started_at + timedelta(seconds=time_limit() + 600) < at)


# -- asking for the package --------------------------------------------------------------------

def ask(req: AccessRequest, subject: authz.Subject, *, actor) -> tuple[ExportPackage, bool]:
    """Queue the package of ``req`` (once): (the package, whether a task was queued). A
    package queued, being made or ready is left as it is; a failed (or stale) one is
    queued again. Audited ``evidence.package_request``."""
    from .tasks import make_package

    if not may_make(subject, req) or subject.person is None:
        raise authz.Denied(_("Only a custodian of the agency makes an export package."),
                           code="not_custodian")
    with transaction.atomic():
        req = AccessRequest.objects.select_for_update().get(pk=req.pk)
        error = refusal(req)
        if error is not None:
            raise error
        pkg = ExportPackage.objects.select_for_update().filter(request=req).first()
        if pkg is not None and pkg.status != PackageStatus.FAILED and not stale(pkg):
            return pkg, False
        again = pkg is not None
        pkg = pkg or ExportPackage(request=req)
        pkg.status, pkg.requested_by, pkg.error = PackageStatus.QUEUED, subject.person, {}
        pkg.created_at, pkg.started_at, pkg.finished_at = timezone.now(), None, None
        pkg.attempts = 0
        pkg.save()
        audit.append(actor, "evidence.package_request", req, details={
            "request": req.pk, "package": pkg.pk, "extractor": subject.person.name,
            "recipient": req.recipient_name, "again": again})
        package_id = pkg.pk
        transaction.on_commit(lambda: make_package.enqueue(package_id))
    return pkg, True


# -- making it (the task) ----------------------------------------------------------------------

def _object_of(req: AccessRequest, recordings: list[Recording]):
    """What the package is named after: the request's case, activity, or recording."""
    if req.case_id:
        return req.case
    if req.activity_id:
        return req.activity
    return recordings[0]


def _clear_leftovers(bag: Path) -> list[str]:
    """A package that never became 'ready' (a worker stopped between the copy and the
    status) or a ``.partial`` folder of an interrupted attempt: copies made by this task
    alone, removed before it starts again."""
    removed = []
    for path in (bag.with_name(bag.name + ex.PARTIAL), bag):
        if path.is_symlink():
            path.unlink()
            removed.append(path.name)
        elif path.exists():
            shutil.rmtree(path)
            removed.append(path.name)
    return removed


def _deadline_progress(seconds: int):
    deadline = time.monotonic() + seconds

    def progress(_n: int) -> None:
        if time.monotonic() > deadline:
            raise ex.ExportError(_("The package was not finished within the time limit "
                                   "(%(seconds)s s) and was stopped."), code="time_limit",
                                 seconds=seconds)
    return progress


def build(package_id: int, *, actor=ACTOR) -> dict:
    """Make the package ``package_id`` if it is queued (a second run of the same task, or
    one for a package already made, does nothing). Returns its status."""
    with transaction.atomic():
        pkg = (ExportPackage.objects.select_for_update(of=("self",))
               .select_related("request__agency", "request__case", "request__activity",
                               "requested_by__user").filter(pk=package_id).first())
        if pkg is None or pkg.status != PackageStatus.QUEUED:
            return {"package": package_id, "status": pkg.status if pkg else None,
                    "skipped": True}
        pkg.status, pkg.started_at = PackageStatus.RUNNING, timezone.now()
        pkg.attempts += 1
        pkg.save(update_fields=["status", "started_at", "attempts"])
        req = pkg.request
        audit.append(actor, "evidence.package_start", req, details={
            "request": req.pk, "package": pkg.pk, "attempt": pkg.attempts})
    try:
        error = refusal(req)
        if error is not None:
            raise error
        ids = Grant.objects.filter(request=req, person__isnull=True).values("recording_id")
        recordings = list(
            Recording.objects.filter(pk__in=ids).select_related(
                "blob", "device", "holder__unit", "activity__unit", "activity__case",
                "ingest_run").order_by("started_at", "id"))
        bag = bag_of(req.pk)
        bag.parent.mkdir(parents=True, exist_ok=True)
        removed = _clear_leftovers(bag)
        extractor = chain.subject_for(pkg.requested_by)
        made = ex.export(_object_of(req, recordings), bag, subject=extractor, actor=actor,
                         recordings=recordings, progress=_deadline_progress(time_limit()))
    except Exception as exc:  # recorded on the package; the task itself ends normally
        return _failed(pkg, exc, actor)
    for path in bag.rglob("*"):  # its files are not changed later
        if path.is_file() and not path.is_symlink():
            os.chmod(path, 0o444)
    with transaction.atomic():
        pkg.status, pkg.finished_at, pkg.error = PackageStatus.READY, timezone.now(), {}
        pkg.recordings = made["recordings"]
        pkg.files, pkg.bytes = made["files"], made["bytes"]
        pkg.tagmanifest_sha256 = made["tagmanifest_sha256"]
        pkg.save()
        audit.append(actor, "evidence.package_ready", req, details={
            "request": req.pk, "package": pkg.pk, "files": pkg.files, "bytes": pkg.bytes,
            "tagmanifest_sha256": pkg.tagmanifest_sha256, "extractor": pkg.requested_by.name,
            "recipient": req.recipient_name, "removed_leftovers": removed})
    return {"package": pkg.pk, "status": pkg.status, "files": pkg.files, "bytes": pkg.bytes}


# -- removing it once its approval ended (the daily task) ------------------------------------

def clean(at=None, *, actor=ACTOR) -> dict:
    """Remove the folder of every package whose approval has ended — the request is no
    longer granted, or a grant of its recordings expired or was revoked (:func:`refusal`:
    it is never given out again) — and mark the package removed, audited
    ``evidence.package_remove`` in the transaction of the change. A package being made
    (not stale) is left to its task. Until then its recordings are not purged
    (witness.retention.keep: reason ``package``)."""
    at = at or timezone.now()
    removed = []
    candidates = (ExportPackage.objects.exclude(status=PackageStatus.REMOVED)
                  .select_related("request").order_by("pk"))
    for pkg in candidates:
        req = pkg.request
        error = refusal(req, pkg.recordings or None, at)
        if error is None or error.code == "not_yet":
            continue
        if pkg.status == PackageStatus.RUNNING and not stale(pkg, at):
            continue
        with transaction.atomic():
            locked = ExportPackage.objects.select_for_update().get(pk=pkg.pk)
            if locked.status == PackageStatus.REMOVED:
                continue
            root = root_of(req.pk)
            existed = root.exists()
            if existed:
                shutil.rmtree(root)
            was = locked.status
            locked.status, locked.removed_at = PackageStatus.REMOVED, timezone.now()
            locked.save(update_fields=["status", "removed_at"])
            audit.append(actor, "evidence.package_remove", req, details={
                "request": req.pk, "package": locked.pk, "was": was, "reason": error.code,
                "folder": str(root), "folder_existed": existed, "files": locked.files,
                "bytes": locked.bytes})
        removed.append(locked.pk)
    return {"removed": removed}


def _failed(pkg: ExportPackage, exc: Exception, actor) -> dict:
    from .tasks import make_package

    error = exc if isinstance(exc, WitnessError) else ex.ExportError(
        _("The package could not be made: %(reason)s"), code="unexpected",
        reason=f"{type(exc).__name__}: {exc}"[:300])
    retry = error.code in RETRIED and pkg.attempts < MAX_ATTEMPTS
    with transaction.atomic():
        pkg.status = PackageStatus.QUEUED if retry else PackageStatus.FAILED
        pkg.finished_at = None if retry else timezone.now()
        pkg.error = error.as_dict()
        pkg.save(update_fields=["status", "finished_at", "error"])
        audit.append(actor, "evidence.package_fail", pkg.request, outcome="failure",
                     details={"request": pkg.request_id, "package": pkg.pk,
                              "attempt": pkg.attempts, "retry": retry,
                              "error": error.as_dict()})
        if retry:
            package_id = pkg.pk
            transaction.on_commit(lambda: make_package.enqueue(package_id))
    return {"package": pkg.pk, "status": pkg.status, "error": error.code, "retry": retry}


# -- fetching it: a tar archive built on the fly -----------------------------------------------

def _entries(bag: Path, prefix: str) -> list[tuple[tarfile.TarInfo, Path | None]]:
    """(header, file) of every folder and regular file of the bag, sorted; anything else
    (a link, a device) is refused."""
    entries = []
    for folder, dirs, files in os.walk(bag, followlinks=False):
        dirs.sort()
        here = Path(folder)
        rel = here.relative_to(bag).as_posix()
        name = prefix if rel == "." else f"{prefix}/{rel}"
        info = tarfile.TarInfo(name)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        info.mtime = int(here.stat().st_mtime)
        entries.append((info, None))
        for file in sorted(files):
            path = here / file
            st = path.lstat()
            if not path.is_file() or path.is_symlink():
                raise Refused(_("%(path)s is not a regular file; the package is not given "
                                "out."), code="not_a_file", path=str(path))
            info = tarfile.TarInfo(f"{name}/{file}")
            info.size, info.mode, info.mtime = st.st_size, 0o644, int(st.st_mtime)
            entries.append((info, path))
    return entries


def tar_of(bag: Path, prefix: str) -> tuple[int, Iterator[bytes]]:
    """(length, chunks) of a POSIX (pax) tar archive of the folder ``bag`` under the name
    ``prefix``: headers and 1 MiB pieces of each file, never a whole file in memory."""
    entries = [(info, path, info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
               for info, path in _entries(bag, prefix)]
    body = sum(len(h) + -(-info.size // 512) * 512 for info, _p, h in entries) + 1024
    length = -(-body // tarfile.RECORDSIZE) * tarfile.RECORDSIZE

    def chunks() -> Iterator[bytes]:
        for info, path, header in entries:
            yield header
            if path is None:
                continue
            left = info.size
            with open(path, "rb") as fh:
                while left:
                    piece = fh.read(min(READ, left))
                    if not piece:
                        raise OSError(f"{path} is shorter than when the download began")
                    left -= len(piece)
                    yield piece
            if info.size % 512:
                yield bytes(512 - info.size % 512)
        yield bytes(length - body + 1024)

    return length, chunks()
