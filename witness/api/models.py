"""API tokens (issue 5 item 7): bound to one account, stored as SHA-256 only.

The token itself is shown once, when ``witness api-token create`` makes it; the database
keeps its SHA-256 digest (a lookup by digest, so a stolen database gives no usable token)
and its first characters, so that a person can tell their tokens apart in ``list``.
A token expires, can be revoked, and records when it was last used. What a token may do is
what its account's roles allow now (witness.access.policy): a token is a way of signing in,
not a permission of its own.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "wit_"  # noqa: S105 - a marker, not a secret
PREFIX_LENGTH = len(TOKEN_PREFIX) + 6  # what ``list`` shows of a token


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh random token: ``wit_`` and 43 URL-safe characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="api_tokens", verbose_name=_("account"))
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("token begins with"), max_length=PREFIX_LENGTH)
    digest = models.CharField(_("SHA-256 of the token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")),
                                   name="api_token_expires_after_creation"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def is_valid(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.expires_at > at

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.expires_at > timezone.now() else "expired"
