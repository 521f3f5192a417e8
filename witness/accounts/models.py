"""What the accounts app stores itself: when each account's password was last changed,
and whether it must be changed at the next log-in (issue 5 item 6, GB/T 22239-2019
identification and authentication: passwords are changed periodically).

The second factor's devices are django-otp's ``TOTPDevice`` rows (witness/accounts/otp.py);
the lock after failed log-ins and codes is witness/web/lockout.py's ``LoginLock``."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PasswordState(models.Model):
    """One row per account whose password was set through Django (``set_password``) or
    whose change was forced by the system administrator. An account without a row counts
    from the day it joined (witness/accounts/passwords.py)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="password_state", verbose_name=_("user account"))
    changed_at = models.DateTimeField(_("password changed at"))
    must_change = models.BooleanField(_("must change the password at the next log-in"),
                                      default=False)

    class Meta:
        verbose_name = _("password state")
        verbose_name_plural = _("password states")

    def __str__(self) -> str:
        return self.user.get_username()


class SecondFactorFailures(models.Model):
    """The current run of wrong second-factor codes of one account. It is kept apart
    from the log-in lock's own count because a correct password ends that count
    (witness/web/lockout.py); a correct code, or a run gone stale, ends this one. When it
    reaches ``WITNESS_LOCKOUT_FAILURES`` the user name is locked like after failed
    log-ins."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="second_factor_failures",
                                verbose_name=_("user account"))
    failures = models.PositiveIntegerField(_("consecutive wrong codes"), default=0)
    last_failure_at = models.DateTimeField(_("last wrong code"))

    class Meta:
        verbose_name = _("wrong second-factor codes")
        verbose_name_plural = _("wrong second-factor codes")

    def __str__(self) -> str:
        return self.user.get_username()
