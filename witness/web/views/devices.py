"""Devices and the issue/return ledger (DEV-1, DEV-3, DEV-4, DEV-5): the pages that
show them. The forms that change them are in device_actions.

Device scope (issue 5 item 1) is one rule, :func:`require_device`: a role whose wider
action allows it (``WIDE``: custodians and heads see every device's page, custodians keep
every device) acts on every device of the agency; an officer only on the devices they
hold now. A device page outside the rule answers 403: devices are not secret, the ledger
lists them."""

from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.core.errors import WitnessError
from witness.devices.models import Device, DeviceIssue, PreUseCheck
from witness.profiles import services as profiles
from witness.web.forms import DeviceFilterForm, LedgerFilterForm
from witness.web.views.common import keyset, person_of, roles_required

DETAIL_ROWS = 50


def with_holder(qs):
    """Devices with their open ledger line and holder in one extra query (no N+1)."""
    return qs.select_related("unit", "custodian").prefetch_related(Prefetch(
        "issues", to_attr="open_issues",
        queryset=DeviceIssue.objects.filter(returned_at__isnull=True).select_related("holder")))


def drift_tolerance(agency) -> int | None:
    """The profile's clock drift tolerance in seconds (DEV-4); None without a profile."""
    try:
        _version, profile = profiles.active(agency)
    except WitnessError:
        return None
    return profile.clock_drift_tolerance_seconds


def load_device(request, pk) -> Device:
    return get_object_or_404(with_holder(Device.objects.filter(unit__agency=request.agency)),
                             pk=pk)


def holds(request, device) -> bool:
    """Whether the user is the device's current holder (``device`` from with_holder)."""
    person = person_of(request.user)
    return (person is not None and bool(device.open_issues)
            and device.open_issues[0].holder_id == person.pk)


# device action -> the action that lifts the holder rule for it.
WIDE = {
    "device.view": "device.list",  # custodians and heads see every device's page
    "device.return": "device.issue",  # custodians (the keepers) return and check any
    "device.check": "device.issue",
}


def device_allowed(request, device, action: str) -> bool:
    """Whether the user may take ``action`` on ``device``: the role allows the action, and
    either its wider action (``WIDE``) or holding the device now."""
    subject = request.subject
    return subject.may(action) and (subject.may(WIDE[action]) or holds(request, device))


def require_device(request, device, action: str) -> None:
    """The one device scope check of the pages and forms; raises authz.Denied (403)."""
    if not device_allowed(request, device, action):
        raise authz.Denied(_("This device is not issued to you."), code="scope")


def mark_actions(request, devices):
    """What the user may do with each device: custodians issue, return and check any;
    an officer returns and checks the devices they hold."""
    keeper = is_keeper(request)
    for device in devices:
        device.can_issue = keeper
        device.can_return = device_allowed(request, device, "device.return")
    return devices


def is_keeper(request) -> bool:
    """Custodians keep the devices: they issue, return and check any of them."""
    return request.subject.may("device.issue")


def sees_all_devices(request) -> bool:
    return request.subject.may("device.list")


def shows_actions(request) -> bool:
    return request.subject.may("device.return")


@roles_required("device_list")
def device_list(request):
    form = DeviceFilterForm(request.agency, request.GET or None)
    qs = Device.objects.filter(unit__agency=request.agency)
    if form.is_valid():
        if form.cleaned_data["unit"]:
            qs = qs.filter(unit=form.cleaned_data["unit"])
        if form.cleaned_data["status"]:
            qs = qs.filter(status=form.cleaned_data["status"])
    page = keyset(request, with_holder(qs), "serial", descending=False)
    mark_actions(request, page.rows)
    return render(request, "web/devices/list.html",
                  {"form": form, "page": page, "show_actions": shows_actions(request),
                   "can_register": request.subject.may("device.register")})


@roles_required("my_devices")
def my_devices(request):
    """The devices the user holds now, and their own recent ledger lines."""
    person = person_of(request.user)
    if person is None:
        raise authz.Denied(_("Your account is not linked to a person of the agency."),
                           code="no_person")
    devices = list(with_holder(Device.objects.filter(
        unit__agency=request.agency, issues__holder=person,
        issues__returned_at__isnull=True)).order_by("serial"))
    recent = (DeviceIssue.objects.filter(holder=person).select_related("device")
              .order_by("-issued_at", "-id")[:20])
    return render(request, "web/devices/mine.html",
                  {"devices": mark_actions(request, devices), "recent": recent,
                   "show_actions": True})


@roles_required("ledger")
def ledger(request):
    """The issue/return ledger (台账), newest first."""
    form = LedgerFilterForm(request.agency, request.GET or None)
    qs = (DeviceIssue.objects.filter(device__unit__agency=request.agency)
          .select_related("device", "device__unit", "holder", "holder_unit")
          .annotate(check_count=Count("checks")))
    device = None
    if request.GET.get("device", "").isdigit():
        device = get_object_or_404(Device, pk=request.GET["device"],
                                   unit__agency=request.agency)
        qs = qs.filter(device=device)
    if form.is_valid():
        if form.cleaned_data["unit"]:
            qs = qs.filter(device__unit=form.cleaned_data["unit"])
        if form.cleaned_data["open_only"]:
            qs = qs.filter(returned_at__isnull=True)
    page = keyset(request, qs, "issued_at", descending=True)
    return render(request, "web/devices/ledger.html", {
        "form": form, "page": page, "device": device,
        "extra_params": [("device", device.pk)] if device else []})


@roles_required("device_detail")
def device_detail(request, pk):
    """Custodians and heads see every device; an officer only the devices they hold."""
    device = load_device(request, pk)
    require_device(request, device, "device.view")
    mark_actions(request, [device])
    tolerance = drift_tolerance(request.agency)
    checks = Prefetch("checks", queryset=PreUseCheck.objects.select_related("checked_by"))
    issues = list(device.issues.select_related("holder", "holder_unit", "issued_by",
                                               "returned_to")
                  .prefetch_related(checks).order_by("-issued_at", "-id")[: DETAIL_ROWS + 1])
    loose_checks = list(device.checks.filter(issue__isnull=True).select_related("checked_by")
                        [:DETAIL_ROWS])
    for check in loose_checks + [c for i in issues for c in i.checks.all()]:
        check.drift_ok = tolerance is None or abs(check.drift_seconds) <= tolerance
    return render(request, "web/devices/detail.html", {
        "device": device,
        "issues": issues[:DETAIL_ROWS],
        "more_issues": len(issues) > DETAIL_ROWS,
        "loose_checks": loose_checks,
        "events": device.events.select_related("responsible")[:DETAIL_ROWS],
        "refused": device.refused_issues.select_related("person", "person_unit",
                                                        "attempted_by")[:DETAIL_ROWS],
        "tolerance": tolerance,
        "can_record_event": request.subject.may("device.event"),
    })
