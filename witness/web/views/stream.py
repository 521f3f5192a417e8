"""The player, the stream and downloads: the only way a recording's content reaches a
browser (issue 5 item 2; EVD-2, ING-3).

* ``recording_play`` (the player page) asks the authorisation module for the content
  (:func:`witness.access.authz.content_allowance`: a grant in force, or what the profile
  allows) and opens a :class:`~witness.access.models.PlaySession`: a random token bound to
  the viewer and the recording, valid for :data:`PLAY_SESSION`. The page shows the viewer's
  name and the time as a watermark over the picture.
* ``recording_stream`` serves the bytes for that token, with range requests (206, 416,
  If-Range; :mod:`witness.access.stream`), read from the blob store through the backend,
  never from a storage URL. **Every** request asks the authorisation module again, so a
  revoked or expired grant stops the stream at the next range request (403). The first
  request that sends bytes writes the one ``recording.play`` entry of the play start, in
  the transaction that marks the session started; seeking (more range requests with the
  same token) writes nothing more.
* ``recording_download`` asks for a download (``download=True``), opens a download session
  and redirects to itself with the session's token; the first request that sends bytes
  writes the one ``recording.download`` entry, and a resumed download (a range request with
  the same token) writes none. Always the original, as an attachment under its own name.

A session not started yet has ``started_at == expires_at`` (no play can start later than
that); marking it started is one conditional UPDATE, which only one request can win.

Refusals answer 403 and write a ``denied`` entry in a transaction of their own.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.db import transaction
from django.db.models import F
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from witness.access import authz
from witness.access import stream as ranges
from witness.access.models import PlaySession
from witness.audit import services as audit
from witness.audit.models import Outcome
from witness.core.errors import WitnessError
from witness.derivatives.models import Derivative, Kind, Status
from witness.recordings.models import MediaKind, Recording
from witness.storage.config import get_backend
from witness.web.views import player_extras as extras
from witness.web.views.common import audit_denied, roles_required

PLAY_SESSION = timedelta(hours=4)
DOWNLOAD_SESSION = timedelta(hours=12)  # long enough to resume a large download
SESSION_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
WATERMARK_TILES = 6


def new_token() -> str:
    return secrets.token_urlsafe(32)


def file_name(recording: Recording) -> str:
    """The original's own name: the last part of its path on the device."""
    return posixpath.basename(recording.source_path.replace("\\", "/")) or f"{recording.pk}"


def playback_copy(recording: Recording) -> Derivative | None:
    """The finished playback copy of a recording a browser cannot play as it is."""
    if recording.browser_playable:
        return None
    return (Derivative.objects.select_related("blob")
            .filter(recording=recording, kind=Kind.PLAYBACK, status=Status.DONE).first())


@dataclass(frozen=True)
class Source:
    """The bytes a session sends: the original's blob, or the playback copy's."""

    blob: object
    copy: bool
    content_type: str


def source_of(recording: Recording, *, copy: bool) -> Source:
    if copy:
        derivative = playback_copy(recording)
        if derivative is not None:
            name = "copy.m4a" if recording.kind == MediaKind.AUDIO else "copy.mp4"
            return Source(derivative.blob, True, ranges.content_type(name))
    return Source(recording.blob, False,
                  ranges.content_type(file_name(recording), recording.container,
                                      recording.kind))


def new_session(recording: Recording, *, person=None, link=None, grant=None,
                download: bool = False, copy: bool = False,
                lasting: timedelta = PLAY_SESSION, until=None) -> PlaySession:
    """A session not started yet (``started_at == expires_at``)."""
    expires = timezone.now() + lasting
    if until is not None:
        expires = min(expires, until)
    return PlaySession.objects.create(
        token=new_token(), recording=recording, person=person, link=link, grant=grant,
        download=download, playback_copy=copy, started_at=expires, expires_at=expires)


