"""DEV-3: a refused issue is never lost — its record must commit even though the caller
gets an error, so issuing inside a caller's own transaction is refused outright."""

import pytest
from django.db import transaction

from witness.core.errors import Refused, WitnessError
from witness.devices import services
from witness.devices.models import DeviceIssue, DeviceStatus, RefusedIssue
from witness.testing import factories as f


def test_refusal_inside_an_outer_transaction_is_a_programming_error(make_agency):
    org = make_agency("full-process-b")
    device = f.DeviceFactory(unit=org.field)
    outsider = org.people["custodian"]  # office unit: outside the 处室 scope under B
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        services.issue_device(device, outsider)
    assert not DeviceIssue.objects.filter(device=device).exists()


def test_refusal_outside_a_transaction_commits_the_record(make_agency):
    org = make_agency("full-process-b")
    device = f.DeviceFactory(unit=org.field)
    with pytest.raises(Refused):
        services.issue_device(device, org.people["custodian"])
    assert RefusedIssue.objects.filter(device=device).count() == 1


def test_status_in_a_message_follows_the_message_language(make_agency):
    org = make_agency()
    device = f.DeviceFactory(unit=org.field, status=DeviceStatus.LOST)
    with pytest.raises(WitnessError) as caught:
        services.issue_device(device, org.people["officer"])
    assert "lost" in caught.value.en and "丢失" not in caught.value.en
    assert "lost" not in caught.value.zh


def test_a_duplicate_serial_is_a_clear_error_even_when_the_check_is_raced(make_agency,
                                                                           monkeypatch):
    org = make_agency()
    f.DeviceFactory(unit=org.field, serial="DSJ-RACE")
    # Simulate the race: the existence check sees nothing, the database still refuses.
    monkeypatch.setattr(services.Device.objects, "filter",
                        lambda **kw: services.Device.objects.none())
    with pytest.raises(WitnessError) as caught:
        services.register_device(kind="body_camera", serial="DSJ-RACE", unit=org.field)
    assert caught.value.code == "duplicate_serial"
