"""Devices and the issue/return ledger (DEV-1, DEV-3, DEV-4, DEV-5)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from witness.core.errors import WitnessError
from witness.devices import services
from witness.devices.models import Device, DeviceIssue, PreUseCheck
from witness.profiles import services as profiles
from witness.web.forms import CheckForm, DeviceFilterForm, IssueForm, LedgerFilterForm, ReturnForm
from witness.web.templatetags.witness import drift
from witness.web.views.common import (
    DEVICE_WRITERS,
    error_text,
    keyset,
    person_of,
    roles_required,
)

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


def _can_write(request) -> bool:
    return bool(request.roles & DEVICE_WRITERS)


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


@roles_required()
def device_list(request):
    form = DeviceFilterForm(request.agency, request.GET or None)
    qs = Device.objects.filter(unit__agency=request.agency)
    if form.is_valid():
        if form.cleaned_data["unit"]:
            qs = qs.filter(unit=form.cleaned_data["unit"])
        if form.cleaned_data["status"]:
            qs = qs.filter(status=form.cleaned_data["status"])
    page = keyset(request, with_holder(qs), "serial", descending=False)
    return render(request, "web/devices/list.html",
                  {"form": form, "page": page, "can_write": _can_write(request)})


@roles_required()
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
                  {"devices": devices, "recent": recent, "can_write": _can_write(request)})


@roles_required()
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


@roles_required()
def device_detail(request, pk):
    device = load_device(request, pk)
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
        "can_write": _can_write(request),
    })


def _report_check(request, check):
    """Success message with the clock drift, and a warning beyond the profile's tolerance."""
    messages.success(request, _("Pre-use check of %(serial)s recorded; device clock: "
                                "%(drift)s.")
                     % {"serial": check.device.serial, "drift": drift(check.drift_seconds)})
    tolerance = drift_tolerance(request.agency)
    if tolerance is not None and abs(check.drift_seconds) > tolerance:
        messages.warning(request, _("The device clock is off by more than %(n)s seconds: set "
                                    "it to the current date and time before use.")
                         % {"n": tolerance})


@roles_required(DEVICE_WRITERS)
def device_issue(request, pk):
    """Issue with the pre-use check at issue, saved together (DEV-3, DEV-4)."""
    device = load_device(request, pk)
    person = person_of(request.user)
    if person is None:
        raise PermissionDenied
    form = IssueForm(request.agency, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issue = services.issue_device(device, data["holder"], purpose=data["purpose"],
                                          long_term=data["long_term"], actor=request.user,
                                          check=form.check_data(person))
        except WitnessError as exc:
            form.add_error(None, error_text(request, exc))
        else:
            messages.success(request, _("Device %(serial)s issued to %(name)s.")
                             % {"serial": device.serial, "name": data["holder"].name})
            _report_check(request, issue.checks.select_related("device").get())
            return redirect("device_detail", pk=device.pk)
    return render(request, "web/devices/issue.html", {"device": device, "form": form})


@require_POST
@roles_required(DEVICE_WRITERS)
def device_return(request, pk):
    """Return a device. From HTMX the response is the part of the page to swap: the
    list row (``part=row``) or the holder panel of the detail page."""
    device = load_device(request, pk)
    form = ReturnForm(request.POST)
    form.is_valid()  # notes are optional free text: always valid
    error = None
    done = _("Device %(serial)s returned.") % {"serial": device.serial}
    try:
        services.return_device(device, notes=form.cleaned_data.get("notes", ""),
                               actor=request.user)
    except WitnessError as exc:
        error = error_text(request, exc)
    if not _is_htmx(request):
        if error:
            messages.error(request, error)
        else:
            messages.success(request, done)
        return redirect("device_detail", pk=device.pk)
    device = load_device(request, pk)
    template = ("web/devices/_row.html" if request.POST.get("part") == "row"
                else "web/devices/_holder.html")
    html = render_to_string(template, {"device": device, "can_write": True, "error": error,
                                       "notice": None if error else done}, request=request)
    return HttpResponse(html)


@roles_required(DEVICE_WRITERS)
def device_check(request, pk):
    """Pre-use check (DEV-4). The server computes the drift when it saves the check."""
    device = load_device(request, pk)
    person = person_of(request.user)
    if person is None:
        raise PermissionDenied
    form = CheckForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            check = services.record_check(
                device, person, battery_percent=data["battery_percent"],
                free_storage_mb=data["free_storage_mb"], device_time=data["device_time"],
                working=data["working"], notes=data["notes"], actor=request.user)
        except WitnessError as exc:
            form.add_error(None, error_text(request, exc))
        else:
            _report_check(request, check)
            return redirect("device_detail", pk=device.pk)
    return render(request, "web/devices/check.html", {"device": device, "form": form})
