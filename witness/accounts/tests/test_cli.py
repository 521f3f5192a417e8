"""``witness otp status`` and ``witness otp reset`` (issue 5 item 6)."""

import io
import json

import pytest
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from witness.accounts.testing import confirmed_device
from witness.audit.models import AuditEntry


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_issue5_otp_status_lists_who_must_and_who_has(ns):
    confirmed_device(ns.people["leader"].user)
    rows = {row["username"]: row for row in json.loads(run("otp", "status", "--json"))}
    leader = rows[ns.people["leader"].user.username]
    assert leader["required"] and leader["enrolled"] and leader["roles"] == ["leader"]
    officer = rows[ns.people["officer"].user.username]
    assert not officer["required"] and not officer["enrolled"]
    missing = {row["username"] for row in json.loads(run("otp", "status", "--missing",
                                                         "--json"))}
    assert ns.people["custodian"].user.username in missing
    assert ns.people["leader"].user.username not in missing
    assert ns.people["officer"].user.username not in missing
    text = run("otp", "status", ns.people["leader"].user.username)
    assert ns.people["leader"].user.username in text


@pytest.mark.django_db
def test_issue5_otp_reset_removes_the_device_and_is_audited(ns):
    user = ns.people["custodian"].user
    confirmed_device(user)
    data = json.loads(run("otp", "reset", user.username, "--json"))
    assert data == {"username": user.username, "removed_devices": 1, "required": True}
    assert not TOTPDevice.objects.filter(user=user).exists()
    entry = AuditEntry.objects.get(action="auth.otp.reset")
    assert entry.actor_label.startswith("cli")


@pytest.mark.django_db
def test_issue5_otp_reset_of_an_unknown_account_is_refused_in_both_languages(ns, capsys):
    from django.core.management import CommandError

    with pytest.raises(CommandError) as info:
        run("otp", "reset", "nobody-here")
    message = str(info.value)
    assert "nobody-here" in message and "No account" in message
    assert not AuditEntry.objects.filter(action="auth.otp.reset").exists()
