"""Device registry and usage ledger (DEV-1, DEV-3, DEV-4, DEV-5).

Every change is audited in the same transaction. An issue outside the profile's
``issue_scope`` is refused: no ledger row, one audit entry and one RefusedIssue (which
the compliance rules turn into a finding) are committed, then ``Refused`` is raised.
So do not call ``issue_device`` inside an outer ``transaction.atomic()``: the exception
would roll the refusal record back with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.audit.models import Outcome
from witness.core.errors import NotFound, Refused, Text, WitnessError
from witness.core.times import not_in_future
from witness.devices.models import (
    CheckKind,
    Device,
    DeviceEvent,
    DeviceIssue,
    DeviceKind,
    DeviceStatus,
    EventKind,
    PreUseCheck,
    RefusedIssue,
)
from witness.org.models import Person, Unit
from witness.org.services import unit_at
from witness.profiles import services as profiles

# A time "now" on a client may run a little ahead of the server's clock.
# PreUseCheck.drift_seconds is a 32-bit integer column.
MAX_DRIFT_SECONDS = 2**31 - 1


def _same_agency(device: Device, person: Person | None) -> None:
    if person is not None and person.agency_id != device.unit.agency_id:
        raise WitnessError(_("%(name)s is not a member of the agency that owns device "
                             "%(serial)s."), code="person_agency", name=person.name,
                           serial=device.serial)


def get_device(serial: str) -> Device:
    serial = (serial or "").strip()
    try:
        return Device.objects.select_related("unit", "custodian").get(serial=serial)
    except Device.DoesNotExist:
        raise NotFound(_("No device with serial number %(serial)s."), serial=serial) from None


@transaction.atomic
def register_device(*, kind: str, serial: str, unit: Unit, model: str = "",
                    manufacturer: str = "", custodian: Person | None = None,
                    records_video: bool | None = None, records_audio: bool | None = None,
                    takes_photos: bool | None = None, notes: str = "", actor=None) -> Device:
    """Register a device (DEV-1). Capabilities default from the kind."""
    try:
        kind = DeviceKind(kind)
    except ValueError:
        raise WitnessError(_("Unknown device kind %(kind)s; one of: %(kinds)s"), code="bad_kind",
                           kind=kind, kinds=", ".join(DeviceKind.values)) from None
    serial = (serial or "").strip()
    if not serial:
        raise WitnessError(_("A device needs a serial number."), code="serial_required")
    if Device.objects.filter(serial=serial).exists():
        raise WitnessError(_("A device with serial number %(serial)s is already registered."),
                           code="duplicate_serial", serial=serial)
    if custodian is not None and custodian.agency_id != unit.agency_id:
        raise WitnessError(_("The custodian %(name)s is not in this agency."),
                           code="custodian_agency", name=custodian.name)
    video_default = kind in (DeviceKind.BODY_CAMERA, DeviceKind.VIDEO_CAMERA,
                             DeviceKind.HANDHELD, DeviceKind.SURVEILLANCE)
    audio_default = kind in (DeviceKind.BODY_CAMERA, DeviceKind.VIDEO_CAMERA,
                             DeviceKind.HANDHELD, DeviceKind.RECORDER)
    photo_default = kind in (DeviceKind.BODY_CAMERA, DeviceKind.CAMERA, DeviceKind.HANDHELD)
    try:
        with transaction.atomic():  # a savepoint: a lost race must not break the caller
            device = Device.objects.create(
                kind=kind, serial=serial, unit=unit, model=model, manufacturer=manufacturer,
                custodian=custodian,
                records_video=video_default if records_video is None else records_video,
                records_audio=audio_default if records_audio is None else records_audio,
                takes_photos=photo_default if takes_photos is None else takes_photos,
                notes=notes,
            )
    except IntegrityError:
        raise WitnessError(_("A device with serial number %(serial)s is already registered."),
                           code="duplicate_serial", serial=serial) from None
    audit.append(actor, "device.register", device,
                 details={"serial": serial, "kind": kind.value, "unit": unit.name,
                          "custodian": custodian.name if custodian else None})
    return device


def open_issue(device: Device) -> DeviceIssue | None:
    return device.issues.filter(returned_at__isnull=True).select_related("holder").first()


def scope_allows(scope: str, device: Device, person: Person, person_unit: Unit) -> bool:
    """DEV-3: ``agency`` (A4, A18(3)) — only the bureau's own personnel;
    ``unit`` (B8–B10) — only people of the device's owning unit."""
    if person.agency_id != device.unit.agency_id:
        return False
    if scope == "unit":
        return person_unit.pk == device.unit_id
    return True


