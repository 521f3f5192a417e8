"""Importing devices from CSV/XLSX (DEV-1): custodians looked up by badge number or name,
a status other than in service recorded as a device event (DEV-5), and a bad row rejects
the whole file, named as Excel numbers it (header = row 1)."""


import pytest
from django.contrib.auth import get_user_model

from witness.audit.models import AuditEntry
from witness.core.tabular import ImportFailed
from witness.devices import importing
from witness.devices.models import Device, DeviceEvent
from witness.org.models import Person, PersonUnitHistory
from witness.org.services import create_person
from witness.testing.tables import write_csv, write_xlsx

DEVICE_HEADER = ["类型", "序列号", "型号", "厂商", "所属单位", "保管人", "状态"]




@pytest.fixture
def org(make_agency):
    return make_agency("lushan-2019")


def rejected(call) -> list[tuple]:
    with pytest.raises(ImportFailed) as info:
        call()
    return [(e.row, e.column, e.value, e.error.code) for e in info.value.errors]


def counts():
    return (Person.objects.count(), PersonUnitHistory.objects.count(),
            get_user_model().objects.count(), Device.objects.count(), AuditEntry.objects.count())


def test_devices_import_with_custodian_lookup_and_status(org, tmp_path):
    keeper = org.people["custodian"]
    rows = [
        DEVICE_HEADER,
        ["执法记录仪", "ZF-0001", "DSJ-A9", "海康", "执法一科", keeper.badge_number, ""],
        ["录音笔", "LY-0001", "R1", "", org.office.code, keeper.name, "在用"],
        ["Handheld", "SC-0001", "T5", "", "执法二科", "", "丢失"],
        ["storage device", "CC-0001", "NAS", "", "办公室", "", "retired"],
    ]
    path = write_xlsx(tmp_path / "d.xlsx", rows)
    importing.save_devices(importing.check_devices(path), actor="system:test")
    camera = Device.objects.get(serial="ZF-0001")
    assert (camera.kind, camera.unit, camera.custodian, camera.manufacturer) == \
        ("body_camera", org.field, keeper, "海康")
    assert camera.records_video and camera.records_audio
    recorder = Device.objects.get(serial="LY-0001")
    assert (recorder.kind, recorder.custodian, recorder.status) == \
        ("recorder", keeper, "in_service")
    lost = Device.objects.get(serial="SC-0001")
    assert (lost.kind, lost.status, lost.custodian) == ("handheld", "lost", None)
    assert list(DeviceEvent.objects.filter(device=lost).values_list("kind", flat=True)) == \
        ["loss"]
    assert Device.objects.get(serial="CC-0001").status == "retired"
    assert AuditEntry.objects.filter(action="device.register").count() == 4
    assert AuditEntry.objects.filter(action="device.event").count() == 2
    assert AuditEntry.objects.filter(action="import.devices").count() == 1


def test_bad_device_rows_import_nothing(org, tmp_path):
    keeper = org.people["custodian"]
    create_person(org.agency, "同名", org.field)
    create_person(org.agency, "同名", org.field2)
    create_person(org.agency, "离职者", org.field, active=False)
    from witness.testing.factories import DeviceFactory
    DeviceFactory(serial="OLD-1", unit=org.field)
    rows = [
        DEVICE_HEADER,
        ["执法记录仪", "ZF-0001", "DSJ-A9", "", "执法一科", keeper.badge_number, ""],  # 2 good
        ["无人机", "ZF-0002", "X", "", "执法一科", "", ""],                            # 3
        ["执法记录仪", "ZF-0001", "DSJ-A9", "", "执法一科", "", ""],                   # 4
        ["执法记录仪", "OLD-1", "DSJ-A9", "", "执法一科", "", ""],                     # 5
        ["执法记录仪", "ZF-0003", "DSJ-A9", "", "执法一科", "同名", ""],               # 6
        ["执法记录仪", "ZF-0004", "DSJ-A9", "", "执法一科", "无此人", ""],             # 7
        ["执法记录仪", "ZF-0005", "DSJ-A9", "", "执法一科", "离职者", ""],             # 8
        ["执法记录仪", "ZF-0006", "", "", "执法一科", "", "坏了"],   # 9 (no model: allowed)
    ]
    path = write_csv(tmp_path / "d.csv", rows, "gb18030")
    before = counts()
    assert rejected(lambda: importing.check_devices(path)) == [
        (3, "类型", "无人机", "bad_kind"),
        (4, "序列号", "ZF-0001", "duplicate_serial"),
        (5, "序列号", "OLD-1", "duplicate_serial"),
        (6, "保管人", "同名", "ambiguous_person"),
        (7, "保管人", "无此人", "unknown_person"),
        (8, "保管人", "离职者", "inactive_person"),
        (9, "状态", "坏了", "bad_status"),
    ]
    assert counts() == before


def test_headers_as_the_device_pages_print_them_and_no_model_column(org, tmp_path):
    """DEV-1: a list exported from Witness (类别, 设备编号, 所属部门) imports back; the
    model is optional, as it is when registering a device."""
    path = write_csv(tmp_path / "devices.csv", [
        ["类别", "设备编号", "所属部门"],
        ["执法记录仪", "ZF-9001", "执法一科"],
    ])
    importing.save_devices(importing.check_devices(path, agency=org.agency))
    device = Device.objects.get(serial="ZF-9001")
    assert (device.unit, device.model) == (org.field, "")
