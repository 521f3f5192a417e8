"""Devices and the issue/return ledger (DEV-1, DEV-3, DEV-4, DEV-5): the pages that
show them. The forms that change them are in device_actions."""

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, render

from witness.access.policy import may
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


def mark_actions(request, devices):
    """What the user may do with each device: custodians issue, return and check any;
    an officer returns and checks the devices they hold."""
    keeper = is_keeper(request)
    for device in devices:
        device.can_issue = keeper
        device.can_return = keeper or holds(request, device)
    return devices


def is_keeper(request) -> bool:
    """Custodians keep the devices: they issue, return and check any of them."""
    return may(request.roles, "device.issue")


def sees_all_devices(request) -> bool:
    return may(request.roles, "device.list")


def shows_actions(request) -> bool:
    return may(request.roles, "device.return")


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
                   "can_register": may(request.roles, "device.register")})


@roles_required("my_devices")
def my_devices(request):
    """The devices the user holds now, and their own recent ledger lines."""
    person = person_of(request.user)
    if person is None:
        raise PermissionDenied
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
    if not sees_all_devices(request) and not holds(request, device):
        raise PermissionDenied
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
        "can_record_event": may(request.roles, "device.event"),
    })
