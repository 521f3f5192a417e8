"""The audit pages (issue 4 item 6; GB/T 22239-2019 level 3 security audit).

The audit administrator searches the whole log (actor, action, object, outcome, time),
opens an entry with its Merkle inclusion proof and the signed checkpoint it is proven
against, and lists the checkpoints. The legal and supervision role (法制监督) reads the
access history of recordings (``RECORDING_ACCESS_PREFIXES``) and those entries alone.
Nobody else sees the log (witness.web.access). Nothing here changes the log but the
``audit.view`` entry that reading it writes: reading audit records is itself recorded.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from django import forms
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from witness.access.authz import Denied
from witness.audit import canonical, log
from witness.audit import services as audit
from witness.audit.models import AuditEntry, Checkpoint, Outcome
from witness.audit.sequencer import tree_size
from witness.core.errors import WitnessError
from witness.web.forms import DateTimeLocalInput
from witness.web.views.common import error_lines, keyset, roles_required

# The access history of recordings: entries of a view, play, download or export. The one
# definition, used by the legal and supervision role's page, the entries it may open and
# the tests. Matched as prefixes of the action ("recording.play" and "recording.play_start"
# alike; any "stream.", "download." or "export." action).
RECORDING_ACCESS_PREFIXES = (
    "recording.view", "recording.play", "recording.download", "recording.export",
    "stream.", "download.", "export.", "disclosure.",
)

VIEW_ACTION = "audit.view"


def recording_access() -> Q:
    """The entries of the access history of recordings, as a filter."""
    q = Q()
    for prefix in RECORDING_ACCESS_PREFIXES:
        q |= Q(action__startswith=prefix)
    return q


def is_recording_access(action: str) -> bool:
    return action.startswith(RECORDING_ACCESS_PREFIXES)


def reads_whole_log(request) -> bool:
    """The policy's ``audit.read`` (the audit administrator alone): the whole log."""
    return request.subject.may("audit.read")


def visible_entries(request):
    """The entries the user may read: all for the audit administrator, the access history
    of recordings for the legal and supervision role."""
    qs = AuditEntry.objects.all()
    if not reads_whole_log(request):
        qs = qs.filter(recording_access())
    return qs


def leaf_of(entry: AuditEntry):
    """The entry's leaf (selected with it), None before the sequencer reached it."""
    try:
        return entry.leaf
    except ObjectDoesNotExist:
        return None


# -- search ---------------------------------------------------------------------------------


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=200, label=_("actor"),
                            help_text=_("part of the name, or the user's id"))
    action = forms.CharField(required=False, max_length=100, label=_("action"),
                             help_text=_("e.g. device.issue, or device for all of them"))
    object_type = forms.CharField(required=False, max_length=100, label=_("object type"),
                                  help_text=_("e.g. devices.device"))
    object_id = forms.CharField(required=False, max_length=64, label=_("object id"))
    outcome = forms.ChoiceField(required=False, label=_("outcome"),
                                choices=[("", _("Any outcome")), *Outcome.choices])
    since = forms.DateTimeField(required=False, label=_("recorded from"),
                                widget=DateTimeLocalInput())
    until = forms.DateTimeField(required=False, label=_("recorded until"),
                                widget=DateTimeLocalInput())

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end of the period is before its start."))
        return data


class AccessFilterForm(AuditFilterForm):
    """The legal and supervision role's filters: the object is a recording (or what was
    exported), so its type is not asked for."""

    object_type = None


def _dotted(field: str, value: str) -> Q:
    """``value`` itself, or everything under it: "device" finds "device.issue"."""
    stem = value.rstrip(".")
    return Q(**{field: value}) | Q(**{f"{field}__startswith": f"{stem}."})


def apply_filters(qs, data: dict):
    if data.get("actor"):
        qs = qs.filter(Q(actor_label__icontains=data["actor"]) | Q(actor_id=data["actor"]))
    if data.get("action"):
        qs = qs.filter(_dotted("action", data["action"]))
    if data.get("object_type"):
        qs = qs.filter(_dotted("object_type", data["object_type"]))
    if data.get("object_id"):
        qs = qs.filter(object_id=data["object_id"])
    if data.get("outcome"):
        qs = qs.filter(outcome=data["outcome"])
    if data.get("since"):
        qs = qs.filter(created_at__gte=data["since"])
    if data.get("until"):
        qs = qs.filter(created_at__lte=data["until"])
    return qs


