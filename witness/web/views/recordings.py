"""The custodian's assignment queue (issue 3 item 3): recordings ingest could not attribute
for certain, each assigned to an activity or confirmed as outside any, with audit.

The recordings are those of ``authz.visible_recordings`` (issue 5 item 1: the custodian's
scope is the agency's recordings); one outside it answers 404 with a ``denied`` entry. The
activities offered are the agency's: assigning is the custodian's task and needs them.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.access import authz
from witness.activities.models import Activity
from witness.core.errors import WitnessError
from witness.recordings import services
from witness.recordings.models import Recording
from witness.web.views.common import (
    error_lines,
    error_status,
    keyset,
    roles_required,
    scoped,
)

# Activities offered for a recording: those within this distance of its time.
NEAR = timedelta(hours=12)


def _rows(qs):
    return qs.select_related("device", "holder", "blob", "activity")


def with_candidates(agency, recordings: list[Recording]) -> list[Recording]:
    """Give each recording ``candidates``: the agency's activities near its time, from one
    query for the whole page (no N+1)."""
    times = [r.started_at for r in recordings if r.started_at]
    for r in recordings:
        r.candidates = []
    if not times:
        return recordings
    activities = list(Activity.objects.filter(
        agency=agency, arrived_at__lte=max(times) + NEAR, departed_at__gte=min(times) - NEAR)
        .select_related("unit").order_by("arrived_at", "id"))
    for r in recordings:
        if r.started_at:
            end = r.ended_at or r.started_at
            r.candidates = [a for a in activities if a.arrived_at <= end + NEAR
                            and a.departed_at >= r.started_at - NEAR]
    return recordings


@roles_required("assignment_queue")
def assignment_queue(request):
    queued = authz.visible_recordings(request.subject, services.queue(request.agency))
    page = keyset(request, _rows(queued), "ingested_at", descending=False)
    with_candidates(request.agency, page.rows)
    return render(request, "web/recordings/queue.html", {"page": page})


@roles_required("recording_assign")
def recording_assign(request, pk):
    """POST activity=<id> or activity="" with a note (outside any activity). From HTMX the
    answer is the row: gone with a notice on success, with the error (409/422) otherwise."""
    if request.method != "POST":
        return redirect("assignment_queue")
    recording = scoped(request, _rows(Recording.objects), pk, "recording.assign",
                       authz.visible_recordings)
    choice = request.POST.get("activity", "").strip()
    activity, error, status, notice = None, None, 200, None
    if choice:
        activity = Activity.objects.filter(agency=request.agency, pk=choice).first() \
            if choice.isdigit() else None
        if activity is None:
            error, status = error_lines(WitnessError(
                gettext_lazy("The chosen activity does not exist."))), 422
    if error is None:
        try:
            recording = services.assign(recording, activity, actor=request.user,
                                        note=request.POST.get("note", ""))
            notice = (_("Assigned to %(activity)s.") % {"activity": activity} if activity
                      else _("Confirmed as outside any activity."))
        except WitnessError as exc:
            error, status = error_lines(exc), error_status(exc)
    if request.headers.get("HX-Request") != "true":
        if error:
            messages.error(request, "\n".join(error))
        else:
            messages.success(request, notice)
        return redirect("assignment_queue")
    recording = _rows(Recording.objects).get(pk=recording.pk)
    with_candidates(request.agency, [recording])
    html = render_to_string("web/recordings/_queue_row.html",
                            {"r": recording, "error_lines": error, "notice": notice,
                             "done": error is None}, request=request)
    return HttpResponse(html, status=status)
