"""The second factor (issue 5 item 6; GB/T 22239-2019 level 3: two factors for the
administrators): time-based one-time codes (TOTP, RFC 6238) with django-otp's
``TOTPDevice`` — 30-second steps, six digits, one step of tolerance either way, and no code
accepted twice (the device keeps the last step used, ``last_t``).

Required for the three administrators, bureau leaders and custodians; any other account
may enrol. Wrong codes count towards the lock of witness/web/lockout.py exactly like wrong
passwords, and also in a run of their own (:class:`SecondFactorFailures`) that a correct
password does not end, so that logging in again does not buy more guesses. Every
enrolment, verification (success, failure, refusal while locked) and reset is audited in
the transaction of the change."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import django_otp
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from witness.accounts.models import SecondFactorFailures
from witness.audit import services as audit
from witness.audit.models import Outcome
from witness.org import services as org
from witness.org.models import ADMIN_ROLES, Role
from witness.web import lockout
from witness.web.models import LoginLock

# Roles whose accounts cannot do anything before their second factor is verified.
REQUIRED_ROLES = frozenset(ADMIN_ROLES | {Role.LEADER, Role.CUSTODIAN})
DEVICE_NAME = "witness-totp"


def required_for_roles(roles) -> bool:
    return bool(frozenset(roles) & REQUIRED_ROLES)


def required(user) -> bool:
    return required_for_roles(org.current_roles_of_user(user))


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def pending_device(user) -> TOTPDevice:
    """The account's unconfirmed device, made with a new random key if there is none (the
    making is audited as ``auth.otp.key``; the key itself never is)."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
            audit.append(user, "auth.otp.key", user,
                         details={"username": user.get_username(),
                                  "device": device.persistent_id})
    return device


def secret(device: TOTPDevice) -> str:
    """The key in base32, as authenticator apps take it when typed in."""
    return base64.b32encode(device.bin_key).decode("ascii")


def otpauth_uri(device: TOTPDevice) -> str:
    return device.config_url  # otpauth://totp/ISSUER:USER?secret=…&issuer=…


def qr_svg(text: str) -> str:
    """``text`` as a QR code in inline SVG, drawn here (no external service ever sees the
    secret)."""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    image = qrcode.make(text, image_factory=SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    return svg.split("?>", 1)[1].strip() if svg.startswith("<?xml") else svg


def is_verified(user) -> bool:
    """Whether this request's session passed the second factor (OTPMiddleware)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


@dataclass(frozen=True)
class Check:
    ok: bool
    locked: bool = False  # the user name is locked now (the session must end)
    until: object = None  # when the lock ends


def _count_failure(user, step: str) -> Check:
    """A wrong code: counted in the shared lock and in the account's own run; audited."""
    username = lockout.key(user.get_username())
    failure = lockout.record_failure(username)
    if failure.refused:
        audit.append(user, "auth.otp", user, outcome=Outcome.DENIED,
                     details={"username": username, "step": step, "reason": "locked",
                              "until": lockout.local_time(failure.locked_until)})
        return Check(False, locked=True, until=failure.locked_until)
    at = lockout.now()
    run, _created = SecondFactorFailures.objects.select_for_update().get_or_create(
        user=user, defaults={"last_failure_at": at})
    if run.last_failure_at <= at - lockout.period():
        run.failures = 0  # the run went stale
    run.failures += 1
    run.last_failure_at = at
    run.save(update_fields=["failures", "last_failure_at"])
    until = failure.locked_until if failure.locked_now else None
    if until is None and run.failures >= lockout.failures_allowed():
        until = at + lockout.period()
        LoginLock.objects.filter(username=username).update(locked_until=until)
    audit.append(user, "auth.otp", user, outcome=Outcome.FAILURE,
                 details={"username": username, "step": step, "failures": run.failures})
    if until is not None:
        audit.append(user, "auth.lockout", None,
                     details={"username": username, "failures": run.failures,
                              "second_factor": True, "until": lockout.local_time(until)})
        SecondFactorFailures.objects.filter(user=user).delete()
        return Check(False, locked=True, until=until)
    return Check(False)


def _refuse_if_locked(user, step: str) -> Check | None:
    until = lockout.locked_until(user.get_username())
    if until is None:
        return None
    audit.append(user, "auth.otp", user, outcome=Outcome.DENIED,
                 details={"username": lockout.key(user.get_username()), "step": step,
                          "reason": "locked", "until": lockout.local_time(until)})
    return Check(False, locked=True, until=until)


def _succeeded(request, device, step: str) -> Check:
    user = request.user
    SecondFactorFailures.objects.filter(user=user).delete()
    lockout.clear(user.get_username())
    audit.append(user, "auth.otp.enrol" if step == "enrol" else "auth.otp", user,
                 details={"username": user.get_username(), "step": step,
                          "device": device.persistent_id})
    django_otp.login(request, device)
    return Check(True)


def verify(request, code: str) -> Check:
    """Check a code against the account's confirmed device; on success the session is
    verified (``django_otp.login``)."""
    user = request.user
    with transaction.atomic():
        refused = _refuse_if_locked(user, "verify")
        if refused is not None:
            return refused
        device = (TOTPDevice.objects.select_for_update()
                  .filter(user=user, confirmed=True).order_by("id").first())
        if device is not None and device.verify_token(code):
            return _succeeded(request, device, "verify")
        return _count_failure(user, "verify")


def confirm(request, code: str) -> Check:
    """Enrolment: the first correct code confirms the pending device and verifies the
    session."""
    user = request.user
    with transaction.atomic():
        refused = _refuse_if_locked(user, "enrol")
        if refused is not None:
            return refused
        device = (TOTPDevice.objects.select_for_update()
                  .filter(user=user, confirmed=False).order_by("id").first())
        if device is not None and device.verify_token(code):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            return _succeeded(request, device, "enrol")
        return _count_failure(user, "enrol")


def reset(user, *, actor) -> int:
    """Remove the account's second-factor devices (a lost phone): it enrols again at its
    next request. Returns how many devices were removed; audited as ``auth.otp.reset``."""
    with transaction.atomic():
        devices = list(TOTPDevice.objects.select_for_update().filter(user=user)
                       .values_list("pk", "confirmed"))
        TOTPDevice.objects.filter(pk__in=[pk for pk, _c in devices]).delete()
        SecondFactorFailures.objects.filter(user=user).delete()
        audit.append(actor, "auth.otp.reset", user,
                     details={"username": user.get_username(), "devices": len(devices),
                              "confirmed": sum(1 for _pk, c in devices if c)})
    return len(devices)


def status(user) -> dict:
    roles = org.current_roles_of_user(user)
    device = confirmed_device(user)
    return {"username": user.get_username(), "roles": sorted(roles),
            "required": required_for_roles(roles), "enrolled": device is not None,
            "pending": TOTPDevice.objects.filter(user=user, confirmed=False).exists(),
            "active": user.is_active,
            "enrolled_at": timezone.localtime(device.created_at).isoformat(timespec="seconds")
            if device is not None and getattr(device, "created_at", None) else None}


def issuer() -> str:
    return settings.OTP_TOTP_ISSUER
