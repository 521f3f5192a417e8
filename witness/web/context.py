"""Template context: the navigation a user's roles allow, and the agency's name."""

from django.utils.translation import gettext_lazy as _

from witness.org import services as org
from witness.org.models import Agency, Role

HEADS = frozenset({Role.UNIT_HEAD, Role.LEADER, Role.LEGAL})

# (url name, label, roles that see it, url names that mark it current). Administrators
# see only the pages of their consoles; none of those exist yet, so they see Home.
NAV = [
    ("home", _("Home"), None, {"home"}),
    ("my_devices", _("My devices"), frozenset({Role.OFFICER}), {"my_devices"}),
    ("activity_list", _("Enforcement activities"), frozenset({Role.OFFICER}) | HEADS,
     {"activity_list", "activity_detail", "activity_create"}),
    ("case_list", _("Cases"), HEADS, {"case_list", "case_detail", "case_create"}),
    ("device_list", _("Devices"), frozenset({Role.CUSTODIAN}) | HEADS,
     {"device_list", "device_detail", "device_issue", "device_check"}),
    ("ledger", _("Ledger"), frozenset({Role.CUSTODIAN}), {"ledger"}),
]


def nav_items(roles, current: str | None) -> list[dict]:
    return [{"url_name": name, "label": label, "current": current in names}
            for name, label, allowed, names in NAV
            if allowed is None or roles & allowed]


def navigation(request):
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    current = match.url_name if match else None
    cache = {}

    def site_agency():
        # Looked up only if a template shows it (the login page and the header).
        if "agency" not in cache:
            cache["agency"] = (getattr(request, "agency", None)
                               or Agency.objects.order_by("id").first())
        return cache["agency"]

    if user is None or not user.is_authenticated:
        return {"nav_roles": frozenset(), "nav_items": [], "site_agency": site_agency}
    roles = org.current_roles_of_user(user)
    return {"nav_roles": roles, "nav_items": nav_items(roles, current),
            "site_agency": site_agency}
