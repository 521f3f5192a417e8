"""Password age (issue 5 item 6): a password older than ``WITNESS_PASSWORD_MAX_DAYS`` days,
or one the system administrator marked, must be changed at the next log-in before anything
else is done. The check is made once, when the account logs in (``user_logged_in``), and
its outcome kept in the session (``DUE_KEY``), so that no request pays a query for it;
witness/accounts/middleware.py sends such a session to the password-change page, whose
success clears the key.

The time of each change is recorded whenever a password is saved through Django's
``set_password`` (the change page, a reset, a command, the factories), by the post_save
receiver below; accounts without a record count from the day they joined."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from witness.accounts.models import PasswordState

DUE_KEY = "witness_password_due"  # session: why the password must be changed, if it must


def max_age() -> timedelta:
    return timedelta(days=settings.WITNESS_PASSWORD_MAX_DAYS)


def state_of(user) -> PasswordState | None:
    """The account's row (from ``select_related("password_state")`` where loaded)."""
    try:
        return user.password_state
    except PasswordState.DoesNotExist:
        return None


def changed_at(user) -> datetime:
    state = state_of(user)
    return state.changed_at if state else user.date_joined


def must_change(user) -> str | None:
    """Why ``user`` must change the password now ("forced" or "expired"), or None."""
    if not user.has_usable_password():
        return None  # no password to change (an account used only by other means)
    state = state_of(user)
    if state is not None and state.must_change:
        return "forced"
    since = state.changed_at if state else user.date_joined
    if since <= timezone.now() - max_age():
        return "expired"
    return None


def record_change(user, at: datetime | None = None) -> None:
    PasswordState.objects.update_or_create(
        user=user, defaults={"changed_at": at or timezone.now(), "must_change": False})


def due_in_session(request) -> str | None:
    return request.session.get(DUE_KEY)


def changed_in_session(request) -> None:
    request.session.pop(DUE_KEY, None)


@receiver(user_logged_in, dispatch_uid="accounts.password_due")
def _check_at_log_in(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    reason = must_change(user)
    if reason:
        request.session[DUE_KEY] = reason
    else:
        request.session.pop(DUE_KEY, None)


def force_change(user) -> None:
    """Mark the password as to be changed at the next log-in (kept until it is changed)."""
    state, created = PasswordState.objects.get_or_create(
        user=user, defaults={"changed_at": user.date_joined, "must_change": True})
    if not created and not state.must_change:
        state.must_change = True
        state.save(update_fields=["must_change"])


@receiver(post_save, sender=get_user_model(), dispatch_uid="accounts.password_changed")
def _password_saved(sender, instance, raw=False, **kwargs):
    """``AbstractBaseUser.save()`` keeps the new raw password in ``_password`` until it has
    told the validators (``password_changed``) — i.e. during post_save — exactly when
    ``set_password`` was called before this save."""
    if raw or getattr(instance, "_password", None) is None:
        return
    with transaction.atomic():
        record_change(instance)
