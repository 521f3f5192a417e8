"""Evidence packages (issue 7 items 5 and 7; EVD-1, EVD-3, ING-4): ``witness export OBJECT``
writes a recording, an activity or a case as a signed BagIt 1.0 bag (RFC 8493).

Layout of the bag ``DIR``::

    bagit.txt, bag-info.txt
    data/originals/<recording id>-<original name>       the originals, byte for byte
    data/playback-copies/<recording id>-<name>-playback.mp4   (only with --playback-copies)
    manifest-sha256.txt [manifest-sm3.txt]             every payload file, every digest
    explanation.pdf        文字说明材料: producer, extractor, time, method, every digest
    custody-report.pdf     the chain-of-custody report (``witness custody``)
    tagmanifest-sha256.txt [tagmanifest-sm3.txt]       every tag file above
    witness-signature.json, witness-public-key.pem     the agency's signature over the exact
                                                       bytes of tagmanifest-sha256.txt

Copies (item 7): each original is read from the configured blob store (local: from the
disk, not the page cache; S3: a full GET) into a fixed pool of buffers; one thread per digest
and one writer consume every buffer (``storage.pipeline``'s fan-out), so reading, hashing
and writing overlap and memory is the pool whatever the file size. The writer is the
store's own staging writer (``LocalStaging``: a new file, O_EXCL, written back and evicted
window by window, fsynced on close): a distinct file, never a hard link or a reflink. Every
digest of the profile is computed from the bytes copied and compared with the one the blob
register recorded at ingest (SHA-256 always); a difference aborts the
export, removes the half-written package, raises the finding ``EVD-1.export_mismatch`` on
the blob and writes a failed ``evidence.export`` entry.

The bag is written to ``DIR.partial`` and renamed to ``DIR`` (which must not exist or be an
empty folder) in the transaction of its ``evidence.export`` entry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.access.labels import Label
from witness.activities.models import Activity, Case
from witness.audit import custody, keys
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError
from witness.derivatives.models import Derivative, Kind, Status
from witness.findings.models import Severity
from witness.findings.services import raise_finding
from witness.recordings.models import MediaKind, Recording
from witness.storage.backends.base import CHUNK, BlobBackend
from witness.storage.backends.local import LocalBackend, LocalStaging
from witness.storage.config import get_backend
from witness.storage.models import Blob
from witness.storage.pipeline import check_algorithms, fan_copy

RULE = "EVD-1.export_mismatch"
FOR_ROLES = ["custodian", "secadmin"]  # who must look at a mismatch
ACTION = "recording.export"  # the policy action (CUSTODIAN)
ORIGINALS = "data/originals"
COPIES = "data/playback-copies"
EXPLANATION = "explanation.pdf"
CUSTODY = "custody-report.pdf"
SIGNATURE = "witness-signature.json"
PUBLIC_KEY = "witness-public-key.pem"
PARTIAL = ".partial"

Progress = Callable[[int], None] | None


class ExportError(WitnessError):
    code = "export_error"


@dataclass
class Item:
    """One payload file: where it goes in the bag, what it is a copy of."""

    path: str  # relative to the bag, "/" separated
    recording: Recording
    blob: Blob
    kind: str  # "original" or "playback"
    digests: dict[str, str] = field(default_factory=dict)
    size: int = 0


class Mismatch(Exception):
    def __init__(self, item: Item, read: dict[str, str], size: int, differ: list[str]):
        super().__init__(item.path)
        self.item, self.read, self.size, self.differ = item, read, size, differ


# -- what is exported, and whether it may be -----------------------------------------------

def resolve(text: str):
    """``recording:ID``, ``activity:ID`` or ``case:NUMBER`` (or ``case:ID``), as ``witness
    custody`` reads it."""
    return custody.resolve(text)


def ref_of(obj) -> str:
    if isinstance(obj, Recording):
        return f"recording:{obj.pk}"
    if isinstance(obj, Activity):
        return f"activity:{obj.pk}"
    return f"case:{obj.number}"


def agency_of(obj):
    if isinstance(obj, Recording):
        if obj.ingest_run_id:
            return obj.ingest_run.agency
        return obj.device.unit.agency if obj.device_id else None
    return obj.agency


def recordings_of(obj) -> list[Recording]:
    if isinstance(obj, Recording):
        q = {"pk": obj.pk}
    elif isinstance(obj, Activity):
        q = {"activity": obj}
    else:
        q = {"activity__case": obj}
    return list(Recording.objects.filter(**q).select_related(
        "blob", "device", "holder__unit", "activity__unit", "activity__case", "ingest_run")
        .order_by("started_at", "id"))


def _refuse(actor, obj, error: WitnessError, outcome: str) -> None:
    """A refused export leaves its entry (committed), then the error goes to the caller."""
    with transaction.atomic():
        audit.append(actor, "evidence.export", obj, outcome=outcome,
                     details={"object": ref_of(obj), "error": error.as_dict()})
    raise error


def authorize(subject: authz.Subject | None, obj, recordings: list[Recording], *,
              actor) -> None:
    """The role (``recording.export``: custodians) and scope of ``subject`` (None: the
    operator of the server, on its command line), then what no one may export: a state
    secret (国家秘密) and content removed from the system."""
    if subject is not None:
        try:
            authz.require(subject, ACTION)
            visible = set(authz.visible_recordings(subject).filter(
                pk__in=[r.pk for r in recordings]).values_list("pk", flat=True))
            agency = agency_of(obj)
            if (subject.agency is None or (agency is not None and agency.pk != subject.agency.pk)
                    or len(visible) != len(recordings)):
                raise authz.Denied(_("This object is outside what you may export."),
                                   code="scope")
        except authz.Denied as exc:
            _refuse(actor, obj, exc.error, "denied")
    # 国家秘密 on the recording, its activity or the activity's case (as the viewing chain
    # and the review read labels): the content never leaves this system
    secret = [r for r in recordings if Label.STATE_SECRET in (
        r.label, getattr(r.activity, "label", None),
        getattr(getattr(r.activity, "case", None), "label", None))]
    if getattr(obj, "label", None) == Label.STATE_SECRET or secret:
        _refuse(actor, obj, Refused(
            _("%(object)s is or holds a state secret (国家秘密): its content is not exported "
              "from this system."), code="state_secret",
            object=ref_of(secret[0] if secret else obj)), "refused")
    removed = [r for r in recordings if r.blob.removed_at is not None]
    if removed:
        _refuse(actor, obj, Refused(
            _("The content of recording %(id)s was removed from this system on approval "
              "(%(because)s); it cannot be exported."), code="content_removed",
            id=removed[0].pk, because=removed[0].blob.removed_because or "?"), "refused")
    if not recordings:
        _refuse(actor, obj, Refused(_("%(object)s has no recordings to export."),
                                    code="nothing_to_export", object=ref_of(obj)), "refused")


def check_target(out: Path) -> Path:
    """``out`` must not exist or be an empty folder; returns the ``.partial`` folder."""
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise Refused(_("%(path)s exists and is not an empty folder; an evidence package "
                        "never overwrites anything."), code="target_exists", path=str(out))
    if not out.parent.is_dir():
        raise NotFound(_("The folder %(path)s does not exist."), code="no_parent",
                       path=str(out.parent))
    partial = out.with_name(out.name + PARTIAL)
    if partial.exists() or partial.is_symlink():
        raise Refused(_("%(path)s exists: another export is writing there, or one was "
                        "interrupted (remove it once no export runs)."),
                      code="partial_exists", path=str(partial))
    return partial


# -- names and encodings -------------------------------------------------------------------

UNSAFE = re.compile(r'[\x00-\x1f\x7f%/\\<>:"|?*]')


def safe_name(source_path: str) -> str:
    """The file name of an original as it goes into the bag: its base name (NFC) without
    control characters, ``%`` or characters that Windows refuses."""
    name = unicodedata.normalize("NFC", re.split(r"[\\/]", source_path)[-1]).strip(" .")
    name = UNSAFE.sub("_", name)
    while len(name.encode()) > 180:
        name = name[:-1]
    return name or "original"


def encode_path(path: str) -> str:
    """A path as a manifest line names it (RFC 8493 §2.1.3): CR, LF and % encoded."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _value(text) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def manifest(files: list[tuple[str, dict[str, str]]], algorithm: str) -> bytes:
    return "".join(f"{digests[algorithm]}  {encode_path(path)}\n"
                   for path, digests in sorted(files)).encode()


