"""Disclosure links (EVD-3, issue 5 item 5): the recipient's player and stream, opened by
the link's token without an account, and the custodian's page that issues and revokes
links for a granted disclosure request.

The recipient's pages (``disclosure_view``, ``disclosure_stream``) are in
``witness.web.access.OPEN``: the token is the credential. An unknown token is 404 and is
not audited; an expired or revoked link is 410 Gone; a link not valid yet is 403; a
recording that is not an item of the request (or whose grant ended) is 404. Those
refusals of a known link are written as ``denied`` entries. Each play start writes one
``disclosure.play`` entry (the same session rule as the player: seeking writes nothing).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from witness.access import disclosure as links
from witness.access.models import (
    AccessRequest,
    Delivery,
    DisclosureLink,
    PlaySession,
    RequestKind,
)
from witness.core.errors import WitnessError
from witness.recordings.models import Recording
from witness.web.views import stream
from witness.web.views.common import add_error, form_status, person_of, roles_required

ACTION = "disclosure.play"


def _no_referrer(response):
    """The token is in the page's address: never send it on as a Referer."""
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response


def _open_link(request, token: str):
    """(link, None) for a link that opens now, or (None, the refusal response)."""
    link = links.find(token)
    if link is None:
        raise Http404
    request.agency = link.request.agency  # the header names the disclosing agency
    try:
        links.check(link)
    except links.LinkGone as exc:
        stream.audit_refusal(request.user, ACTION, link, exc)
        return None, _no_referrer(stream.refusal_page(
            request, exc, status=410, template="web/player/link_gone.html"))
    except links.LinkNotYetValid as exc:
        stream.audit_refusal(request.user, ACTION, link, exc)
        return None, _no_referrer(stream.refusal_page(request, exc, status=403))
    return link, None


def _not_an_item(request, link, pk):
    stream.audit_refusal(request.user, ACTION, link, WitnessError(
        _("This recording is not disclosed by this link."), code="not_an_item"),
        recording=str(pk)[:20])
    raise Http404


@require_GET
def disclosure_view(request, token):
    """The recipient's page: the disclosed recordings, one playing, with the recipient's
    name and the time as a watermark."""
    link, refused = _open_link(request, token)
    if refused is not None:
        return refused
    items = list(links.recordings(link))
    wanted = request.GET.get("r")
    if wanted is not None:
        chosen = next((r for r in items if str(r.pk) == wanted), None)
        if chosen is None:
            _not_an_item(request, link, wanted)
    else:
        chosen = items[0] if items else None
    context = {"link": link, "items": items, "chosen": chosen, "token": token,
               "agency": link.request.agency,
               "watermark": stream.watermark(link.recipient_name,
                                             link.request.recipient_org)}
    if chosen is not None:
        grant = links.grant_for(link, chosen)
        copy = stream.playback_copy(chosen)
        session = stream.new_session(chosen, link=link, grant=grant, copy=copy is not None,
                                     until=link.valid_until)
        context.update({
            "recording": chosen, "media_kind": chosen.kind, "copy": copy is not None,
            "file_name": stream.file_name(chosen),
            "stream_url": reverse("disclosure_stream", args=[token, chosen.pk]) + "?"
            + urlencode({"s": session.token})})
    return _no_referrer(render(request, "web/player/disclosure.html", context))


@require_http_methods(["GET", "HEAD"])
def disclosure_stream(request, token, pk):
    """The bytes of one of the link's recordings for a session of the recipient's page;
    the link, the item and its grant are checked again on every request."""
    link, refused = _open_link(request, token)
    if refused is not None:
        return refused
    recording = Recording.objects.select_related("blob").filter(pk=pk).first()
    grant = links.grant_for(link, recording) if recording is not None else None
    if grant is None:
        _not_an_item(request, link, pk)
    token_s = request.GET.get("s", "")
    session = None
    if stream.SESSION_TOKEN.match(token_s):
        session = PlaySession.objects.filter(
            token=token_s, link=link, recording=recording, download=False,
            expires_at__gt=timezone.now()).first()
    if session is None:
        exc = stream._denied_session()
        stream.audit_refusal(request.user, ACTION, link, exc, recording=recording.pk)
        return _no_referrer(stream.refusal_page(request, exc))
    source = stream.source_of(recording, copy=session.playback_copy)
    details = {"link": link.pk, "recipient": link.recipient_name, "grant": grant.pk,
               "request": link.request_id,
               "copy": "playback" if source.copy else "original",
               "sha256": source.blob.sha256}
    return _no_referrer(stream.send(
        request, source,
        on_start=lambda: stream.start_once(session, request.user, ACTION, details)))


# -- the custodian's page ----------------------------------------------------------------


class LinkForm(forms.Form):
    recipient_name = forms.CharField(label=_("Recipient"), max_length=links.MAX_RECIPIENT)
    valid_until = forms.DateTimeField(
        label=_("Valid until"), input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                   format="%Y-%m-%dT%H:%M"))


def _link_request(request, pk) -> AccessRequest:
    return get_object_or_404(
        AccessRequest.objects.select_related("requester"),
        Q(kind=RequestKind.DISCLOSURE, delivery=Delivery.LINK), agency=request.agency, pk=pk)


@roles_required("disclosure_link_issue")
@require_http_methods(["GET", "POST"])
def disclosure_link_issue(request, pk):
    """GET: the request's links and a form; POST: issue a link, shown once."""
    access_request = _link_request(request, pk)
    default_until = max(links.granted(access_request).values_list("valid_until", flat=True),
                        default=None)
    status = None
    issued = None
    if request.method == "POST":
        form = LinkForm(request.POST)
        if form.is_valid():
            try:
                link, token = links.issue_link(
                    access_request, person_of(request.user),
                    form.cleaned_data["recipient_name"], form.cleaned_data["valid_until"],
                    actor=request.user)
            except WitnessError as exc:
                status = add_error(form, exc)
            else:
                issued = {"link": link,
                          "url": request.build_absolute_uri(
                              reverse("disclosure_view", args=[token]))}
                form = LinkForm(initial={"recipient_name": access_request.recipient_name})
    else:
        initial = {"recipient_name": access_request.recipient_name}
        if default_until is not None:
            initial["valid_until"] = timezone.localtime(default_until)
        form = LinkForm(initial=initial)
    response = render(request, "web/player/links.html", {
        "access_request": access_request, "form": form, "issued": issued,
        "links": DisclosureLink.objects.filter(request=access_request)
        .select_related("created_by", "revoked_by"),
        "now": timezone.now(), "items": access_request.items.select_related("recording")},
        status=form_status(form, status))
    if issued is not None:
        response["Cache-Control"] = "no-store"  # the token is on this page, once
        response["Referrer-Policy"] = "no-referrer"
    return response


@roles_required("disclosure_link_revoke")
@require_http_methods(["POST"])
def disclosure_link_revoke(request, pk):
    """POST: revoke a link; its next request is refused (410)."""
    link = get_object_or_404(DisclosureLink.objects.select_related("request"),
                             request__agency=request.agency, pk=pk)
    try:
        links.revoke_link(link, person_of(request.user), actor=request.user)
    except WitnessError as exc:
        messages.error(request, exc.bilingual)
    else:
        messages.success(request, gettext("The link for %(name)s was revoked.")
                         % {"name": link.recipient_name})
    return redirect("disclosure_link_issue", pk=link.request_id)
