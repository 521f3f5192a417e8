"""Template context: the navigation a user's roles allow, the pages they may open (for
links), and the agency's name."""

from django.utils.translation import gettext_lazy as _

from witness.org import services as org
from witness.org.models import Agency
from witness.web.access import pages_for

# (url name, label, url names that mark it current). An entry shows where the user may
# open its page (witness.web.access). Administrators see only the pages of their
# consoles: the audit administrator the audit pages; the system and security
# administrators' consoles do not exist yet, so they see Home.
NAV = [
    ("home", _("Home"), {"home"}),
    ("search", _("Search"), {"search"}),
    ("my_devices", _("My devices"), {"my_devices"}),
    ("activity_list", _("Enforcement activities"),
     {"activity_list", "activity_detail", "activity_create"}),
    ("case_list", _("Cases"), {"case_list", "case_detail", "case_create"}),
    ("device_list", _("Devices"),
     {"device_list", "device_detail", "device_issue", "device_check", "device_register",
      "device_event"}),
    ("ledger", _("Ledger"), {"ledger"}),
    ("assignment_queue", _("Assignment queue"), {"assignment_queue"}),
    ("station", _("Ingest station"), {"station", "ingest_run", "ingest_upload"}),
    ("compliance_dashboard", _("Compliance"), {"compliance_dashboard"}),
    ("audit_log", _("Audit log"), {"audit_log", "audit_entry"}),
    ("recording_access", _("Recording access history"), {"recording_access"}),
    ("audit_checkpoints", _("Checkpoints"), {"audit_checkpoints"}),
    # -- viewing requests, approvals, inbox, register (issue 5 item 3) --
    ("inbox", _("Inbox"), {"inbox", "step_decide", "step_register"}),
    ("request_list", _("My requests"),
     {"request_list", "request_new", "disclosure_new", "request_detail"}),
    ("register", _("Viewing register"), {"register"}),
    # -- accounts, second factor, administrator consoles (issue 5 items 1, 6) --
    ("role_list", _("Roles"), {"role_list", "role_assign", "role_end"}),
    ("user_list", _("User accounts"), {"user_list", "user_settings"}),
    ("account", _("My account"), {"account", "password_change", "otp_enrol"}),
    # -- confidentiality labels and the state-secret hand-off (issue 5 item 4) --
    ("label_changes", _("Label changes"), {"label_changes", "label_change_new"}),
    ("secret_handoffs", _("State-secret hand-offs"), {"secret_handoffs", "secret_handoff"}),
    # -- findings workflow and the violation register (issue 6 item 2) --
    ("finding_list", _("Findings"), {"finding_list", "finding_detail"}),
    ("violation_register", _("Violation register"), {"violation_register"}),
    # -- annual review (评查) and inspections (issue 6 item 3) --
    ("review_list", _("Review campaigns"),
     {"review_list", "review_new", "review_detail", "review_score"}),
    # -- retention, purge and preservation holds (issue 7 items 1-3; RET-1, RET-2) --
    ("retention_batches", _("Retention and purge"),
     {"retention_batches", "retention_propose", "retention_batch"}),
    ("hold_list", _("Preservation holds"), {"hold_list", "hold_new", "complaint_new"}),
]


def nav_items(pages, current: str | None) -> list[dict]:
    return [{"url_name": name, "label": label, "current": current in names}
            for name, label, names in NAV if name == "home" or name in pages]


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
        return {"nav_roles": frozenset(), "nav_items": [], "nav_pages": frozenset(),
                "site_agency": site_agency}
    roles = org.current_roles_of_user(user)
    pages = pages_for(roles)
    return {"nav_roles": roles, "nav_items": nav_items(pages, current), "nav_pages": pages,
            "site_agency": site_agency}
