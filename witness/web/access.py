"""Who may open which page of the web shell: one table, used by the views' role gate, the
navigation and the templates' links. The access-control issue replaces it with its own
module.

The three administrators (三员分立: system, security, audit) see no enforcement data: no
page below admits them, even if they held another role as well; they keep the home page,
which tells them where their console will be.
"""

from witness.org.models import ADMIN_ROLES, Role

OFFICERS = frozenset({Role.OFFICER})
CUSTODIANS = frozenset({Role.CUSTODIAN})
HEADS = frozenset({Role.UNIT_HEAD, Role.LEADER, Role.LEGAL})
RECORD_WRITERS = frozenset({Role.OFFICER, Role.UNIT_HEAD, Role.LEADER})
CASE_WRITERS = frozenset({Role.UNIT_HEAD, Role.LEADER})

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
}



def is_administrator(roles) -> bool:
    """An administrator account sees no enforcement data, whatever else it holds."""
    return bool(roles & ADMIN_ROLES)


def may_open(roles, name: str) -> bool:
    return not is_administrator(roles) and bool(roles & PAGES[name])


def pages_for(roles) -> frozenset[str]:
    """The url names of the pages a user with ``roles`` may open (besides home)."""
    return frozenset(name for name in PAGES if may_open(roles, name))
