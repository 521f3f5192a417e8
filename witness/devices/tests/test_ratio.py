"""DEV-2 (B5, A3): every unit with field-enforcement duty has at least the profile's
minimum of in-service devices that record image and sound at once."""

import pytest

from witness.devices import services
from witness.devices.models import DeviceKind, DeviceStatus
from witness.testing import factories as f


@pytest.mark.parametrize("profile", ["lushan-2019", "full-process-b"])
def test_ratio_below_at_and_above_the_minimum(make_agency, cli, camera, profile):
    org = make_agency(profile)
    above = f.UnitFactory(agency=org.agency, name="稽查局", code="inspection",
                          has_field_duty=True)
    # 执法一科: one that counts, and several that do not.
    camera(org.field)
    camera(org.field, status=DeviceStatus.LOST)
    camera(org.field, status=DeviceStatus.RETIRED)
    camera(org.field, status=DeviceStatus.UNDER_REPAIR)
    camera(org.field, kind=DeviceKind.RECORDER, records_video=False, takes_photos=False)
    camera(org.field, kind=DeviceKind.CAMERA, records_audio=False)
    # 执法二科 exactly at the minimum, 稽查局 above it; 办公室 has no field duty.
    camera(org.field2)
    camera(org.field2, kind=DeviceKind.HANDHELD)
    for _ in range(3):
        camera(above)
    rows = {r["unit"]: r for r in cli("ratio")}
    assert rows[org.field.name] == {"unit": org.field.name, "field_duty": True, "devices": 1,
                                    "minimum": 2, "short": 1}
    assert (rows[org.field2.name]["devices"], rows[org.field2.name]["short"]) == (2, 0)
    assert (rows[above.name]["devices"], rows[above.name]["short"]) == (3, 0)
    assert rows[org.office.name] == {"unit": org.office.name, "field_duty": False,
                                     "devices": 0, "minimum": 0, "short": 0}
    assert len(rows) == 4


def test_an_office_without_field_duty_needs_none_even_with_devices(make_agency, camera):
    org = make_agency("full-process-b")
    camera(org.office)
    [office] = [r for r in services.equipment_ratio(org.agency) if r.unit_id == org.office.pk]
    assert (office.devices, office.minimum, office.short) == (1, 0, 0)


def test_registered_kinds_count_by_what_they_record(make_agency, cli):
    """A voice recorder registered through the CLI records sound only and does not count;
    a body camera does; a camera declared --audio --video counts too."""
    org = make_agency("lushan-2019")
    for kind, serial, extra in (("recorder", "R-1", []), ("body_camera", "B-1", []),
                                ("camera", "C-1", ["--audio", "--video"]),
                                ("camera", "C-2", [])):
        cli("add", "--kind", kind, "--serial", serial, "--unit", org.field.code, *extra)
    [row] = [r for r in cli("ratio") if r["unit"] == org.field.name]
    assert (row["devices"], row["short"]) == (2, 0)
