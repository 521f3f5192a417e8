"""Audit entries for logging in, failed log-ins, lockouts and logging out (GB/T 22239-2019
security audit: every authentication event is recorded)."""

from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from witness.audit import services as audit
from witness.audit.models import Outcome
from witness.web import lockout


def on_login(sender, request, user, **kwargs):
    with transaction.atomic():
        audit.append(user, "auth.login", user, details={"username": user.get_username()})


def on_login_failed(sender, credentials, request=None, **kwargs):
    """A failed attempt, counted towards the lock of its user name in the transaction of its
    entry; an attempt on a locked name is ``denied``, and the failure that locks a name
    writes ``auth.lockout`` too."""
    username = lockout.key(credentials.get("username", ""))
    anonymous = AnonymousUser()
    with transaction.atomic():
        failure = lockout.record_failure(username) if username else None
        if failure is not None and failure.refused:
            audit.append(anonymous, "auth.login", None, outcome=Outcome.DENIED,
                         details={"username": username, "reason": "locked",
                                  "until": lockout.local_time(failure.locked_until)})
            return
        audit.append(anonymous, "auth.login", None, outcome=Outcome.FAILURE,
                     details={"username": username})
        if failure is not None and failure.locked_now:
            audit.append(anonymous, "auth.lockout", None,
                         details={"username": username, "failures": failure.failures,
                                  "until": lockout.local_time(failure.locked_until)})
    lockout.forget_stale()


def on_logout(sender, request, user, **kwargs):
    if user is None:
        return  # nobody was logged in
    with transaction.atomic():
        audit.append(user, "auth.logout", user, details={"username": user.get_username()})
