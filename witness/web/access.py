"""Which action each page of the web application is (url name -> policy action).

The roles that may take an action are :mod:`witness.access.policy`'s table; this map only
says which action a page is, so that the views' gate, the navigation and the templates'
links ask the same question. Every url pattern of the site must be listed here or in
:data:`OPEN` (the walk test in witness/access/tests fails otherwise).
"""

from witness.access import policy
from witness.org.models import ADMIN_ROLES, Role

# url name -> action. Officers open a device's page, its return and its pre-use check
# only while they hold the device (the views check that: scope, not role).
PAGES: dict[str, str] = {
    "home": "home",
    "search": "search",  # global search (issue 8 item 1); scope: authz per kind
    "my_devices": "device.mine",
    "device_list": "device.list",
    "ledger": "device.list",
    "device_detail": "device.view",
    "device_register": "device.register",
    "device_issue": "device.issue",
    "device_event": "device.event",
    "device_return": "device.return",
    "device_check": "device.check",
    "case_list": "case.view",
    "case_detail": "case.view",
    "case_create": "case.create",
    "activity_list": "activity.view",
    "activity_detail": "activity.view",
    "activity_create": "activity.create",
    "activity_edit": "activity.create",  # who may record an activity may correct it
    "compliance_dashboard": "compliance.dashboard",
    "compliance_dashboard_csv": "compliance.dashboard",
    "assignment_queue": "recording.assign",
    "recording_assign": "recording.assign",
    "station": "ingest.operate",
    "station_retry": "ingest.operate",
    "ingest_upload": "ingest.operate",
    "ingest_run": "ingest.view",
    "audit_log": "audit.read",
    "audit_entry": "audit.entry",  # legal: only the recording-access entries (the view)
    "audit_checkpoints": "audit.read",
    "recording_access": "audit.access_history",
    "custody_report": "custody.report",
    # -- viewing requests, approvals, inbox, register (issue 5 item 3) --
    "request_list": "request.view",
    "request_new": "request.create",
    "disclosure_new": "disclosure.create",
    "request_detail": "request.view",  # the requester, deciders, register scope (chain)
    "request_withdraw": "request.create",  # the requester only (chain.withdraw)
    "request_revoke": "grant.revoke",
    "grant_revoke": "grant.revoke",
    "inbox": "inbox.view",
    "notification_read": "inbox.view",
    "step_decide": "request.decide",  # the step's approver or role in scope (chain)
    "step_register": "request.decide",  # custodian registration steps
    "register": "register.view",
    "register_csv": "register.view",
    "register_pdf": "register.view",
    # -- streaming, player, downloads, disclosure links (issue 5 items 2, 5) --
    "recording_play": "recording.play",  # content: a grant as well (authz.content_allowance)
    "recording_stream": "recording.play",
    "recording_download": "recording.download",
    # markers in the player (issue 8 item 3): content needs the player's grant as well
    "marker_add": "recording.play",
    "marker_delete": "recording.play",
    "disclosure_link_issue": "disclosure.link",
    "disclosure_link_revoke": "disclosure.link",
    # -- accounts, second factor, administrator consoles (issue 5 items 1, 6) --
    "account": "account.self",
    "password_change": "account.self",
    "otp_verify": "account.self",
    "otp_enrol": "account.self",
    "role_list": "role.assign",
    "role_assign": "role.assign",
    "role_end": "role.assign",
    "user_list": "user.manage",
    "user_settings": "user.manage",
    # -- confidentiality labels and the state-secret hand-off (issue 5 item 4) --
    "label_change_new": "recording.label",
    "label_changes": "recording.label",  # own requests; those to decide for approvers
    "label_change_decide": "label.decide",
    "secret_handoffs": "secret.handoff",
    "secret_handoff": "secret.handoff",
    # -- retention purge, preservation holds, complaints (issue 7; RET-1, RET-2). Scope:
    # the agency; the purge approver: witness.retention.purge.check_approver --
    "retention_batches": "retention.view",
    "retention_batch": "retention.view",
    "retention_propose": "retention.propose",
    "retention_decide": "retention.decide",
    "hold_list": "hold.view",
    "hold_new": "hold.propose",
    "hold_decide": "hold.decide",
    "complaint_new": "complaint.register",
    # -- the web export after approval (issue 7 item 5; EVD-1, EVD-3): a granted disclosure
    # by package; who may make or fetch it: witness.preservation.packages --
    "export_package": "request.view",
    "export_package_make": "recording.export",
    "export_package_download": "recording.download",
    # disc images of held records (RET-2, A16; witness.preservation.web_discs): custodians
    "preservation_discs": "recording.export",
    "preservation_disc": "recording.export",
    "preservation_disc_file": "recording.export",
    # -- findings workflow and the violation register (issue 6 item 2; SUP-2). Scope:
    # authz.visible_findings; who explains or decides a finding: witness.findings.workflow --
    "finding_list": "finding.view",
    "finding_detail": "finding.view",
    "finding_explain": "finding.explain",
    "finding_decide": "finding.decide",
    "finding_escalate": "violation.register",
    "violation_register": "violation.view",
    "violation_csv": "violation.view",
    "violation_decide": "violation.decide",
    # -- annual review (评查) and inspections (issue 6 item 3; SUP-1, SUP-3). Scope:
    # witness.review.services (legal and leaders: the agency's campaigns; others: those
    # they review, once approved; scores: the campaign's reviewers only) --
    "review_list": "review.score",
    "review_detail": "review.score",
    "review_score": "review.score",
    "review_new": "review.manage",
    "review_sample": "review.manage",
    "review_close": "review.manage",
    "review_report_csv": "review.manage",
    "review_report_pdf": "review.manage",
    "review_approve": "review.approve",
    # -- printable forms (issue 8 item 5): the rules of the pages their data come from;
    # scope in witness.web.views.forms --
    "form_device_register": "device.list",
    "form_device_register_pdf": "device.list",
    "form_viewing_register": "register.view",
    "form_work_record": "activity.view",
    "form_work_record_pdf": "activity.view",
    "form_explanation": "recording.export",
    "form_explanation_pdf": "recording.export",
    "form_review_sheet": "review.score",
    "form_review_sheet_pdf": "review.score",
}

# Pages anyone may open, signed in or not (they hold no data).
OPEN = frozenset({"login", "logout", "set_language",
                  # a disclosure link's recipient has no account: the token in the address
                  # is the credential (witness.access.disclosure; issue 5 item 5)
                  "disclosure_view", "disclosure_stream"})

# The audit administrator's console.
AUDIT_PAGES = frozenset(name for name, action in PAGES.items()
                        if policy.may({Role.AUDITADMIN}, action) and action != "home")


def is_administrator(roles) -> bool:
    """An administrator account sees no enforcement data, whatever else it holds."""
    return bool(roles & ADMIN_ROLES)


def is_audit_administrator(roles) -> bool:
    """The audit administrator and no other administrator role."""
    return roles & ADMIN_ROLES == {Role.AUDITADMIN}


def may_open(roles, name: str) -> bool:
    return policy.may(roles, PAGES[name])


def pages_for(roles) -> frozenset[str]:
    """The url names of the pages a user with ``roles`` may open (besides home)."""
    return frozenset(name for name in PAGES if name != "home" and may_open(roles, name))