def start_once(session: PlaySession, actor, action: str, details: dict) -> bool:
    """Mark ``session`` started and write its one ``action`` entry, in one transaction;
    False (and nothing written) if an earlier request of the session did it already."""
    with transaction.atomic():
        won = PlaySession.objects.filter(pk=session.pk, started_at=F("expires_at")).update(
            started_at=timezone.now())
        if won:
            audit.append(actor, action, session.recording, details={
                "session": session.pk, **details})
    return bool(won)


def audit_refusal(actor, action: str, obj, exc, **details) -> None:
    """A refusal of content to someone without an account (a disclosure link's
    recipient), as a ``denied`` entry in its own transaction."""
    reason = {"code": getattr(exc, "code", "denied"), "reason": getattr(exc, "en", str(exc))}
    with transaction.atomic():
        audit.append(actor, action, obj, outcome=Outcome.DENIED, details={**reason, **details})


def refusal_page(request, exc, status: int = 403, template: str = "web/player/denied.html"):
    lines = [exc.zh] if exc.zh == exc.en else [exc.zh, exc.en]
    return render(request, template, {"error_lines": lines}, status=status)


def refuse(request, recording, action: str, exc: authz.Denied):
    """403 with the reason, and the request's one ``denied`` entry (the gate's writer)."""
    audit_denied(request, action, recording, exc=exc)
    return refusal_page(request, exc)


def _is_head(request) -> bool:
    return request.method == "HEAD"


def send(request, source: Source, *, on_start, attachment_name: str | None = None):
    """The answer to a GET or HEAD of ``source``: 200, 206 or 416 with the range headers;
    the body read from the blob store in chunks. ``on_start()`` runs once the first bytes
    were read and before they are sent (it writes the play's entry); not for HEAD or 416."""
    blob = source.blob
    plan = ranges.plan(blob.size, blob.sha256, blob.stored_at, request.headers)
    if plan.status == 416:
        response = HttpResponse(status=416)
    elif _is_head(request):
        response = HttpResponse(status=plan.status, content_type=source.content_type)
    else:
        chunks = ranges.read_exactly(get_backend(), blob.key, plan.start, plan.stop)
        try:
            first = next(chunks, b"")
        except (WitnessError, OSError) as exc:
            # The register names bytes the store cannot give now (fixity will say why).
            with transaction.atomic():
                audit.append(request.user, "recording.read_failed", blob,
                             outcome=Outcome.FAILURE,
                             details={"error": str(getattr(exc, "en", exc))[:300]})
            error = WitnessError(_("The stored bytes of this recording cannot be read "
                                   "now. The custodian can check the store."),
                                 code="store_unreadable")
            return refusal_page(request, error, status=503)
        on_start()
        response = StreamingHttpResponse(itertools.chain([first], chunks),
                                         status=plan.status, content_type=source.content_type)
    for name, value in plan.headers.items():
        response[name] = value
    response["Cache-Control"] = "private, no-store"
    if attachment_name is not None:
        response["Content-Disposition"] = ranges.attachment(attachment_name)
    return response


def watermark(name: str, detail: str = "") -> dict:
    """The overlay's text: who watches, and the server's time (the page's script keeps it
    running each second from this start)."""
    now = timezone.localtime()
    return {"name": name, "detail": detail, "start": now.strftime("%Y-%m-%dT%H:%M:%S"),
            "text": now.strftime("%Y-%m-%d %H:%M:%S"), "tiles": range(WATERMARK_TILES)}


def _denied_session() -> authz.Denied:
    return authz.Denied(_("This play session is not valid or has expired. Open the player "
                          "page again."), code="session")


def _session(request, recording: Recording, subject, *, download: bool):
    token = request.GET.get("s", "")
    if not SESSION_TOKEN.match(token):
        return None
    return PlaySession.objects.filter(
        token=token, recording=recording, person=subject.person, link__isnull=True,
        download=download, expires_at__gt=timezone.now()).first()


def _quietly_allowed(subject, recording, *, download: bool) -> bool:
    try:
        authz.content_allowance(subject, recording, download=download)
    except authz.Denied:
        return False
    return True


