"""The custodian's ingest pages (issue 3 items 5 and 6): the station — every docked volume
with its state and live progress (HTMX polls the table while anything is in progress), a
retry for a failed volume —, the upload of single files through the same pipeline, and the
per-file outcomes of an ingest run."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from witness.audit import services as audit
from witness.core.errors import WitnessError
from witness.ingest.uploads import ingest_uploads
from witness.recordings.models import IngestRun
from witness.station.models import ACTIVE_STATES, StationVolume, VolumeState
from witness.web.forms import UploadForm
from witness.web.views.common import add_error, form_status, keyset, roles_required

RECENT = timedelta(days=1)  # undocked volumes stay on the page this long


def _visible(request):
    """The rows of this agency's stations."""
    return StationVolume.objects.filter(agency=request.agency)


def _volumes(request) -> list[StationVolume]:
    since = timezone.now() - RECENT
    return list(_visible(request).filter(Q(present=True) | Q(first_seen__gte=since))
                .select_related("run", "run__device").order_by("-present", "path", "-id")[:200])


def _context(request) -> dict:
    rows = _volumes(request)
    return {"volumes": rows, "busy": any(r.state in ACTIVE_STATES for r in rows)}


@roles_required("station")
def station(request):
    context = _context(request)
    template = ("web/station/_volumes.html" if request.headers.get("HX-Request") == "true"
                else "web/station/station.html")
    return render(request, template, context)


@roles_required("station_retry")
def station_retry(request, pk):
    """POST: a failed volume that is still docked waits for a slot again, in a new row
    (the failed one stays as history)."""
    if request.method != "POST":
        return redirect("station")
    with transaction.atomic():
        row = get_object_or_404(_visible(request).select_for_update(), pk=pk)
        if row.state != VolumeState.FAILED or not row.present:
            messages.error(request, _("Only a failed volume that is still docked can be "
                                      "retried."))
            return render(request, "web/station/station.html", _context(request), status=409)
        StationVolume.objects.filter(pk=pk).update(present=False)
        again = StationVolume.objects.create(
            agency=row.agency, host=row.host, watch_dir=row.watch_dir, path=row.path,
            serial=row.serial, wipe=row.wipe, state=VolumeState.QUEUED,
            signature=row.signature, changed_at=timezone.now())
        audit.append(request.user, "station.retry", again, details={
            "volume": row.path, "failed": row.pk})
    return redirect("station")


@roles_required("ingest_run")
def ingest_run(request, pk):
    run = get_object_or_404(IngestRun.objects.select_related("device"),
                            agency=request.agency, pk=pk)
    page = keyset(request, run.items.select_related("recording"), "finished_at",
                  descending=False)
    return render(request, "web/station/run.html", {"run": run, "page": page})


@roles_required("ingest_upload")
def ingest_upload(request):
    """Photos and recorder files for a device, or historical footage: stored, verified and
    attributed by the ingest pipeline, then the run's page with each file's outcome."""
    form = UploadForm(request.agency, request.POST or None, request.FILES or None)
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            run = ingest_uploads(form.cleaned_data["files"], agency=request.agency,
                                 device=form.cleaned_data["device"], actor=request.user,
                                 user=request.user)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            counts = run.counts
            text = _("%(stored)s stored, %(duplicate)s already stored, %(failed)s failed.") % {
                "stored": counts["stored"], "duplicate": counts["duplicate"],
                "failed": counts["failed"]}
            (messages.error if counts["failed"] else messages.success)(request, text)
            return redirect("ingest_run", pk=run.pk)
    return render(request, "web/station/upload.html", {"form": form},
                  status=form_status(form, status))
