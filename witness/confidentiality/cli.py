"""What the ``witness label`` and ``witness secret`` commands share: ``--as USERNAME`` (the
acting person, authorised through witness.access like the web) and refusals as bilingual
command errors (issue 5 item 4)."""

from __future__ import annotations

import contextlib

from django.contrib.auth import get_user_model
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.access.authz import Denied
from witness.core.errors import NotFound


def add_as_argument(parser) -> None:
    parser.add_argument("--as", dest="as_user", required=True, metavar="USERNAME",
                        help=gettext("the user name of the person acting; their roles decide "
                                     "what they may do"))


def subject_for(username: str) -> authz.Subject:
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(_("There is no active user named %(username)s."), username=username)
    return authz.subject_of(user)


@contextlib.contextmanager
def refusals():
    """A refusal of the authorisation module as a WitnessError (exit 1, both languages)."""
    try:
        yield
    except Denied as exc:
        raise exc.error from exc
