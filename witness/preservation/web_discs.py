"""Disc preservation from the web (RET-2, A16; issue 8 item 4): a custodian asks for the disc
images of an activity or a case under an approved (in force) preservation hold; a
background task (``tasks.make_discs``) runs ``discs.preserve`` into
``WITNESS_HOME/preservation/<id>/``; the page polls its status (HTMX) and offers the two
label PDFs, ``preservation.json`` and ``SHA256SUMS``. The ISO images stay on the server for
``witness burn-disc``.

Refusals follow docs/access.md: a disc set or an object of another agency answers 404 with
a ``denied`` entry; roles other than the custodian's get 403 (``recording.export``)."""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from witness.access import authz, chain
from witness.activities.models import Case
from witness.audit import services as audit
from witness.core.errors import NotFound, WitnessError
from witness.evidence import export as ex
from witness.retention.models import Hold, HoldState
from witness.web.views.common import audit_denied, error_lines, roles_required

from . import discs
from .models import DiscSet, DiscSetStatus

ACTOR = "preservation-discs"
ACTION = "recording.export"  # the custodian's (docs/access.md)
DOWNLOADS = {"label-copy-1.pdf": "application/pdf", "label-copy-2.pdf": "application/pdf",
             "preservation.json": "application/json", "SHA256SUMS": "text/plain"}
BUSY = (DiscSetStatus.QUEUED, DiscSetStatus.RUNNING, DiscSetStatus.READY)


def folder_of(disc_set_id: int) -> Path:
    return Path(settings.WITNESS_HOME) / "preservation" / str(int(disc_set_id))


def held(obj) -> bool:
    """Whether an approved preservation hold (A16) is in force on ``obj``."""
    field = "case" if isinstance(obj, Case) else "activity"
    return Hold.objects.filter(**{field: obj}, state=HoldState.ACTIVE).exists()


def ask(obj, subject: authz.Subject, *, media: str, actor) -> tuple[DiscSet, bool]:
    """Queue the disc images of ``obj`` (once: a set queued, being made or ready for it is
    returned as it is): (the set, whether a task was queued). ``preservation.disc_request``."""
    from .tasks import make_discs

    if not subject.may(ACTION) or subject.person is None:
        raise authz.Denied(_("Only a custodian of the agency makes disc images."),
                           code="not_custodian")
    if media not in discs.MEDIA:
        raise WitnessError(_("Unknown medium %(media)s; choose dvd, bd25 or bd50."),
                           code="unknown_medium", media=media)
    field = "case" if isinstance(obj, Case) else "activity"
    with transaction.atomic():
        type(obj).objects.select_for_update().get(pk=obj.pk)
        if not held(obj):
            raise WitnessError(_("%(object)s has no approved preservation hold in force; "
                                 "discs are made for held records only (A16)."),
                               code="not_held", object=ex.ref_of(obj))
        found = (DiscSet.objects.filter(**{field: obj}, media=media, status__in=BUSY)
                 .order_by("-pk").first())
        if found is not None:
            return found, False
        made = DiscSet.objects.create(agency=obj.agency, media=media, **{field: obj},
                                      requested_by=subject.person)
        audit.append(actor, "preservation.disc_request", obj, details={
            "object": ex.ref_of(obj), "disc_set": made.pk, "media": media,
            "extractor": subject.person.name})
        transaction.on_commit(lambda: make_discs.enqueue(made.pk))
    return made, True


def build(disc_set_id: int, *, actor=ACTOR) -> dict:
    """Make the queued set (a second run, or a run for a set already made, does nothing)."""
    with transaction.atomic():
        found = (DiscSet.objects.select_for_update(of=("self",))
                 .select_related("activity__agency", "case__agency", "requested_by__user")
                 .filter(pk=disc_set_id).first())
        if found is None or found.status != DiscSetStatus.QUEUED:
            return {"disc_set": disc_set_id, "status": found.status if found else None,
                    "skipped": True}
        found.status, found.started_at = DiscSetStatus.RUNNING, timezone.now()
        found.save(update_fields=["status", "started_at"])
        audit.append(actor, "preservation.disc_start", found.obj, details={
            "disc_set": found.pk, "object": ex.ref_of(found.obj)})
    out = folder_of(found.pk)
    try:
        if not held(found.obj):
            raise WitnessError(_("%(object)s has no approved preservation hold in force; "
                                 "discs are made for held records only (A16)."),
                               code="not_held", object=ex.ref_of(found.obj))
        out.parent.mkdir(parents=True, exist_ok=True)
        made = discs.preserve(found.obj, out, media=found.media,
                              subject=chain.subject_for(found.requested_by), actor=actor)
    except Exception as exc:  # recorded on the set; the task itself ends normally
        error = exc if isinstance(exc, WitnessError) else WitnessError(
            _("The disc images could not be made: %(reason)s"), code="unexpected",
            reason=f"{type(exc).__name__}: {exc}"[:300])
        with transaction.atomic():
            found.status, found.finished_at = DiscSetStatus.FAILED, timezone.now()
            found.error = error.as_dict()
            found.save(update_fields=["status", "finished_at", "error"])
            audit.append(actor, "preservation.disc_fail", found.obj, outcome="failure",
                         details={"disc_set": found.pk, "error": error.as_dict()})
        return {"disc_set": found.pk, "status": found.status, "error": error.code}
    with transaction.atomic():
        found.status, found.finished_at, found.error = DiscSetStatus.READY, timezone.now(), {}
        found.result = made
        found.save(update_fields=["status", "finished_at", "error", "result"])
        audit.append(actor, "preservation.disc_ready", found.obj, details={
            "disc_set": found.pk, "set": made["set"], "discs": made["discs"],
            "files": made["files"], "bytes": made["bytes"], "folder": str(out)})
    return {"disc_set": found.pk, "status": found.status, "discs": made["discs"]}