def _recording(pk) -> Recording:
    return get_object_or_404(Recording.objects.select_related("blob", "activity"), pk=pk)


def markers_of(recording):
    from witness.web.views.markers import markers_of as listed

    return listed(recording)


@roles_required("recording_play")
@require_GET
def recording_play(request, pk):
    """The player page: authorise, open a play session, show the watermark."""
    recording = _recording(pk)
    subject = authz.subject_of(request.user)
    try:
        allowance = authz.content_allowance(subject, recording)
    except authz.Denied as exc:
        return refuse(request, recording, "recording.play", exc)
    copy = playback_copy(recording)
    # The switch (issue 8 item 3): the playback copy where there is one, or the original.
    use_copy = copy is not None and request.GET.get("source") != "original"
    session = new_session(recording, person=subject.person, grant=allowance.grant,
                          copy=use_copy)
    person = subject.person
    before, after = extras.neighbours(recording)
    return render(request, "web/player/player.html", {
        "recording": recording, "file_name": file_name(recording),
        "media_kind": recording.kind, "copy": use_copy, "has_copy": copy is not None,
        "frame_rate": extras.frame_rate(copy.blob if use_copy else recording.blob,
                                        recording.kind, recording.frame_rate),
        "default_fps": extras.DEFAULT_FPS, "before": before, "after": after,
        "gaps": extras.gaps(recording, subject, before, after),
        "markers": markers_of(recording), "me": person,
        "needs_copy": not recording.browser_playable and recording.kind != MediaKind.PHOTO,
        "stream_url": reverse("recording_stream", args=[recording.pk]) + "?"
        + urlencode({"s": session.token}),
        "may_download": _quietly_allowed(subject, recording, download=True),
        "expires_at": session.expires_at, "grant": allowance.grant,
        "watermark": watermark(person.name, person.badge_number or "")})


@roles_required("recording_stream")
@require_http_methods(["GET", "HEAD"])
def recording_stream(request, pk):
    """The bytes of one play session, range requests included; asks for the grant again
    on every request (issue 5 item 2)."""
    recording = _recording(pk)
    subject = authz.subject_of(request.user)
    session = _session(request, recording, subject, download=False)
    if session is None:
        return refuse(request, recording, "recording.play", _denied_session())
    return _serve(request, recording, subject, session, "recording.play")


@roles_required("recording_download")
@require_http_methods(["GET", "HEAD"])
def recording_download(request, pk):
    """A download of the original: without ``?s=`` authorise and open a download session
    (redirect); with it, send the bytes (range requests resume the same download)."""
    recording = _recording(pk)
    subject = authz.subject_of(request.user)
    if "s" not in request.GET:
        try:
            allowance = authz.content_allowance(subject, recording, download=True)
        except authz.Denied as exc:
            return refuse(request, recording, "recording.download", exc)
        session = new_session(recording, person=subject.person, grant=allowance.grant,
                              download=True, lasting=DOWNLOAD_SESSION)
        return redirect(reverse("recording_download", args=[recording.pk]) + "?"
                        + urlencode({"s": session.token}))
    session = _session(request, recording, subject, download=True)
    if session is None:
        return refuse(request, recording, "recording.download", _denied_session())
    return _serve(request, recording, subject, session, "recording.download")


def _serve(request, recording, subject, session: PlaySession, action: str):
    try:
        allowance = authz.content_allowance(subject, recording, download=session.download)
    except authz.Denied as exc:
        return refuse(request, recording, action, exc)
    source = source_of(recording, copy=session.playback_copy and not session.download)
    details = {"grant": allowance.grant.pk if allowance.grant else None,
               "rule": allowance.rule, "copy": "playback" if source.copy else "original",
               "sha256": source.blob.sha256}
    return send(request, source,
                on_start=lambda: start_once(session, request.user, action, details),
                attachment_name=file_name(recording) if session.download else None)
