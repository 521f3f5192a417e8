"""The policy table: which roles may take which action (GB/T 22239-2019 least privilege).

One table, ``POLICY`` (action -> roles), read by the web views' gate, the API's
permission class, the streaming endpoint, the navigation and the CLI. What a role may do
to *which* object — its scope, and the grants that open a recording's content — is
:mod:`witness.access.authz`'s part; a role missing from an action here is refused before
any object is looked at.

三员分立 (separation of the three administrators): the system, security and audit
administrators hold only the actions listed for their own role below (configuration and
technical user settings; roles and permissions; the audit log). An account holding an
administrator role gets no other action, whatever other role it also holds, and an
account holding two administrator roles — which ``org.services.assign_role`` refuses to
create — gets none of either.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from witness.org.models import ADMIN_ROLES, Role

OFFICER = frozenset({Role.OFFICER})
CUSTODIAN = frozenset({Role.CUSTODIAN})
UNIT_HEAD = frozenset({Role.UNIT_HEAD})
LEADER = frozenset({Role.LEADER})
LEGAL = frozenset({Role.LEGAL})
SYSADMIN = frozenset({Role.SYSADMIN})
SECADMIN = frozenset({Role.SECADMIN})
AUDITADMIN = frozenset({Role.AUDITADMIN})

HEADS = UNIT_HEAD | LEADER | LEGAL
STAFF = OFFICER | CUSTODIAN | UNIT_HEAD | LEADER | LEGAL  # everyone but the administrators
EVERYONE = frozenset(Role)

# action -> (roles, what it is). Object scope and grants come on top (authz).
ACTIONS: dict[str, tuple[frozenset[str], object]] = {
    # Any signed-in account: its home page, its own password and second factor.
    "home": (EVERYONE, _("home page")),
    "account.self": (EVERYONE, _("own password and second factor")),
    "inbox.view": (STAFF, _("own inbox")),
    "search": (STAFF, _("global search (within what one may see)")),
    # Devices (DEV-*). Officers: the devices they hold.
    "device.mine": (OFFICER, _("own devices")),
    "device.list": (CUSTODIAN | HEADS, _("device list and ledger")),
    "device.view": (CUSTODIAN | HEADS | OFFICER, _("a device's page")),
    "device.register": (CUSTODIAN, _("register a device")),
    "device.issue": (CUSTODIAN, _("issue a device")),
    "device.event": (CUSTODIAN, _("record a device event")),
    "device.return": (CUSTODIAN | OFFICER, _("return a device")),
    "device.check": (CUSTODIAN | OFFICER, _("pre-use check")),
    # Cases and activities (ACT-*). Officers: their own activities.
    "case.view": (HEADS, _("cases")),
    "case.create": (UNIT_HEAD | LEADER, _("open a case")),
    "activity.view": (OFFICER | HEADS, _("activities")),
    "activity.create": (OFFICER | UNIT_HEAD | LEADER, _("record an activity")),
    # Recordings. Metadata by scope; content only with a grant (EVD-2, ING-3).
    "recording.view": (OFFICER | CUSTODIAN | HEADS, _("recording metadata")),
    "recording.play": (OFFICER | CUSTODIAN | HEADS, _("play a recording (with a grant)")),
    "recording.download": (OFFICER | CUSTODIAN | HEADS,
                           _("download a recording (with a grant)")),
    "recording.export": (CUSTODIAN, _("export an evidence package (approved)")),
    "recording.assign": (CUSTODIAN, _("assignment queue")),
    "recording.label": (OFFICER | CUSTODIAN | HEADS, _("ask to change a label")),
    "label.decide": (UNIT_HEAD | LEADER | LEGAL, _("decide a label change")),
    "secret.handoff": (CUSTODIAN | LEADER, _("state-secret hand-off: export, removal")),
    # Ingest (ING-*).
    "ingest.operate": (CUSTODIAN, _("docking station and uploads")),
    "ingest.view": (CUSTODIAN | HEADS, _("an ingest run")),
    "custody.report": (CUSTODIAN | HEADS, _("chain-of-custody report")),
    # Compliance (issue 6): figures per unit and month; unit heads their units.
    "compliance.dashboard": (CUSTODIAN | HEADS, _("compliance dashboard")),
    # Viewing and disclosure (EVD-2, EVD-3).
    "request.create": (STAFF, _("ask to view recordings")),
    "request.view": (STAFF, _("own requests and those to decide")),
    "request.decide": (UNIT_HEAD | LEADER | CUSTODIAN, _("review, approve or register")),
    "grant.revoke": (UNIT_HEAD | LEADER | CUSTODIAN, _("revoke a grant")),
    "register.view": (CUSTODIAN | UNIT_HEAD | LEADER | LEGAL, _("viewing register")),
    "disclosure.create": (OFFICER | UNIT_HEAD | LEADER | LEGAL,
                          _("ask to disclose outside the agency")),
    "disclosure.link": (CUSTODIAN, _("issue or revoke a disclosure link")),
    # Findings and violations (issue 6 item 2; ACT-5 B16, SUP-2 A18 B26). Scope:
    # authz.visible_findings. Explaining is the responsible person's (officers, custodians
    # for device findings, a unit head for their own); deciding is the unit head's (the
    # bureau leader above every unit, e.g. where the head explained); the violation
    # register is kept by the heads and the legal and supervision role (SUP-2); the
    # outcome is the leader's or the legal role's (A18, B26: 按照有关规定处理).
    "finding.view": (STAFF, _("findings")),
    "finding.explain": (OFFICER | CUSTODIAN | UNIT_HEAD, _("explain a finding")),
    "finding.decide": (UNIT_HEAD | LEADER, _("accept or reject an explanation")),
    "violation.register": (HEADS, _("escalate a finding to a violation")),
    "violation.view": (HEADS, _("violation register")),
    "violation.decide": (LEADER | LEGAL, _("record the outcome of a violation")),
    # Annual review (评查) and inspections (issue 6 item 3; SUP-1 A17, SUP-3). The legal
    # and supervision role (法规股) runs campaigns, the bureau leader approves them; scoring
    # is for the campaign's reviewers only (witness.review.services: scope).
    "review.manage": (LEGAL, _("run review campaigns")),
    "review.approve": (LEADER, _("approve a review campaign")),
    "review.score": (STAFF, _("review campaigns one reviews, and their scores")),
    # Retention, the approved purge and preservation holds (issue 7; RET-1 A15 B21,
    # RET-2 A16). The purge approver is the one the profile names (retention.purge_approver;
    # witness.retention.purge.check_approver), never the proposer.
    "retention.view": (CUSTODIAN | LEADER | LEGAL, _("retention plan and purge batches")),
    "retention.propose": (CUSTODIAN, _("propose a purge batch")),
    "retention.decide": (LEADER, _("approve or reject a purge batch")),
    "hold.view": (STAFF, _("preservation holds and complaints")),
    "hold.propose": (STAFF, _("propose a preservation hold")),
    "hold.decide": (LEADER | LEGAL, _("approve, reject or release a preservation hold")),
    "complaint.register": (HEADS, _("register a complaint or petition")),
    # The three administrators (三员分立).
    "config.manage": (SYSADMIN, _("system configuration")),
    "user.manage": (SYSADMIN, _("technical user settings")),
    "role.assign": (SECADMIN, _("roles and permissions")),
    "audit.read": (AUDITADMIN, _("the audit log")),
    "audit.entry": (AUDITADMIN | LEGAL, _("an audit entry")),
    "audit.access_history": (AUDITADMIN | LEGAL, _("access history of recordings")),
}

POLICY: dict[str, frozenset[str]] = {action: roles for action, (roles, _d) in ACTIONS.items()}

class UnknownAction(KeyError):
    pass


def roles_for(action: str) -> frozenset[str]:
    try:
        return POLICY[action]
    except KeyError:
        raise UnknownAction(action) from None


def may(roles, action: str) -> bool:
    """Whether an account holding ``roles`` may take ``action`` at all (before scope)."""
    allowed = roles_for(action)
    if allowed == EVERYONE:
        return True  # any signed-in account, whatever it holds
    held = frozenset(roles)
    admin = held & ADMIN_ROLES
    if admin:
        # 三员分立: the one administrator role alone decides; two decide nothing.
        return len(admin) == 1 and bool(admin & allowed)
    return bool(held & allowed)


def actions_for(roles) -> frozenset[str]:
    return frozenset(action for action in POLICY if may(roles, action))
