"""Creating, listing and revoking API tokens (issue 5 item 7). Each change is audited in
the transaction that makes it."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.api.models import PREFIX_LENGTH, ApiToken, digest_of, new_token
from witness.audit import services as audit
from witness.core.errors import NotFound, WitnessError

DEFAULT_DAYS = 30
MAX_DAYS = 365
# last_used_at is written at most once per this long per token (not on every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def get_user(username: str):
    User = get_user_model()
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(_("No account with user name %(name)s."), name=username) from None


def create_token(user, *, days: int = DEFAULT_DAYS, name: str = "",
                 actor=None) -> tuple[ApiToken, str]:
    """A new token for ``user``, valid ``days`` days. Returns the row and the token itself,
    which is not stored anywhere and cannot be shown again."""
    if not 1 <= days <= MAX_DAYS:
        raise WitnessError(_("A token is valid for 1 to %(max)s days, not %(days)s."),
                           code="bad_days", max=MAX_DAYS, days=days)
    if not user.is_active:
        raise WitnessError(_("The account %(name)s is disabled; it gets no token."),
                           code="inactive_user", name=user.get_username())
    name = (name or "").strip()
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise WitnessError(_("The token name is too long: at most %(limit)s characters."),
                           code="too_long", limit=ApiToken._meta.get_field("name").max_length)
    token = new_token()
    now = timezone.now()
    with transaction.atomic():
        row = ApiToken.objects.create(user=user, name=name, prefix=token[:PREFIX_LENGTH],
                                      digest=digest_of(token), created_at=now,
                                      expires_at=now + timedelta(days=days))
        audit.append(actor, "api.token.create", row,
                     details={"user": user.get_username(), "name": name,
                              "prefix": row.prefix, "expires_at": row.expires_at.isoformat()})
    return row, token


def revoke_token(pk: int, *, actor=None) -> ApiToken:
    with transaction.atomic():
        row = ApiToken.objects.select_for_update().select_related("user").filter(pk=pk).first()
        if row is None:
            raise NotFound(_("No API token with number %(id)s."), id=pk)
        if row.revoked_at is not None:
            raise WitnessError(_("API token %(id)s was already revoked."),
                               code="already_revoked", id=pk)
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        audit.append(actor, "api.token.revoke", row,
                     details={"user": row.user.get_username(), "prefix": row.prefix})
    return row


def tokens(user=None):
    qs = ApiToken.objects.select_related("user")
    return qs.filter(user=user) if user is not None else qs


def token_dict(row: ApiToken) -> dict:
    return {"id": row.pk, "user": row.user.get_username(), "name": row.name,
            "prefix": row.prefix, "state": row.state,
            "created_at": row.created_at.isoformat(), "expires_at": row.expires_at.isoformat(),
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None}


def find_token(token: str) -> tuple[ApiToken | None, str]:
    """(the ApiToken, "") for a token valid now, recording its use; else (None, why):
    ``invalid``, ``expired`` or ``revoked``."""
    row = ApiToken.objects.select_related("user").filter(digest=digest_of(token)).first() \
        if token else None
    now = timezone.now()
    if row is None:
        return None, "invalid"
    if row.revoked_at is not None:
        return None, "revoked"
    if row.expires_at <= now:
        return None, "expired"
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row, ""
