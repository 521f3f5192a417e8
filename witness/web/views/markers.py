"""Markers in the player (issue 8 item 3): bookmarks with a note at a position of a
recording. Seen, set and removed only by those who may play the recording — the player's
own check (:func:`witness.access.authz.content_allowance`); a refusal answers 403 with a
``denied`` entry, as the player does. A marker is removed only by the person who set it.
Both changes are audited in their transaction. With HTMX the answer is the markers panel.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from witness.access import authz
from witness.audit import services as audit
from witness.core.errors import WitnessError
from witness.recordings.models import Marker, Recording
from witness.web.views.common import error_lines, roles_required
from witness.web.views.stream import refuse

NOTE_MAX = 300
# Marker.position is numeric(12,3): beyond it PostgreSQL refuses the row (a 500), so a
# recording without a known duration still has this bound.
POSITION_MAX = Decimal("999999999.999")


def markers_of(recording) -> list[Marker]:
    return list(Marker.objects.filter(recording=recording).select_related("person")
                .order_by("position", "id"))


def _allowed(request, recording):
    subject = authz.subject_of(request.user)
    try:
        authz.content_allowance(subject, recording)
    except authz.Denied as exc:
        return subject, refuse(request, recording, "recording.play", exc)
    return subject, None


def _panel(request, recording, subject, *, error=None, status=200):
    if not request.headers.get("HX-Request"):
        for line in error_lines(error) if error else ():
            messages.error(request, line)
        return redirect(reverse("recording_play", args=[recording.pk]))
    return render(request, "web/player/_markers.html", {
        "recording": recording, "markers": markers_of(recording),
        "me": subject.person, "marker_error": error_lines(error) if error else None},
        status=status)


def _position(raw, recording) -> Decimal:
    try:
        value = Decimal(str(raw).strip()).quantize(Decimal("0.001"))
    except (InvalidOperation, ValueError):
        value = None
    if value is None or not value.is_finite() or value < 0 or value > POSITION_MAX or (
            recording.duration is not None and value > recording.duration):
        raise WitnessError(_("The position must be a number of seconds inside the "
                             "recording."), code="marker_position")
    return value


@roles_required("marker_add")
@require_POST
def marker_add(request, pk):
    recording = get_object_or_404(Recording, pk=pk)
    subject, refused = _allowed(request, recording)
    if refused is not None:
        return refused
    note = request.POST.get("note", "").strip()
    try:
        position = _position(request.POST.get("position", ""), recording)
        if len(note) > NOTE_MAX:
            raise WitnessError(_("The note is longer than %(n)s characters."),
                               code="marker_note", n=NOTE_MAX)
    except WitnessError as exc:
        return _panel(request, recording, subject, error=exc, status=422)
    with transaction.atomic():
        marker = Marker.objects.create(recording=recording, person=subject.person,
                                       position=position, note=note)
        audit.append(request.user, "recording.marker_add", recording, details={
            "marker": marker.pk, "position": str(position), "note": note})
    return _panel(request, recording, subject)


@roles_required("marker_delete")
@require_POST
def marker_delete(request, pk):
    marker = get_object_or_404(Marker.objects.select_related("recording"), pk=pk)
    recording = marker.recording
    subject, refused = _allowed(request, recording)
    if refused is not None:
        return refused
    if marker.person_id != getattr(subject.person, "pk", None):
        return refuse(request, recording, "recording.play", authz.Denied(
            _("Only the person who set a marker removes it."), code="marker_owner"))
    with transaction.atomic():
        audit.append(request.user, "recording.marker_delete", recording, details={
            "marker": marker.pk, "position": str(marker.position), "note": marker.note})
        marker.delete()
    return _panel(request, recording, subject)
