"""The device forms: register (DEV-1), issue and return (DEV-3), pre-use check (DEV-4),
maintenance, repair, damage, loss and compensation events (DEV-5).

Custodians do all of it; an officer returns and checks the devices they hold. Input
errors answer 400, a service's refusal 409 or 422, with the message in both languages.
"""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from witness.access import authz
from witness.core.errors import WitnessError
from witness.devices import services
from witness.web.forms import CheckForm, EventForm, IssueForm, RegisterForm, ReturnForm
from witness.web.templatetags.witness import drift
from witness.web.views.common import (
    add_error,
    error_lines,
    error_status,
    form_status,
    person_of,
    roles_required,
)
from witness.web.views.devices import (
    device_allowed,
    drift_tolerance,
    load_device,
    mark_actions,
    require_device,
)


def _checker(request):
    person = person_of(request.user)
    if person is None:
        raise authz.Denied(gettext_lazy("Your account is not linked to a person of the "
                                        "agency."), code="no_person")
    return person


def _after(request, device):
    """Back to the device page, or to "my devices" for an officer no longer holding it."""
    device = load_device(request, device.pk)
    if device_allowed(request, device, "device.view"):
        return redirect("device_detail", pk=device.pk)
    return redirect("my_devices")


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


@roles_required("device_register")
def device_register(request):
    """Register a device (DEV-1); capabilities left open follow its kind."""
    person = person_of(request.user)
    initial = {"unit": person.unit_id, "custodian": person.pk} if person else {}
    form = RegisterForm(request.agency, request.POST or None, initial=initial)
    status = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            device = services.register_device(
                kind=data["kind"], serial=data["serial"], unit=data["unit"],
                model=data["model"], manufacturer=data["manufacturer"],
                custodian=data["custodian"], records_video=data["records_video"],
                records_audio=data["records_audio"], takes_photos=data["takes_photos"],
                notes=data["notes"], actor=request.user)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Device %(serial)s registered.")
                             % {"serial": device.serial})
            return redirect("device_detail", pk=device.pk)
    return render(request, "web/devices/register.html", {"form": form},
                  status=form_status(form, status))


@roles_required("device_issue")
def device_issue(request, pk):
    """Issue with the pre-use check at issue, saved together (DEV-3, DEV-4)."""
    device = load_device(request, pk)
    person = _checker(request)
    form = IssueForm(request.agency, request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issue = services.issue_device(device, data["holder"], purpose=data["purpose"],
                                          long_term=data["long_term"], actor=request.user,
                                          check=form.check_data(person))
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Device %(serial)s issued to %(name)s.")
                             % {"serial": device.serial, "name": data["holder"].name})
            _report_check(request, issue.checks.select_related("device").get())
            return redirect("device_detail", pk=device.pk)
    return render(request, "web/devices/issue.html", {"device": device, "form": form},
                  status=form_status(form, status))


@require_POST
@roles_required("device_return")
def device_return(request, pk):
    """Return a device. From HTMX the response is the part of the page to swap: the
    list row (``part=row``) or the holder panel of the detail page; a refusal is that
    part with the message, answered 409 or 422 (static/witness/htmx-config.js swaps it)."""
    device = load_device(request, pk)
    require_device(request, device, "device.return")
    form = ReturnForm(request.POST)
    form.is_valid()  # notes are optional free text: always valid
    error, status = None, 200
    done = _("Device %(serial)s returned.") % {"serial": device.serial}
    try:
        services.return_device(device, notes=form.cleaned_data.get("notes", ""),
                               actor=request.user)
    except WitnessError as exc:
        error, status = error_lines(exc), error_status(exc)
    if request.headers.get("HX-Request") != "true":
        if error:
            messages.error(request, "\n".join(error))
        else:
            messages.success(request, done)
        return _after(request, device)
    device = mark_actions(request, [load_device(request, pk)])[0]
    template = ("web/devices/_row.html" if request.POST.get("part") == "row"
                else "web/devices/_holder.html")
    html = render_to_string(template, {"device": device, "show_actions": True,
                                       "error_lines": error,
                                       "notice": None if error else done}, request=request)
    return HttpResponse(html, status=status)


@roles_required("device_check")
def device_check(request, pk):
    """Pre-use check (DEV-4). The server computes the drift when it saves the check."""
    device = load_device(request, pk)
    require_device(request, device, "device.check")
    person = _checker(request)
    form = CheckForm(request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            check = services.record_check(
                device, person, battery_percent=data["battery_percent"],
                free_storage_mb=data["free_storage_mb"], device_time=data["device_time"],
                working=data["working"], notes=data["notes"], actor=request.user)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            _report_check(request, check)
            return redirect("device_detail", pk=device.pk)
    return render(request, "web/devices/check.html", {"device": device, "form": form},
                  status=form_status(form, status))


@roles_required("device_event")
def device_event(request, pk):
    """Maintenance, repair, damage, loss, compensation … (DEV-5); the device's status
    follows the event."""
    device = load_device(request, pk)
    form = EventForm(request.agency, request.POST or None)
    status = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = services.record_event(
                device, data["kind"], data["description"], responsible=data["responsible"],
                amount_yuan=data["amount_yuan"], occurred_at=data["occurred_at"],
                back_in_service=data["back_in_service"], actor=request.user)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("Device %(serial)s: %(kind)s recorded.")
                             % {"kind": event.get_kind_display(), "serial": device.serial})
            return redirect("device_detail", pk=device.pk)
    return render(request, "web/devices/event.html", {"device": device, "form": form},
                  status=form_status(form, status))