# -- the pages ---------------------------------------------------------------------------------

class DiscForm(forms.Form):
    object = forms.CharField(label=gettext_lazy("activity or case"), max_length=120,
                             help_text=gettext_lazy("activity:ID, or case:NUMBER (or "
                                                    "case:ID)"))
    media = forms.ChoiceField(label=gettext_lazy("medium"), initial="dvd",
                              choices=[(m, m) for m in discs.MEDIA])


def _object(request, text: str):
    """The activity or case named ``text`` of the user's agency; another agency's: 404 with
    a ``denied`` entry."""
    if text.partition(":")[0].strip().lower() not in ("activity", "case"):
        raise NotFound(_("Name an activity (activity:ID) or a case (case:NUMBER)."),
                       code="bad_object")
    obj = ex.resolve(text)
    if obj.agency_id != request.agency.pk:
        audit_denied(request, ACTION, obj, exc=authz.Denied(code="scope"))
        raise Http404
    return obj


def _disc_set(request, pk, action: str = ACTION) -> DiscSet:
    qs = DiscSet.objects.select_related("activity", "case", "requested_by")
    found = qs.filter(pk=pk, agency=request.agency).first()
    if found is None:
        other = qs.filter(pk=pk).first()
        if other is not None:
            audit_denied(request, action, other.obj, exc=authz.Denied(code="scope"))
        raise Http404
    return found


@roles_required("preservation_discs")
@require_http_methods(["GET", "POST"])
def disc_sets(request):
    """The disc sets of the agency and the form that asks for one (POST)."""
    form = DiscForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                obj = _object(request, form.cleaned_data["object"].strip())
                made, queued = ask(obj, request.subject, media=form.cleaned_data["media"],
                                   actor=request.user)
            except WitnessError as exc:
                for line in error_lines(exc):
                    form.add_error(None, line)
                status = 404 if isinstance(exc, NotFound) else 422
            else:
                if queued:
                    messages.success(request, _("The disc images are queued."))
                return redirect("preservation_disc", pk=made.pk)
    rows = (DiscSet.objects.filter(agency=request.agency)
            .select_related("activity", "case", "requested_by").order_by("-pk")[:100])
    return render(request, "preservation/discs.html", {"form": form, "rows": rows},
                  status=status)


@roles_required("preservation_discs")
@require_GET
def disc_set(request, pk):
    """One set: its status (an HTMX fragment, polled while queued or being made) and its
    downloads once ready."""
    found = _disc_set(request, pk)
    template = ("preservation/_disc_set.html" if request.headers.get("HX-Request")
                else "preservation/disc_set.html")
    folder = folder_of(found.pk)
    return render(request, template, {
        "ds": found, "downloads": list(DOWNLOADS), "folder": folder,
        "images": [f"{folder}/{e['image']}" for e in found.result.get("layout", [])],
        "polling": found.status in (DiscSetStatus.QUEUED, DiscSetStatus.RUNNING)})


@roles_required("preservation_discs")
@require_GET
def disc_file(request, pk, name):
    """A label PDF, preservation.json or SHA256SUMS of a ready set, streamed; audited
    ``preservation.disc_download``. The ISO images are not given out here."""
    found = _disc_set(request, pk)
    if name not in DOWNLOADS or found.status != DiscSetStatus.READY:
        raise Http404
    path = folder_of(found.pk) / name
    if not path.is_file():
        raise Http404
    with transaction.atomic():
        audit.append(request.user, "preservation.disc_download", found.obj, details={
            "disc_set": found.pk, "file": name, "bytes": path.stat().st_size})
    response = FileResponse(path.open("rb"), as_attachment=True,
                            filename=f"witness-discs-{found.pk}-{name}",
                            content_type=DOWNLOADS[name])
    response["Cache-Control"] = "private, no-store"
    return response