def _refuse(device, person, person_unit, scope, version, at, actor, reason):
    # durable: the refusal must commit even though the caller gets an error; inside a
    # caller's transaction it could be rolled back and lost, so that is a programming error.
    with transaction.atomic(durable=True):
        refused = RefusedIssue.objects.create(
            device=device, person=person, person_unit=person_unit, attempted_at=at,
            attempted_by=actor if getattr(actor, "is_authenticated", False) else None,
            issue_scope=scope, profile_version=version, reason=reason,
        )
        audit.append(actor, "device.issue", device, outcome=Outcome.REFUSED,
                     details={"holder": person.name, "holder_unit": person_unit.name,
                              "device_unit": device.unit.name, "issue_scope": scope,
                              "profile": str(version), "refused_issue_id": refused.pk})


def issue_device(device: Device, holder: Person, *, at: datetime | None = None,
                 purpose: str = "", long_term: bool = False, actor=None,
                 check: dict | None = None, no_check_reason: str = "") -> DeviceIssue:
    """Hand ``device`` to ``holder`` (领用, DEV-3). One holder at a time.

    ``check`` (keyword arguments of :func:`record_check`: ``checked_by``,
    ``battery_percent``, ``free_storage_mb``, ``device_time`` …) records the pre-use check
    at issue (DEV-4, A7, B12) in the same transaction as the ledger line; where no check
    was made, ``no_check_reason`` says why and goes into the audit entry."""
    at = not_in_future(at or timezone.now())
    if device.status != DeviceStatus.IN_SERVICE:
        raise WitnessError(_("Device %(serial)s is %(status)s and cannot be issued."),
                           code="not_in_service", serial=device.serial,
                           status=Text(DeviceStatus(device.status).label))
    if not holder.active:
        raise WitnessError(_("%(name)s is not an active member of staff."),
                           code="inactive_holder", name=holder.name)
    version, profile = profiles.in_force(device.unit.agency, at)
    holder_unit = unit_at(holder, at)
    if not scope_allows(profile.issue_scope, device, holder, holder_unit):
        if profile.issue_scope == "unit":
            error = Refused(
                _("Refused: device %(serial)s belongs to %(device_unit)s and may only be issued "
                  "to its own staff; %(name)s is in %(holder_unit)s (profile %(profile)s, "
                  "issue scope: unit)."),
                code="out_of_scope", serial=device.serial, device_unit=device.unit.name,
                name=holder.name, holder_unit=holder_unit.name, profile=str(version))
        else:
            error = Refused(
                _("Refused: device %(serial)s may only be issued to the agency's own staff; "
                  "%(name)s is not (profile %(profile)s, issue scope: agency)."),
                code="out_of_scope", serial=device.serial, name=holder.name,
                profile=str(version))
        _refuse(device, holder, holder_unit, profile.issue_scope, version, at, actor,
                error.bilingual)
        raise error
    try:
        with transaction.atomic():
            current = open_issue(device)
            if current is not None:
                raise WitnessError(
                    _("Device %(serial)s is already out with %(name)s since %(since)s; it must "
                      "be returned first."), code="already_issued", serial=device.serial,
                    name=current.holder.name,
                    since=timezone.localtime(current.issued_at).strftime("%Y-%m-%d %H:%M"))
            later = device.issues.filter(Q(issued_at__gt=at) | Q(returned_at__gt=at)).first()
            if later is not None:
                raise WitnessError(
                    _("Device %(serial)s was already with %(name)s after %(at)s (ledger line "
                      "of %(since)s); an issue cannot be entered before that."),
                    code="ledger_overlap", serial=device.serial, name=later.holder.name,
                    at=timezone.localtime(at).strftime("%Y-%m-%d %H:%M"),
                    since=timezone.localtime(later.issued_at).strftime("%Y-%m-%d %H:%M"))
            issue = DeviceIssue.objects.create(
                device=device, holder=holder, holder_unit=holder_unit, issued_at=at,
                issued_by=actor if getattr(actor, "is_authenticated", False) else None,
                purpose=purpose, long_term=long_term)
            audit.append(actor, "device.issue", device,
                         details={"issue_id": issue.pk, "holder": holder.name,
                                  "holder_unit": holder_unit.name, "long_term": long_term,
                                  "issued_at": at.isoformat(), "profile": str(version),
                                  "checked": check is not None,
                                  "no_check_reason": no_check_reason or None})
            if check is not None:
                record_check(device, at=at, kind=CheckKind.AT_ISSUE, actor=actor, **check)
    except IntegrityError as exc:
        # the partial unique index, as PostgreSQL and SQLite name it
        if not any(name in str(exc) for name in ("device_one_open_issue",
                                                  "devices_deviceissue.device_id")):
            raise
        # Two issues raced: the partial unique index kept the ledger right.
        raise WitnessError(_("Device %(serial)s was issued by someone else just now."),
                           code="already_issued", serial=device.serial) from None
    return issue


