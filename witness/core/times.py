"""Times that people enter: only what has already happened can be recorded."""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError

# Clocks of phones and PCs drift a little; a few minutes ahead is still "now".
FUTURE_TOLERANCE = timedelta(minutes=5)


def local_minute(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def not_in_future(value: datetime, what=None) -> datetime:
    """``value`` unchanged, or a WitnessError (code ``time_in_future``) if it lies more
    than FUTURE_TOLERANCE ahead. ``what`` (a translatable name) says which time it is."""
    if value > timezone.now() + FUTURE_TOLERANCE:
        if what is None:
            raise WitnessError(_("The time %(at)s is in the future."), code="time_in_future",
                               at=local_minute(value))
        raise WitnessError(_("%(what)s (%(at)s) is in the future; only what has already "
                             "happened can be recorded."), code="time_in_future",
                           what=what, at=local_minute(value))
    return value
