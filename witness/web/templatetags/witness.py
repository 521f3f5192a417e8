"""Template filters of the web shell: role names, clock drift in words."""

from django import template
from django.utils.translation import gettext as _

from witness.org.models import Role

register = template.Library()


@register.filter
def role_label(code: str) -> str:
    try:
        return Role(code).label
    except ValueError:
        return code


@register.filter
def role_labels(codes) -> str:
    order = {role.value: i for i, role in enumerate(Role)}
    return "、".join(str(role_label(c)) for c in sorted(codes, key=lambda c: order.get(c, 99)))


@register.filter
def drift(seconds) -> str:
    """Device clock drift (device time − server time) in words."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds == 0:
        return _("on time")
    if seconds > 0:
        return _("%(n)s s fast") % {"n": seconds}
    return _("%(n)s s slow") % {"n": -seconds}