@transaction.atomic
def return_device(device: Device, *, at: datetime | None = None, notes: str = "",
                  actor=None) -> DeviceIssue:
    """Take ``device`` back (归还)."""
    at = not_in_future(at or timezone.now())
    issue = DeviceIssue.objects.select_for_update().filter(
        device=device, returned_at__isnull=True).first()
    if issue is None:
        raise WitnessError(_("Device %(serial)s is not out; there is nothing to return."),
                           code="not_issued", serial=device.serial)
    if at < issue.issued_at:
        raise WitnessError(_("The return time cannot be before the issue time (%(since)s)."),
                           code="return_before_issue",
                           since=timezone.localtime(issue.issued_at).strftime("%Y-%m-%d %H:%M"))
    issue.returned_at = at
    issue.returned_to = actor if getattr(actor, "is_authenticated", False) else None
    issue.return_notes = notes
    issue.save(update_fields=["returned_at", "returned_to", "return_notes"])
    audit.append(actor, "device.return", device,
                 details={"issue_id": issue.pk, "holder": issue.holder.name,
                          "returned_at": at.isoformat()})
    return issue


@transaction.atomic
def record_check(device: Device, checked_by: Person, *, battery_percent: int,
                 free_storage_mb: int, device_time: datetime, working: bool = True,
                 notes: str = "", at: datetime | None = None, actor=None,
                 kind: str | None = None) -> PreUseCheck:
    """A pre-use check (DEV-4, A7, B12): at issue, or before each later use of a device
    held long-term. Drift = time shown on the device − server time, in seconds.

    ``kind`` defaults to "at issue" for the first check of an open ledger line and
    "before use" otherwise; :func:`issue_device` and the CLI say it explicitly."""
    at = not_in_future(at or timezone.now())
    _same_agency(device, checked_by)
    if device.status in (DeviceStatus.LOST, DeviceStatus.RETIRED):
        raise WitnessError(_("Device %(serial)s is %(status)s; it cannot be checked."),
                           code="not_checkable", serial=device.serial,
                           status=Text(DeviceStatus(device.status).label))
    if not 0 <= battery_percent <= 100:
        raise WitnessError(_("Battery must be between 0 and 100 %%, not %(value)s."),
                           code="bad_battery", value=battery_percent)
    if free_storage_mb < 0:
        raise WitnessError(_("Free storage cannot be negative."), code="bad_storage")
    if timezone.is_naive(device_time):
        device_time = timezone.make_aware(device_time)
    issue = open_issue(device)
    if kind is None:
        kind = CheckKind.BEFORE_USE
        if issue is not None and not issue.checks.exists():
            kind = CheckKind.AT_ISSUE
    kind = CheckKind(kind)
    if kind == CheckKind.AT_ISSUE and issue is None:
        raise WitnessError(_("Device %(serial)s is not out; a check at issue needs an issue."),
                           code="not_issued", serial=device.serial)
    drift = round((device_time - at).total_seconds())
    if abs(drift) > MAX_DRIFT_SECONDS:
        raise WitnessError(_("The device time %(time)s is too far from the present."),
                           code="bad_device_time",
                           time=timezone.localtime(device_time).strftime("%Y-%m-%d %H:%M"))
    check = PreUseCheck.objects.create(
        device=device, issue=issue, kind=kind, checked_by=checked_by, checked_at=at,
        battery_percent=battery_percent, free_storage_mb=free_storage_mb,
        device_time=device_time, drift_seconds=drift, working=working, notes=notes)
    audit.append(actor, "device.check", device,
                 details={"check_id": check.pk, "kind": kind.value, "battery": battery_percent,
                          "free_storage_mb": free_storage_mb, "drift_seconds": drift,
                          "working": working})
    return check


