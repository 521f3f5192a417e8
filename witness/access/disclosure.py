"""Disclosure links: a time-limited, read-only link for a named recipient (EVD-3, issue 5
item 5).

A disclosure request (``AccessRequest.kind = disclosure``) whose delivery is a link and
which went through its approval chain (status granted) may be handed out as a link by the
custodian: :func:`issue_link` makes a random token, keeps only its SHA-256 and returns the
token once, to be passed to the recipient (the link is ``/d/<token>/``). The recipient
needs no account: the token is the credential. The link plays only the request's items
that have a grant in force for the request (a disclosure's grants name no person), only
between ``valid_from`` and ``valid_until``, and not after :func:`revoke_link`; the player
shows the recipient's name and the time as a watermark, and each play start is audited
(``disclosure.play``).

Refusals of the link pages: an unknown token is 404 (nothing is named, nothing audited);
an expired or revoked link is 410 Gone; a link not valid yet is 403; a recording that is
not one of the request's items is 404 (audited as denied).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access.labels import Label
from witness.access.models import (
    AccessRequest,
    Delivery,
    DisclosureLink,
    Grant,
    RequestKind,
    RequestStatus,
    active_grants,
)
from witness.audit import services as audit
from witness.core.errors import NotFound, Refused, WitnessError

TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
MAX_RECIPIENT = 200


class LinkGone(NotFound):
    """The link existed but no longer opens anything (expired or revoked): HTTP 410."""

    code = "link_gone"


class LinkNotYetValid(Refused):
    code = "link_not_yet_valid"


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256 (hex)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _actor(by_person, actor):
    return actor if actor is not None else (by_person.user or by_person)


def issue_link(request: AccessRequest, by_person, recipient_name: str,
               valid_until: datetime, *, actor=None) -> tuple[DisclosureLink, str]:
    """A new link for the granted disclosure ``request``: (the link, its token). The token
    is returned once and never stored; only its SHA-256 is. ``valid_until`` must be in the
    future and within what was granted (a link does not outlive the request's grants).
    Audited as ``disclosure.link_issue`` (without the token)."""
    name = " ".join((recipient_name or "").split())
    if not name:
        raise WitnessError(_("Name the recipient of the link."), code="recipient_missing")
    if len(name) > MAX_RECIPIENT:
        raise WitnessError(_("The recipient's name is longer than %(n)s characters."),
                           code="recipient_too_long", n=MAX_RECIPIENT)
    now = timezone.now()
    if valid_until is None or valid_until <= now:
        raise WitnessError(_("A link must be valid until a time in the future."),
                           code="link_period")
    with transaction.atomic():
        request = AccessRequest.objects.select_for_update().get(pk=request.pk)
        if request.kind != RequestKind.DISCLOSURE or request.delivery != Delivery.LINK:
            raise Refused(_("Only a disclosure request to be delivered as a link can have "
                            "a link."), code="not_a_link_request")
        if request.status != RequestStatus.GRANTED:
            raise Refused(_("The disclosure request has not been granted."),
                          code="not_granted")
        until = list(granted(request, now).values_list("valid_until", flat=True))
        if not until:
            raise Refused(_("Nothing of this request is granted now; a link would open "
                            "nothing."), code="nothing_granted")
        if valid_until > max(until):
            raise WitnessError(
                _("A link cannot be valid beyond the granted period (until %(until)s)."),
                code="link_beyond_grant",
                until=timezone.localtime(max(until)).strftime("%Y-%m-%d %H:%M"))
        token = new_token()
        link = DisclosureLink.objects.create(
            request=request, token_sha256=digest(token), recipient_name=name,
            valid_from=now, valid_until=valid_until, created_by=by_person)
        audit.append(_actor(by_person, actor), "disclosure.link_issue", link, details={
            "request": request.pk, "recipient": name,
            "valid_until": valid_until.isoformat()})
    return link, token


def revoke_link(link: DisclosureLink, by_person, *, actor=None) -> DisclosureLink:
    """End ``link`` now: its next request is refused (410). Audited as
    ``disclosure.link_revoke``; revoking a revoked link is refused."""
    with transaction.atomic():
        link = DisclosureLink.objects.select_for_update().get(pk=link.pk)
        if link.revoked_at is not None:
            raise Refused(_("This link was already revoked."), code="link_revoked")
        link.revoked_at, link.revoked_by = timezone.now(), by_person
        link.save(update_fields=["revoked_at", "revoked_by"])
        audit.append(_actor(by_person, actor), "disclosure.link_revoke", link,
                     details={"request": link.request_id, "recipient": link.recipient_name})
    return link


def find(token: str) -> DisclosureLink | None:
    """The link whose token is ``token``, or None (also for anything not shaped like one)."""
    if not isinstance(token, str) or not TOKEN.match(token):
        return None
    return (DisclosureLink.objects.select_related("request", "request__agency")
            .filter(token_sha256=digest(token)).first())


def check(link: DisclosureLink, at: datetime | None = None) -> None:
    """Raise unless ``link`` opens now: LinkGone (revoked, expired), LinkNotYetValid."""
    at = at or timezone.now()
    if link.revoked_at is not None:
        raise LinkGone(_("This link was revoked."), code="link_revoked")
    if link.valid_until <= at:
        raise LinkGone(_("This link has expired."), code="link_expired")
    if link.valid_from > at:
        raise LinkNotYetValid(_("This link is not valid yet."))


def granted(request: AccessRequest, at: datetime | None = None) -> QuerySet:
    """The grants in force of a disclosure request (a disclosure's grants name no person)."""
    return active_grants(at).filter(request=request, person__isnull=True)


def grants(link: DisclosureLink, at: datetime | None = None) -> QuerySet:
    """The grants in force of the link's request."""
    return granted(link.request, at)


def recordings(link: DisclosureLink, at: datetime | None = None) -> QuerySet:
    """The recordings the link plays now: the request's items with a grant in force."""
    from witness.recordings.models import Recording

    return (Recording.objects.filter(pk__in=link.request.items.values("recording"))
            .filter(pk__in=grants(link, at).values("recording"))
            .exclude(label=Label.STATE_SECRET)
            .select_related("blob").order_by("started_at", "id"))


def grant_for(link: DisclosureLink, recording, at: datetime | None = None) -> Grant | None:
    """The grant in force that lets the link play ``recording``, or None (not an item of
    the request, or its grant expired or was revoked; a state secret never plays)."""
    if recording.label == Label.STATE_SECRET:
        return None
    if not link.request.items.filter(recording=recording).exists():
        return None
    return grants(link, at).filter(recording=recording).order_by("-valid_until").first()
