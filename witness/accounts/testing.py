"""Test helpers: log a client in past the second factor the way a person does, with a real
confirmed TOTP device (issue 5 item 6).

``verified_login(client, user)`` is ``client.force_login(user)`` plus what the verification
page does on a correct code (``django_otp.login``: the device's persistent id in the
session, which django_otp's OTPMiddleware checks against the user and the device's
confirmation on every request). A device is made only where the account already has one
or its role requires one; other accounts are logged in as they are."""

from __future__ import annotations

import time

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from witness.accounts import otp, sessions


def confirmed_device(user) -> TOTPDevice:
    device = otp.confirmed_device(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=otp.DEVICE_NAME, confirmed=True)
    return device


def current_code(device: TOTPDevice, *, steps: int = 0) -> str:
    """The code the device's app shows now, or ``steps`` steps later (earlier if negative),
    computed with django_otp's RFC 6238 implementation from the device's key."""
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps)
    return f"{code:0{device.digits}d}"


def verified_login(client, user):
    client.force_login(user)
    device = otp.confirmed_device(user)
    if device is None and otp.required(user):
        device = confirmed_device(user)
    session = client.session
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    # as the log-in pages leave it: a session saved on its last change is marked touched
    # (witness.accounts.sessions), so the next request within the minute writes nothing
    session[sessions.TOUCHED] = int(time.time())
    session.save()
    return client