_STATUS_AFTER = {
    EventKind.REPAIR: DeviceStatus.UNDER_REPAIR,
    EventKind.DAMAGE: DeviceStatus.UNDER_REPAIR,
    EventKind.LOSS: DeviceStatus.LOST,
    EventKind.RETIREMENT: DeviceStatus.RETIRED,
    EventKind.FOUND: DeviceStatus.IN_SERVICE,
}


@transaction.atomic
def record_event(device: Device, kind: str, description: str, *,
                 responsible: Person | None = None, amount_yuan: Decimal | None = None,
                 occurred_at: datetime | None = None, back_in_service: bool = False,
                 actor=None) -> DeviceEvent:
    """Maintenance, repair, upgrade, replacement, damage, loss, compensation (DEV-5)."""
    try:
        kind = EventKind(kind)
    except ValueError:
        raise WitnessError(_("Unknown event kind %(kind)s; one of: %(kinds)s"), code="bad_kind",
                           kind=kind, kinds=", ".join(EventKind.values)) from None
    if not description.strip():
        raise WitnessError(_("Describe what happened."), code="description_required")
    _same_agency(device, responsible)
    if kind == EventKind.COMPENSATION and (amount_yuan is None or responsible is None):
        raise WitnessError(_("A compensation needs the amount and the responsible person."),
                           code="compensation_incomplete")
    if amount_yuan is not None and amount_yuan < 0:
        raise WitnessError(_("The amount cannot be negative."), code="bad_amount")
    if kind == EventKind.COMPENSATION and amount_yuan == 0:
        raise WitnessError(_("A compensation needs an amount above zero."), code="bad_amount")
    if kind == EventKind.FOUND and device.status != DeviceStatus.LOST:
        raise WitnessError(_("Device %(serial)s is not recorded as lost."), code="not_lost",
                           serial=device.serial)
    lost = device.status == DeviceStatus.LOST and kind != EventKind.FOUND
    if back_in_service and (kind in (EventKind.LOSS, EventKind.RETIREMENT) or lost):
        raise WitnessError(_("A lost device comes back into service only when it is recorded "
                             "as found, and a loss or retirement cannot put it back into "
                             "service."), code="bad_back_in_service")
    event = DeviceEvent.objects.create(
        device=device, kind=kind, description=description.strip(), responsible=responsible,
        amount_yuan=amount_yuan, occurred_at=not_in_future(occurred_at or timezone.now()),
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None)
    before = device.status
    after = DeviceStatus.IN_SERVICE if back_in_service else _STATUS_AFTER.get(kind, before)
    if after != before:
        device.status = after
        device.save(update_fields=["status"])
    audit.append(actor, "device.event", device,
                 details={"event_id": event.pk, "kind": kind.value,
                          "responsible": responsible.name if responsible else None,
                          "amount_yuan": str(amount_yuan) if amount_yuan is not None else None,
                          "status_before": before, "status_after": after})
    return event


@dataclass(frozen=True)
class UnitRatio:
    unit_id: int
    unit_name: str
    has_field_duty: bool
    devices: int          # in service and able to record image and sound at once
    minimum: int

    @property
    def short(self) -> int:
        return max(0, self.minimum - self.devices) if self.has_field_duty else 0


def equipment_ratio(agency, at: datetime | None = None) -> list[UnitRatio]:
    """DEV-2 (B5, A3): per unit, in-service devices recording image and sound at once,
    against the profile minimum (which applies to units with field-enforcement duty).
    One query."""
    _version, profile = profiles.in_force(agency, at or timezone.now())
    rows = (Unit.objects.filter(agency=agency)
            .annotate(n=Count("devices", filter=Q(devices__status=DeviceStatus.IN_SERVICE,
                                                  devices__records_video=True,
                                                  devices__records_audio=True)))
            .order_by("name").values_list("pk", "name", "has_field_duty", "n"))
    return [UnitRatio(pk, name, duty, n, profile.min_devices_per_field_unit if duty else 0)
            for pk, name, duty, n in rows]
