"""What the web shell stores itself: the login lockout (witness/web/lockout.py)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LoginLock(models.Model):
    """The current run of failed log-ins of one user name, known or not (GB/T 22239-2019
    login failure handling). A row is removed by a successful log-in and, once stale, by
    a later failure; the audit log keeps the history."""

    username = models.CharField(_("user name"), max_length=150, unique=True)
    failures = models.PositiveIntegerField(_("consecutive failures"), default=0)
    last_failure_at = models.DateTimeField(_("last failure"), db_index=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("login lock")
        verbose_name_plural = _("login locks")

    def __str__(self) -> str:
        return self.username