# -- copying --------------------------------------------------------------------------------

def _fill(view: memoryview, chunks, pending: list) -> int:
    """Fill ``view`` from the iterator ``chunks`` (pieces of a chunk carried over)."""
    n = 0
    while n < len(view):
        if not pending:
            chunk = next(chunks, None)
            if chunk is None:
                break
            pending.append(memoryview(chunk))
        piece = pending.pop()
        take = min(len(piece), len(view) - n)
        view[n:n + take] = piece[:take]
        if take < len(piece):
            pending.append(piece[take:])
        n += take
    return n


def _local_reader(backend: LocalBackend, key: str):
    """Read a final object of the local store from the disk, not the page cache (as
    ``read_verified`` does), straight into the pool's buffers."""
    try:
        fd = os.open(backend.path(key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(_("No stored original under %(key)s."), key=key) from None
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    pos = 0

    def read(buf: bytearray) -> int:
        nonlocal pos
        n = os.preadv(fd, [buf], pos)
        if n:
            os.posix_fadvise(fd, pos, n, os.POSIX_FADV_DONTNEED)
            pos += n
        return n

    return read, lambda: os.close(fd)


def _stream_reader(backend: BlobBackend, key: str, chunk_size: int):
    chunks, pending = iter(backend.read_verified(key, chunk_size)), []
    return (lambda buf: _fill(memoryview(buf), chunks, pending)), (lambda: None)


def copy_object(backend: BlobBackend, key: str, target: Path, algorithms: tuple[str, ...], *,
                chunk_size: int = CHUNK, progress: Progress = None) -> tuple[dict, int]:
    """Copy the final object ``key`` into the new file ``target`` (fsynced), computing every
    digest of ``algorithms`` in the same pass. Memory: the buffer pool."""
    if isinstance(backend, LocalBackend):
        read, done = _local_reader(backend, key)
    else:
        read, done = _stream_reader(backend, key, chunk_size)
    staging = LocalStaging(target)
    try:
        digests, size = fan_copy(read, staging, algorithms, chunk_size, progress)
        staging.close()  # fsync
    except BaseException:
        staging.abort()
        raise
    finally:
        done()
    return digests, size


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the export -----------------------------------------------------------------------------

def _items(recordings: list[Recording], playback_copies: bool) -> list[Item]:
    items = [Item(path=f"{ORIGINALS}/{r.pk}-{safe_name(r.source_path)}", recording=r,
                  blob=r.blob, kind="original") for r in recordings]
    if playback_copies:
        by_id = {r.pk: r for r in recordings}
        for d in (Derivative.objects.filter(recording__in=recordings, kind=Kind.PLAYBACK,
                                            status=Status.DONE, blob__isnull=False,
                                            blob__removed_at__isnull=True)
                  .select_related("blob").order_by("recording_id", "id")):
            r = by_id[d.recording_id]
            stem = safe_name(r.source_path).rsplit(".", 1)[0]
            suffix = ".m4a" if r.kind == MediaKind.AUDIO else ".mp4"
            items.append(Item(path=f"{COPIES}/{r.pk}-{stem}-playback{suffix}", recording=r,
                              blob=d.blob, kind="playback"))
    return items


def _expected(blob: Blob) -> dict[str, str]:
    return {**blob.digests, "sha256": blob.sha256}


def _algorithms(agency) -> tuple[str, ...]:
    """The profile's digest algorithms, SHA-256 first: the manifests', and those computed
    while copying (each compared with the register where it holds one; SHA-256 always)."""
    from witness.profiles import services as profiles

    version = profiles.active_version(agency, required=False) if agency else None
    return check_algorithms(profiles.profile_of(version).digests if version else ())


def _copy_all(items: list[Item], root: Path, backend: BlobBackend, algorithms, *,
              chunk_size: int, progress: Progress) -> None:
    for item in items:
        read, size = copy_object(backend, item.blob.key, root / item.path, algorithms,
                                 chunk_size=chunk_size, progress=progress)
        want = _expected(item.blob)
        differ = sorted(a for a in want if a in read and read[a] != want[a])
        if size != item.blob.size:
            differ.append("size")
        if differ:
            raise Mismatch(item, read, size, differ)
        item.digests, item.size = read, size


def _mismatch(actor, obj, exc: Mismatch) -> ExportError:
    item, blob = exc.item, exc.item.blob
    details = {"object": ref_of(obj), "recording": item.recording.pk, "kind": item.kind,
               "key": blob.key, "expected": _expected(blob), "read": exc.read,
               "size_expected": blob.size, "size_read": exc.size, "mismatched": exc.differ}
    with transaction.atomic():
        activity = item.recording.activity
        unit = activity.unit if activity is not None else getattr(item.recording.device,
                                                                  "unit", None)
        raise_finding(RULE, blob, {**details, "for_roles": FOR_ROLES},
                      key=f"export:{exc.read.get('sha256', '')}:{exc.size}",
                      severity=Severity.SERIOUS, actor=actor, unit=unit,
                      occurred_at=item.recording.started_at)
        audit.append(actor, "evidence.export", obj, outcome="failure", details=details)
    return ExportError(
        _("The stored original of recording %(id)s does not match the digests recorded at "
          "ingest (%(what)s differ): the export was stopped, nothing was left in the target, "
          "and a finding was raised."), code="export_mismatch", id=item.recording.pk,
        what=", ".join(exc.differ))


def extractor_of(subject: authz.Subject | None, actor) -> dict:
    if subject is not None and subject.person is not None:
        p = subject.person
        return {"name": p.name, "badge_number": p.badge_number or "",
                "unit": p.unit.name if p.unit_id else "",
                "username": subject.user.get_username()}
    if subject is not None:
        return {"name": subject.user.get_username(), "badge_number": "", "unit": "",
                "username": subject.user.get_username()}
    label = str(actor)
    return {"name": label, "badge_number": "", "unit": "", "username": label}


def bag_info(obj, agency, extractor: dict, when, items: list[Item], extra=()) -> bytes:
    total = sum(i.size for i in items)
    if isinstance(obj, Case):
        external = obj.number
    elif isinstance(obj, Activity):
        external = f"{obj.case.number} / activity:{obj.pk}" if obj.case_id else ref_of(obj)
    else:
        external = ref_of(obj)
    lines = [("Source-Organization", agency.name if agency else ""),
             ("Bagging-Date", timezone.localtime(when).date().isoformat()),
             ("Payload-Oxum", f"{total}.{len(items)}"),
             ("External-Identifier", external),
             ("Contact-Name", extractor["name"]),
             ("Bag-Software-Agent", "Witness"),
             ("Witness-Extracted-At", timezone.localtime(when).isoformat(timespec="seconds")),
             ("Witness-Object", ref_of(obj)), *extra]
    return "".join(f"{k}: {_value(v)}\n" for k, v in lines).encode()


def export(obj, out: str | os.PathLike, *, subject: authz.Subject | None = None,
           actor=None, playback_copies: bool = False, backend: BlobBackend | None = None,
           chunk_size: int = CHUNK, progress: Progress = None, recordings=None) -> dict:
    """Write the evidence package of ``obj`` (a Recording, Activity or Case) to the folder
    ``out``; ``subject`` is the person exporting (None: the server's operator, ``actor``).
    ``recordings``: exactly these (an approved request's items, witness.preservation.packages)
    instead of all of ``obj``'s. Returns what the command prints."""
    started = time.monotonic()
    actor = actor if actor is not None else (subject.user if subject is not None else None)
    out = Path(out)
    recordings = recordings_of(obj) if recordings is None else list(recordings)
    authorize(subject, obj, recordings, actor=actor)
    partial = check_target(out)
    backend = backend or get_backend()
    agency = agency_of(obj)
    items = _items(recordings, playback_copies)
    profile = _algorithms(agency)
    extractor = extractor_of(subject, actor)
    when = timezone.now()
    os.mkdir(partial, 0o755)
    renamed = False
    try:
        for folder in {str(Path(i.path).parent) for i in items}:
            (partial / folder).mkdir(parents=True, exist_ok=True)
        copy_started = time.monotonic()
        try:
            _copy_all(items, partial, backend, profile, chunk_size=chunk_size,
                      progress=progress)
        except Mismatch as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise _mismatch(actor, obj, exc) from None
        except (OSError, WitnessError) as exc:  # an original missing, a disk full …
            error = exc if isinstance(exc, WitnessError) else ExportError(
                _("Cannot write the package %(path)s: %(reason)s"), code="cannot_write",
                path=str(out), reason=exc.strerror or str(exc))
            with transaction.atomic():
                audit.append(actor, "evidence.export", obj, outcome="failure",
                             details={"object": ref_of(obj), "path": str(out),
                                      "error": error.as_dict()})
            raise error from exc
        copy_seconds = time.monotonic() - copy_started
        tags = _tag_files(obj, agency, extractor, when, items, profile, actor=actor)
        for name, data in tags.items():
            _write(partial / name, data)
        signed = _sign(partial, tags, profile)
        for folder in sorted({str(Path(i.path).parent) for i in items}, reverse=True):
            _fsync_dir(partial / folder)
        _fsync_dir(partial / "data")
        _fsync_dir(partial)
        payload = sum(i.size for i in items)
        details = {"object": ref_of(obj), "path": str(out), "files": len(items),
                   "bytes": payload, "originals": sum(i.kind == "original" for i in items),
                   "playback_copies": sum(i.kind == "playback" for i in items),
                   "recordings": [r.pk for r in recordings], "algorithms": list(profile),
                   "tagmanifest_sha256": signed["tagmanifest_sha256"],
                   "signature_algorithm": signed["algorithm"], "key_id": signed["key_id"]}
        with transaction.atomic():
            audit.append(actor, "evidence.export", obj, details=details)
            for r in recordings:
                if r is not obj:
                    audit.append(actor, "recording.export", r, details={
                        "package": ref_of(obj), "tagmanifest_sha256":
                        signed["tagmanifest_sha256"]})
            if out.exists() or out.is_symlink():
                _still_empty(out)
            os.rename(partial, out)
            renamed = True
        renamed = False  # committed with its entry: the package stays, whatever follows
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        if renamed:  # its audit entry did not commit: no package without its entry
            shutil.rmtree(out, ignore_errors=True)
        raise
    seconds = time.monotonic() - started
    return {**details, "path": str(out), "seconds": round(seconds, 3),
            "mb_per_s": round(payload / seconds / 1e6, 1) if seconds else None,
            "copy_seconds": round(copy_seconds, 3),
            "copy_mb_per_s": round(payload / copy_seconds / 1e6, 1) if copy_seconds else None}


def _still_empty(out: Path) -> None:
    if not out.is_dir() or out.is_symlink() or any(out.iterdir()):
        raise Refused(_("%(path)s exists and is not an empty folder; an evidence package "
                        "never overwrites anything."), code="target_exists", path=str(out))


def _tag_files(obj, agency, extractor, when, items, profile, *, actor, extra_info=(),
               extra_facts=(), custody_pdf: bytes | None = None) -> dict[str, bytes]:
    """The tag files; a disc of a preservation set (witness.preservation) adds its lines
    (``extra_info``: bag-info, ``extra_facts``: the explanation) and shares one custody
    report among its discs."""
    from .explanation import render_explanation

    files = [(i.path, i.digests) for i in items]
    tags = {"bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
            "bag-info.txt": bag_info(obj, agency, extractor, when, items, extra_info)}
    for algorithm in profile:
        tags[f"manifest-{algorithm}.txt"] = manifest(files, algorithm)
    tags[EXPLANATION] = render_explanation(obj, agency, extractor, when, items, profile,
                                           extra_facts=extra_facts)
    tags[CUSTODY] = (custody_pdf if custody_pdf is not None
                     else custody.render(custody.collect(obj, actor=actor), "pdf"))
    return tags


def _sign(root: Path, tags: dict[str, bytes], profile) -> dict:
    """The tag manifests over every tag file, and the signature over tagmanifest-sha256."""
    digests = {name: {a: hashlib.new(a, data).hexdigest() for a in profile}
               for name, data in tags.items()}
    listed = [(name, d) for name, d in digests.items()]
    signed = b""
    for algorithm in profile:
        data = manifest(listed, algorithm)
        _write(root / f"tagmanifest-{algorithm}.txt", data)
        if algorithm == "sha256":
            signed = data
    key = keys.signer()
    signature = {"algorithm": key.algorithm, "key_id": key.public.key_id,
                 "signed": "tagmanifest-sha256.txt",
                 "signature": base64.b64encode(key.sign(signed)).decode()}
    _write(root / SIGNATURE, (json.dumps(signature, indent=2) + "\n").encode())
    _write(root / PUBLIC_KEY, key.public.pem().encode())
    return {"tagmanifest_sha256": hashlib.sha256(signed).hexdigest(),
            "algorithm": key.algorithm, "key_id": key.public.key_id}
