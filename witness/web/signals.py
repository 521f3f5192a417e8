"""Audit entries for logging in, failed log-ins and logging out (GB/T 22239-2019
security audit: every authentication event is recorded)."""

from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from witness.audit import services as audit
from witness.audit.models import Outcome

USERNAME_LIMIT = 150


def on_login(sender, request, user, **kwargs):
    with transaction.atomic():
        audit.append(user, "auth.login", user, details={"username": user.get_username()})


def on_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:USERNAME_LIMIT]
    with transaction.atomic():
        audit.append(AnonymousUser(), "auth.login", None, outcome=Outcome.FAILURE,
                     details={"username": username})


def on_logout(sender, request, user, **kwargs):
    if user is None:
        return  # nobody was logged in
    with transaction.atomic():
        audit.append(user, "auth.logout", user, details={"username": user.get_username()})
