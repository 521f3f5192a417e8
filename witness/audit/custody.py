"""Chain-of-custody reports (issue 4 item 5; ING-4, EVD-1, SUP-2): every audit entry that
touches a recording, an activity or a case — from the device ledger through ingest, views,
approvals and exports — each with its Merkle leaf and its inclusion proof against one signed
checkpoint, so that the report can be checked with the agency's public key alone
(``docs/custody.md``; the same encodings as ``docs/audit_verify.py``).

What a recording's report covers (:func:`scope_of` gathers it): the recording, its
stored original (``storage.blob``), its ingest run, the ledger line it was recorded under
(``devices.deviceissue``) with that line's checks and the device events of the period, the
device's own entries during that period, its derivatives, and the findings about any of
them. An activity adds its own entries and its recordings; a case its activities.

Reading is set-based: one query per object type (ids in batches), one for the device
periods, and the proof nodes of all entries in a few batched reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access.models import AccessRequest
from witness.activities.models import Activity, Case
from witness.confidentiality.models import LabelChange
from witness.core.errors import NotFound, WitnessError
from witness.derivatives.models import Derivative
from witness.devices.models import Device, DeviceEvent, DeviceIssue, PreUseCheck
from witness.findings.models import Finding
from witness.recordings.models import IngestRun, Recording
from witness.storage.models import Blob

from . import canonical, keys, log, merkle, store
from . import services as audit
from .models import AuditEntry, Checkpoint
from .sequencer import Sequencer

FORMAT = "witness-custody/v1"
FORMATS = ("pdf", "json")
ID_BATCH = 500  # object ids per IN list

class CustodyError(WitnessError):
    code = "custody_error"


def collect(obj, *, actor=None) -> dict:
    """The chain-of-custody report of a Recording, an Activity or a Case, as JSON data.

    Sequences what has committed, signs a checkpoint if none covers the entries (``actor``
    is who asked for it), and proves every entry against that checkpoint. Raises
    :class:`CustodyError` where the stored log does not prove an entry (then ``witness
    audit verify`` names the damage)."""
    scope = scope_of(obj)
    Sequencer().drain()
    rows = _entry_rows(scope)
    if any(row[0] is None for row in rows):  # committed between the drain and the read
        Sequencer().drain()
        rows = _entry_rows(scope)
    rows = [row for row in rows if row[0] is not None]
    needed = max((row[0] for row in rows), default=-1) + 1
    cp = log.latest_checkpoint(needed) or log.checkpoint(actor=actor, sequence=False)
    public = _checked_key(cp)
    entries = _prove(rows, cp, scope)
    return {
        "format": FORMAT,
        "subject": scope.subject,
        "agency": scope.agency,
        "generated_at": canonical.format_time(timezone.now()),
        "time_zone": settings.TIME_ZONE,
        "case": scope.case,
        "activities": scope.activities,
        "recordings": scope.recordings,
        "findings": scope.findings,
        "entries": entries,
        "checkpoint": log.checkpoint_json(cp),
        "public_key": {"algorithm": public.algorithm, "key_id": public.key_id,
                       "pem": public.pem()},
    }


def resolve(text: str):
    """The object that ``witness custody OBJECT`` names: ``recording:ID``, ``activity:ID``,
    ``case:NUMBER`` or ``case:ID``."""
    kind, sep, value = text.partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if not sep or not value or kind not in ("recording", "activity", "case"):
        raise CustodyError(_("Name the object as recording:ID, activity:ID or case:NUMBER (or "
                             "case:ID), not %(text)s."), code="bad_object", text=text)
    pk = int(value) if value.isdigit() and len(value) < 19 else None
    if kind == "recording":
        found = Recording.objects.filter(pk=pk).first() if pk is not None else None
        error = NotFound(_("No recording with id %(id)s."), code="recording_not_found",
                         id=value)
    elif kind == "activity":
        found = Activity.objects.filter(pk=pk).first() if pk is not None else None
        error = NotFound(_("No enforcement activity with number %(id)s."),
                         code="activity_not_found", id=value)
    else:
        found = Case.objects.filter(number=value).first() or (
            Case.objects.filter(pk=pk).first() if pk is not None else None)
        error = NotFound(_("No case with number %(number)s."), code="case_not_found",
                         number=value)
    if found is None:
        raise error
    return found


def format_for(path: Path, fmt: str | None = None) -> str:
    if fmt is None:
        fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise CustodyError(_("Say --format pdf or --format json: the file name %(name)s does "
                             "not tell which."), code="bad_format", name=path.name)
    return fmt


def render(report: dict, fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode()
    from .custody_pdf import render_pdf  # typst is loaded only for PDFs

    return render_pdf(report)


def write_report(obj, out: Path, fmt: str | None = None, *, actor=None) -> dict:
    """Collect, render and write the report of ``obj`` to ``out``; the file appears only
    together with its audit entry (``custody.report``, with the file's SHA-256)."""
    out = Path(out)
    fmt = format_for(out, fmt)
    report = collect(obj, actor=actor)
    data = render(report, fmt)
    digest = hashlib.sha256(data).hexdigest()
    cp = report["checkpoint"]
    details = {"format": fmt, "file": out.name, "sha256": digest, "size": len(data),
               "entries": len(report["entries"]), "recordings": len(report["recordings"]),
               "tree_size": cp["tree_size"], "root": cp["root"]}
    temporary = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with transaction.atomic():
            audit.append(actor, "custody.report", obj, details=details)
            os.replace(temporary, out)
    except OSError as exc:
        raise CustodyError(_("Cannot write %(path)s: %(error)s"), code="cannot_write",
                           path=str(out), error=exc.strerror or str(exc)) from exc
    finally:
        temporary.unlink(missing_ok=True)
    return {"object": report["subject"]["ref"], "out": str(out), **details}


# -- what the report covers --------------------------------------------------------------

# the prefix of each kind of object in "about" tags and in `witness custody OBJECT`
TAGS = {Recording: "recording", Blob: "blob", IngestRun: "ingest_run", DeviceIssue: "ledger",
        Derivative: "derivative", Finding: "finding", Activity: "activity", Case: "case",
        Device: "device", AccessRequest: "request", LabelChange: "label_change"}
DEVICE_TYPE = Device._meta.label_lower


def _time(moment) -> str | None:
    return canonical.format_time(moment) if moment else None


@dataclass
class Scope:
    """The objects a report covers: summaries for the report, and what selects entries —
    ``refs`` ((object type, object id) → about tags) and ``device_periods`` (a Q each)."""

    subject: dict
    agency: dict | None
    case: dict | None = None
    activities: list[dict] = field(default_factory=list)
    recordings: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    refs: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    device_periods: list[Q] = field(default_factory=list)

    def add(self, obj, tag: str | None = None) -> str:
        tag = tag or f"{TAGS[type(obj)]}:{obj.pk}"
        self.refs[obj._meta.label_lower, str(obj.pk)].add(tag)
        return tag

    def about(self, object_type: str, object_id: str) -> list[str]:
        tags = self.refs.get((object_type, object_id))
        if tags:
            return sorted(tags)
        return [f"device:{object_id}"] if object_type == DEVICE_TYPE else []


def _agency(agency) -> dict | None:
    return {"name": agency.name, "code": agency.code} if agency else None


def scope_of(obj) -> Scope:
    if isinstance(obj, Recording):
        run, device = obj.ingest_run, obj.device
        agency = run.agency if run else device.unit.agency if device else None
        scope = Scope(subject={"kind": "recording", "id": obj.pk, "ref": f"recording:{obj.pk}",
                               "label": obj.source_path}, agency=_agency(agency))
        _add_recordings(scope, Q(pk=obj.pk))
    elif isinstance(obj, Activity):
        scope = Scope(subject={"kind": "activity", "id": obj.pk, "ref": f"activity:{obj.pk}",
                               "label": str(obj)}, agency=_agency(obj.agency))
        scope.activities = [_activity(scope, obj)]
        _add_recordings(scope, Q(activity=obj))
    elif isinstance(obj, Case):
        scope = Scope(subject={"kind": "case", "id": obj.pk, "ref": f"case:{obj.pk}",
                               "label": str(obj)}, agency=_agency(obj.agency))
        scope.case = {"ref": scope.add(obj), "id": obj.pk, "number": obj.number,
                      "name": obj.name, "status": obj.status,
                      "retention_class": obj.retention_class,
                      "opened_at": _time(obj.opened_at), "closed_at": _time(obj.closed_at)}
        scope.activities = [_activity(scope, a) for a in obj.activities.select_related("unit")
                            .order_by("arrived_at", "id")]
        _add_recordings(scope, Q(activity__case=obj))
    else:
        raise TypeError(f"no chain-of-custody report for {obj!r}")
    _add_access(scope, obj)
    _add_findings(scope)
    return scope


def _add_access(scope: Scope, obj) -> None:
    """Who asked to view or disclose the recordings in scope and who approved it (EVD-2,
    EVD-3), and the changes of their confidentiality labels (EVD-4): each request and label
    change is an object in scope, so its entries (submitted, decided, registered, granted,
    revoked) are in the report."""
    ids = [r["id"] for r in scope.recordings]
    for pk in (AccessRequest.objects.filter(items__recording_id__in=ids).order_by()
               .values_list("id", flat=True).distinct()):
        scope.refs["access.accessrequest", str(pk)].add(f"request:{pk}")
    labels = Q(recording_id__in=ids)
    if isinstance(obj, Activity):
        labels |= Q(activity=obj)
    elif isinstance(obj, Case):
        labels |= Q(case=obj) | Q(activity__case=obj)
    for pk in LabelChange.objects.filter(labels).order_by().values_list("id", flat=True):
        scope.refs["confidentiality.labelchange", str(pk)].add(f"label_change:{pk}")


def _activity(scope: Scope, activity: Activity) -> dict:
    return {"ref": scope.add(activity), "id": activity.pk, "type": activity.activity_type,
            "place": activity.place, "unit": activity.unit.name, "case": activity.case_id,
            "arrived_at": _time(activity.arrived_at),
            "departed_at": _time(activity.departed_at)}


def _add_recordings(scope: Scope, q: Q) -> None:
    recordings = list(Recording.objects.filter(q).select_related(
        "blob", "device", "holder", "ingest_run", "issue__device", "issue__holder",
        "issue__holder_unit", "issue__issued_by", "issue__returned_to",
    ).order_by("started_at", "id"))
    ledgers = _ledgers(scope, {r.issue_id: r.issue for r in recordings if r.issue_id})
    derivatives = defaultdict(list)
    for d in (Derivative.objects.filter(recording__in=recordings).select_related("blob")
              .order_by("id")):
        derivatives[d.recording_id].append({
            "ref": scope.add(d), "id": d.pk, "kind": d.kind, "status": d.status,
            "sha256": d.blob.sha256 if d.blob else None})
    for r in recordings:
        run = r.ingest_run
        scope.recordings.append({
            "ref": scope.add(r), "id": r.pk, "kind": r.kind, "source_path": r.source_path,
            "started_at": _time(r.started_at), "ended_at": _time(r.ended_at),
            "time_source": r.time_source, "important": r.important,
            "device": ({"id": r.device_id, "serial": r.device.serial, "kind": r.device.kind,
                        "model": r.device.model} if r.device else None),
            "holder": ({"id": r.holder_id, "name": r.holder.name,
                        "badge_number": r.holder.badge_number} if r.holder else None),
            "activity": r.activity_id, "attribution": r.attribution,
            "ingested_at": _time(r.ingested_at),
            "ingest_run": ({"ref": scope.add(run), "id": run.pk, "volume": run.volume,
                            "status": run.status, "started_at": _time(run.started_at),
                            "finished_at": _time(run.finished_at)} if run else None),
            "original": _original(scope, r.blob),
            "ledger": ledgers.get(r.issue_id),
            "derivatives": derivatives[r.pk],
        })


def _original(scope: Scope, blob: Blob) -> dict:
    return {"ref": scope.add(blob), "id": blob.pk, "sha256": blob.sha256, "size": blob.size,
            "digests": [{"algorithm": name, "hex": value}
                        for name, value in sorted(blob.digests.items())],
            "backend": blob.backend, "key": blob.key, "stored_at": _time(blob.stored_at),
            "verified_at": _time(blob.verified_at)}


def _username(user) -> str | None:
    return user.get_username() if user else None


def _ledgers(scope: Scope, issues: dict[int, DeviceIssue]) -> dict[int, dict]:
    """The ledger lines with their checks and the device events of their periods; adds
    each period's device entries to the scope."""
    if not issues:
        return {}
    checks, events = defaultdict(list), defaultdict(list)
    for c in (PreUseCheck.objects.filter(issue_id__in=issues).select_related("checked_by")
              .order_by("checked_at", "id")):
        checks[c.issue_id].append(c)
    during = Q(pk__in=[])
    for issue in issues.values():
        q = Q(device_id=issue.device_id, occurred_at__gte=issue.issued_at)
        during |= q & Q(occurred_at__lte=issue.returned_at) if issue.returned_at else q
    for e in DeviceEvent.objects.filter(during).order_by("occurred_at", "id"):
        for issue in issues.values():
            if issue.device_id == e.device_id and issue.issued_at <= e.occurred_at and (
                    issue.returned_at is None or e.occurred_at <= issue.returned_at):
                events[issue.pk].append(e)
    return {pk: _ledger(scope, issue, checks[pk], events[pk]) for pk, issue in issues.items()}


def _ledger(scope: Scope, issue: DeviceIssue, checks, events) -> dict:
    window = Q(created_at__gte=issue.issued_at)
    if issue.returned_at:
        window &= Q(created_at__lte=issue.returned_at)
    linked = Q(details__issue_id=issue.pk)
    if checks:
        linked |= Q(details__check_id__in=[c.pk for c in checks])
    if events:
        linked |= Q(details__event_id__in=[e.pk for e in events])
    scope.device_periods.append(Q(object_type=DEVICE_TYPE, object_id=str(issue.device_id))
                                & (window | linked))
    return {
        "ref": scope.add(issue), "id": issue.pk, "device": issue.device.serial,
        "holder": issue.holder.name, "holder_badge": issue.holder.badge_number,
        "holder_unit": issue.holder_unit.name, "issued_at": _time(issue.issued_at),
        "issued_by": _username(issue.issued_by), "purpose": issue.purpose,
        "long_term": issue.long_term, "returned_at": _time(issue.returned_at),
        "returned_to": _username(issue.returned_to), "return_notes": issue.return_notes,
        "checks": [{"id": c.pk, "kind": c.kind, "checked_at": _time(c.checked_at),
                    "checked_by": c.checked_by.name, "battery_percent": c.battery_percent,
                    "free_storage_mb": c.free_storage_mb, "device_time": _time(c.device_time),
                    "drift_seconds": c.drift_seconds, "working": c.working} for c in checks],
        "events": [{"id": e.pk, "kind": e.kind, "occurred_at": _time(e.occurred_at),
                    "description": e.description} for e in events],
    }


def _add_findings(scope: Scope) -> None:
    """The findings about any object in scope (one query), and their entries."""
    types = ContentType.objects.get_for_models(*TAGS)
    by_label = {model._meta.label_lower: ct for model, ct in types.items()}
    ids: dict[str, list[int]] = defaultdict(list)
    for object_type, object_id in list(scope.refs):
        if object_type in by_label and object_id.isdigit():
            ids[object_type].append(int(object_id))
    q = Q(pk__in=[])
    for object_type, pks in ids.items():
        q |= Q(content_type=by_label[object_type], object_id__in=pks)
    for finding in Finding.objects.filter(q).select_related("content_type").order_by("id"):
        subject = (finding.content_type.app_label + "." + finding.content_type.model,
                   str(finding.object_id))
        scope.findings.append({
            "ref": scope.add(finding), "id": finding.pk, "rule_id": finding.rule_id,
            "severity": finding.severity, "status": finding.status,
            "raised_at": _time(finding.raised_at), "about": sorted(scope.refs[subject])})


# -- the entries -------------------------------------------------------------------------

ROW = ("leaf__index", "leaf__leaf_hash", "id", "created_at", *canonical.STRING_FIELDS,
       "details")


def _batches(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _entry_rows(scope: Scope) -> list[tuple]:
    """(leaf index or None, leaf hash, entry fields…) of every entry in scope, in time
    order; one query per object type and batch of ids, one for the device periods."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for object_type, object_id in scope.refs:
        by_type[object_type].append(object_id)
    queries = [Q(object_type=t, object_id__in=chunk)
               for t, ids in sorted(by_type.items()) for chunk in _batches(sorted(ids), ID_BATCH)]
    if scope.device_periods:
        periods = Q()
        for q in scope.device_periods:
            periods |= q
        queries.append(periods)
    found: dict[int, tuple] = {}
    for q in queries:
        for row in AuditEntry.objects.filter(q).values_list(*ROW):
            found[row[2]] = row
    return sorted(found.values(), key=lambda row: (row[3], row[2]))


def _canonical(row: tuple) -> dict:
    fields = dict(zip(canonical.ENTRY_FIELDS, row[2:], strict=True))
    fields["created_at"] = canonical.format_time(fields["created_at"])
    return canonical.canonical_object(fields)


def _prove(rows: list[tuple], cp: Checkpoint, scope: Scope) -> list[dict]:
    size, top = cp.tree_size, bytes(cp.root)
    try:
        nodes = store.read_nodes([*merkle.root_nodes(size), *(
            node for row in rows for node in merkle.inclusion_nodes(row[0], size))])
    except LookupError as exc:
        raise _unproved(str(exc)) from exc
    if merkle.root(size, nodes) != top:
        raise _unproved(f"the stored tree of size {size} does not give the signed root")
    entries = []
    for row in rows:
        index, leaf = row[0], bytes(row[1])
        entry = _canonical(row)
        proof = merkle.inclusion_proof(index, size, nodes)
        if (merkle.leaf_hash(canonical.encode_entry(entry)) != leaf
                or not merkle.verify_inclusion(leaf, index, size, proof, top)):
            raise _unproved(f"leaf {index}")
        entries.append({
            "type": "entry", "index": index, "tree_size": size, "leaf_hash": leaf.hex(),
            "proof": [p.hex() for p in proof], "entry": entry,
            "about": scope.about(entry["object_type"], entry["object_id"]),
        })
    return entries


def _unproved(where: str) -> CustodyError:
    return CustodyError(_("The audit log does not prove the report's entries (%(where)s): "
                          "run witness audit verify."), code="custody_unproved", where=where)


def _checked_key(cp: Checkpoint) -> keys.PublicKey:
    """The key that signed ``cp``, after checking that it is trusted and that it did."""
    key = keys.trusted().get(cp.key_id)
    body = canonical.checkpoint_body(cp.tree_size, bytes(cp.root).hex(), cp.time)
    if (key is None or key.raw != bytes(cp.public_key)
            or not key.verify(bytes(cp.signature), body)):
        raise CustodyError(_("Checkpoint %(size)s is not signed by a trusted key: run "
                             "witness audit verify."), code="custody_bad_checkpoint",
                           size=cp.tree_size)
    return key
