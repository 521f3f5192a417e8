"""Login failure handling (GB/T 22239-2019 level 3, identification and authentication):
``WITNESS_LOCKOUT_FAILURES`` failed log-ins in a row for one user name, each within
``WITNESS_LOCKOUT_MINUTES`` of the one before, lock that user name for
``WITNESS_LOCKOUT_MINUTES``. While it is locked every attempt is refused without looking at
the password, the right one included. A successful log-in ends the run of failures.

User names that do not exist are counted and locked the same way, so that neither the
messages nor the lock tell which accounts exist.

The state is one row per user name in the database (:class:`witness.web.models.LoginLock`,
changed under ``SELECT … FOR UPDATE``), so that it holds across gunicorn workers and
machines, with no cache to configure.

Where it hooks in: :class:`LockoutBackend` is the project's only authentication backend, so
``django.contrib.auth.authenticate()`` — which the login form, and any later way of logging
in with a password (API basic or session log-in, an admin site, a command), all call —
refuses a locked user name before it checks a password. Failures are counted by the
``user_login_failed`` signal, which ``authenticate()`` sends for every failure on every such
path (witness.web.signals, which also writes the audit entries in the same transaction as
the count). A check in the login form's ``clean()`` instead would protect that one form only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone

from witness.web.models import LoginLock

USERNAME_LIMIT = 150  # auth.User.username; longer input is cut to fit, as in the audit


def now() -> datetime:
    """The lock's clock (tests replace it)."""
    return timezone.now()


def key(username) -> str:
    return str(username or "")[:USERNAME_LIMIT]


def failures_allowed() -> int:
    return settings.WITNESS_LOCKOUT_FAILURES


def period() -> timedelta:
    return timedelta(minutes=settings.WITNESS_LOCKOUT_MINUTES)


def locked_until(username) -> datetime | None:
    """When the lock of ``username`` ends, or None when it is not locked now."""
    name = key(username)
    if not name:
        return None
    return (LoginLock.objects.filter(username=name, locked_until__gt=now())
            .values_list("locked_until", flat=True).first())


@dataclass(frozen=True)
class Failure:
    """What one failed attempt did to the lock of its user name."""

    failures: int  # failures in the current run, this one included (when counted)
    locked_until: datetime | None
    refused: bool  # the name was already locked: the password was not even checked
    locked_now: bool  # this failure locked the name


def record_failure(username) -> Failure:
    """Count a failed attempt for ``username``. Call inside ``transaction.atomic()``: the
    row stays locked until the caller's audit entries are written with it."""
    name, at = key(username), now()
    row, _created = LoginLock.objects.select_for_update().get_or_create(
        username=name, defaults={"last_failure_at": at})
    if row.locked_until is not None and row.locked_until > at:
        return Failure(row.failures, row.locked_until, refused=True, locked_now=False)
    if row.locked_until is not None or row.last_failure_at <= at - period():
        row.failures, row.locked_until = 0, None  # the lock is over, or the run went stale
    row.failures += 1
    row.last_failure_at = at
    locked_now = row.failures >= failures_allowed()
    if locked_now:
        row.locked_until = at + period()
    row.save(update_fields=["failures", "last_failure_at", "locked_until"])
    return Failure(row.failures, row.locked_until, refused=False, locked_now=locked_now)


def clear(username) -> None:
    """A successful log-in: the run of failures is over."""
    LoginLock.objects.filter(username=key(username)).delete()


def forget_stale() -> None:
    """Remove rows that no longer count: no lock in force and no failure within the period.
    Called outside the transaction of a failure, so that it never waits while holding a
    row another attempt waits for."""
    at = now()
    (LoginLock.objects.filter(last_failure_at__lte=at - period())
     .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=at)).delete())


def local_time(moment: datetime) -> str:
    """A moment as the audit details and the messages give it: local time, with offset."""
    return timezone.localtime(moment).isoformat(timespec="seconds")


class LockoutBackend(ModelBackend):
    """Django's user/password backend behind the lock. Raising PermissionDenied makes
    ``authenticate()`` stop at once and send ``user_login_failed`` (audited as denied)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        name = username if username is not None else kwargs.get(
            get_user_model().USERNAME_FIELD)
        if locked_until(name) is not None:
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            clear(name)
        return user

    async def aauthenticate(self, request, **credentials):
        """``aauthenticate()`` (async views) through the same lock: ModelBackend's own
        async version would check the password without it."""
        return await sync_to_async(self.authenticate)(request, **credentials)
