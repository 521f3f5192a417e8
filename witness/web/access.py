"""Who may open which page of the web shell: one table, used by the views' role gate, the
navigation and the templates' links. The access-control issue replaces it with its own
module.

三员分立 (system, security, audit administrators): an account that holds an administrator
role sees no enforcement data, even if it held another role as well. The audit
administrator opens exactly the audit pages (``AUDIT_PAGES``: the log, its entries with
their proofs, the checkpoints, the access history of recordings) and nothing else; the
system and security administrators open none of the pages below, the audit pages
included. They all keep the home page, which tells them where their console is.

Nobody else sees the audit log, except the legal and supervision role (法制监督), which
reads the access history of recordings (``recording_access`` and the entries in it),
read-only.
"""

from witness.org.models import ADMIN_ROLES, Role

OFFICERS = frozenset({Role.OFFICER})
CUSTODIANS = frozenset({Role.CUSTODIAN})
HEADS = frozenset({Role.UNIT_HEAD, Role.LEADER, Role.LEGAL})
RECORD_WRITERS = frozenset({Role.OFFICER, Role.UNIT_HEAD, Role.LEADER})
CASE_WRITERS = frozenset({Role.UNIT_HEAD, Role.LEADER})
AUDITORS = frozenset({Role.AUDITADMIN})
SUPERVISORS = frozenset({Role.LEGAL})

# url name -> the roles that may open it. Officers open a device's detail page, its
# return and its pre-use check only while they hold the device (the views check that).
PAGES: dict[str, frozenset[str]] = {
    "my_devices": OFFICERS,
    "device_list": CUSTODIANS | HEADS,
    "ledger": CUSTODIANS | HEADS,
    "device_detail": CUSTODIANS | HEADS | OFFICERS,
    "device_register": CUSTODIANS,
    "device_issue": CUSTODIANS,
    "device_event": CUSTODIANS,
    "device_return": CUSTODIANS | OFFICERS,
    "device_check": CUSTODIANS | OFFICERS,
    "case_list": HEADS,
    "case_detail": HEADS,
    "case_create": CASE_WRITERS,
    "activity_list": OFFICERS | HEADS,
    "activity_detail": OFFICERS | HEADS,
    "activity_create": RECORD_WRITERS,
    "assignment_queue": CUSTODIANS,
    "recording_assign": CUSTODIANS,
    "station": CUSTODIANS,
    "station_retry": CUSTODIANS,
    "ingest_upload": CUSTODIANS,
    "ingest_run": CUSTODIANS | HEADS,
    "audit_log": AUDITORS,
    "audit_entry": AUDITORS | SUPERVISORS,  # legal: only the recording-access entries
    "audit_checkpoints": AUDITORS,
    "recording_access": AUDITORS | SUPERVISORS,
}

# The audit administrator's console: the only pages an administrator account opens.
AUDIT_PAGES = frozenset({"audit_log", "audit_entry", "audit_checkpoints", "recording_access"})


def is_administrator(roles) -> bool:
    """An administrator account sees no enforcement data, whatever else it holds."""
    return bool(roles & ADMIN_ROLES)


def is_audit_administrator(roles) -> bool:
    """The audit administrator and no other administrator role (no account should hold
    two; one that does gets neither console's pages)."""
    return roles & ADMIN_ROLES == {Role.AUDITADMIN}


def may_open(roles, name: str) -> bool:
    if is_administrator(roles):
        return (name in AUDIT_PAGES and is_audit_administrator(roles)
                and Role.AUDITADMIN in PAGES[name])
    return bool(roles & PAGES[name])


def pages_for(roles) -> frozenset[str]:
    """The url names of the pages a user with ``roles`` may open (besides home)."""
    return frozenset(name for name in PAGES if may_open(roles, name))