def _as_text(value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def searched_for(form) -> dict:
    """The filters as the audit entry of the search records them (text only)."""
    if form.is_bound and form.is_valid():
        return {k: _as_text(v) for k, v in form.cleaned_data.items() if v not in ("", None)}
    return {k: str(form.data.get(k, ""))[:200] for k in form.fields if form.data.get(k)}


def _search(request, page_name: str, form_class, template_context: dict):
    form = form_class(request.GET or None)
    qs, status = visible_entries(request), 200
    if form.is_bound and not form.is_valid():
        qs, status = qs.none(), 400
    elif form.is_bound:
        qs = apply_filters(qs, form.cleaned_data)
    details = {"page": page_name, "filters": searched_for(form)}
    if request.GET.get("after"):
        details["after"] = request.GET["after"][:100]
    if status != 200:
        details["invalid"] = True
    with transaction.atomic():
        page = keyset(request, qs.select_related("leaf"), "created_at", descending=True)
        audit.append(request.user, VIEW_ACTION, details=details)
    for entry in page.rows:
        leaf = leaf_of(entry)
        entry.leaf_index = None if leaf is None else leaf.index
    return render(request, "web/audit/search.html",
                  {"form": form, "page": page, "page_name": page_name, **template_context},
                  status=status)


@roles_required("audit_log")
def audit_log(request):
    return _search(request, "audit_log", AuditFilterForm, {
        "title": _("Audit log"),
        "intro": _("Every action and every access, as recorded: newest first. Each entry "
                   "is a leaf of the signed Merkle log; open it for its inclusion proof."),
    })


@roles_required("recording_access")
def access_history(request):
    return _search(request, "recording_access", AccessFilterForm, {
        "title": _("Recording access history"),
        "intro": _("Who viewed, played, downloaded or exported recordings, and when: "
                   "newest first, read-only."),
    })


# -- one entry ------------------------------------------------------------------------------


def _hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def proof_of(entry: AuditEntry) -> dict:
    """What the entry page shows of the entry's place in the log: its leaf, and its
    inclusion proof in the tree of the latest checkpoint that holds it (else the whole
    tree); or why there is none."""
    leaf = leaf_of(entry)
    if leaf is None:
        return {"leaf": None}
    found = {"leaf": leaf, "leaf_hash": bytes(leaf.leaf_hash).hex()}
    try:
        document = log.inclusion(leaf.index)
    except WitnessError as exc:
        return {**found, "error_lines": error_lines(exc)}
    except LookupError:
        return {**found, "error_lines": [str(_("The stored tree lacks nodes of this proof: "
                                               "run witness audit verify."))]}
    return {**found, "document": document,
            "document_json": json.dumps(document, indent=2, ensure_ascii=False),
            "root": _hex(document["root"]), "path": [_hex(h) for h in document["proof"]],
            "checkpoint": document["checkpoint"]}


@roles_required("audit_entry")
def audit_entry(request, pk):
    """All of one entry, its leaf and its inclusion proof. ``?format=json`` downloads the
    proof document that ``witness audit check-proof`` reads."""
    as_json = request.GET.get("format") == "json"
    with transaction.atomic():
        entry = get_object_or_404(AuditEntry.objects.select_related("leaf"), pk=pk)
        if not (reads_whole_log(request) or is_recording_access(entry.action)):
            # the legal role reads the access history alone
            raise Denied(_("This entry is outside the access history of recordings."),
                         code="scope")
        proof = proof_of(entry)
        if as_json and "document" not in proof:
            raise Http404(_("This entry has no inclusion proof yet."))
        audit.append(request.user, VIEW_ACTION, entry, details={
            "page": "audit_entry", **({"format": "json"} if as_json else {})})
    if as_json:
        response = JsonResponse(proof["document"],
                                json_dumps_params={"ensure_ascii": False, "indent": 2})
        response["Content-Disposition"] = (
            f'attachment; filename="audit-entry-{entry.pk}-proof.json"')
        return response
    return render(request, "web/audit/entry.html", {
        "entry": entry,
        "utc_time": canonical.format_time(entry.created_at),
        "details_json": json.dumps(entry.details, indent=2, ensure_ascii=False,
                                   sort_keys=True),
        "full_log": reads_whole_log(request),
        **proof,
    })


# -- checkpoints ----------------------------------------------------------------------------


@roles_required("audit_checkpoints")
def audit_checkpoints(request):
    """The signed checkpoints, largest tree first."""
    page = keyset(request, Checkpoint.objects.all(), "tree_size", descending=True)
    for cp in page.rows:
        cp.root_hex = bytes(cp.root).hex()
        cp.signature_b64 = base64.b64encode(bytes(cp.signature)).decode()
    return render(request, "web/audit/checkpoints.html",
                  {"page": page, "tree_size": tree_size()})
