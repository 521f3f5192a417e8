"""Which rows an API operation may show or act on, for the subject asking.

Activities, recordings and cases: :mod:`witness.access.authz`'s ``visible_*``. Devices,
which authz leaves to the pages: the agency's devices for those whose role lists them
(``device.list``: custodians, unit heads, leaders, legal), and for an officer the devices
they hold now — as the web pages do (witness/web/views/devices.py).
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from witness.access.authz import Subject
from witness.devices.models import Device, DeviceIssue


def with_holder(qs: QuerySet) -> QuerySet:
    """Devices with unit, custodian and the open ledger line (``open_issues``) and its
    holder, in one extra query for the whole page."""
    return qs.select_related("unit", "custodian").prefetch_related(Prefetch(
        "issues", to_attr="open_issues",
        queryset=DeviceIssue.objects.filter(returned_at__isnull=True)
        .select_related("holder", "holder_unit")))


def visible_devices(subject: Subject) -> QuerySet:
    if subject.agency is None:
        return Device.objects.none()
    qs = Device.objects.filter(unit__agency=subject.agency)
    if subject.may("device.list"):
        return qs
    if subject.person is None:
        return qs.none()
    return qs.filter(issues__holder=subject.person, issues__returned_at__isnull=True)


def visible_ledger(subject: Subject) -> QuerySet:
    """Ledger lines: the agency's for ``device.list`` roles, an officer's own otherwise."""
    if subject.agency is None:
        return DeviceIssue.objects.none()
    qs = DeviceIssue.objects.filter(device__unit__agency=subject.agency)
    if subject.may("device.list"):
        return qs
    if subject.person is None:
        return qs.none()
    return qs.filter(holder=subject.person)
