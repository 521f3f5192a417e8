"""Import devices from the spreadsheets agencies already keep (CSV or XLSX) (DEV-1).

Reading, checking and saving rows is :mod:`witness.core.tabular`; this module knows what
a device row means: kind, serial number, model, manufacturer, unit, custodian and status.
Every device is registered through the ordinary services, so each gets its audit entry; a
status other than in service is recorded as the matching device event (DEV-5).
"""

from __future__ import annotations

from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from witness.core.cli_args import resolve_person, resolve_unit
from witness.core.errors import Text
from witness.core.tabular import (
    ACTOR,
    CellError,
    Checked,
    Column,
    Progress,
    Row,
    Vocabulary,
    cached,
    first_seen,
    in_database,
    no_progress,
    parse_cell,
    read_rows,
    save_all,
)
from witness.devices.models import Device, DeviceKind, DeviceStatus, EventKind
from witness.devices.services import record_event, register_device
from witness.org.models import Agency, Person
from witness.org.services import default_agency

_KIND_NAMES = {
    "执法记录仪": DeviceKind.BODY_CAMERA, "照相机": DeviceKind.CAMERA, "相机": DeviceKind.CAMERA,
    "录音机": DeviceKind.RECORDER, "录音笔": DeviceKind.RECORDER,
    "录音机/录音笔": DeviceKind.RECORDER, "摄像机": DeviceKind.VIDEO_CAMERA,
    "手持执法终端": DeviceKind.HANDHELD, "执法终端": DeviceKind.HANDHELD,
    "视频监控": DeviceKind.SURVEILLANCE, "存储设备": DeviceKind.STORAGE,
    "voice_recorder": DeviceKind.RECORDER,
}
_STATUS_NAMES = {
    "在用": DeviceStatus.IN_SERVICE, "正常": DeviceStatus.IN_SERVICE,
    "在役": DeviceStatus.IN_SERVICE, "维修中": DeviceStatus.UNDER_REPAIR,
    "维修": DeviceStatus.UNDER_REPAIR, "送修": DeviceStatus.UNDER_REPAIR,
    "丢失": DeviceStatus.LOST, "遗失": DeviceStatus.LOST, "报废": DeviceStatus.RETIRED,
    "停用": DeviceStatus.RETIRED,
}
_KINDS = Vocabulary(DeviceKind, _KIND_NAMES)
_STATUSES = Vocabulary(DeviceStatus, _STATUS_NAMES)


def parse_kind(text: str) -> DeviceKind:
    value = _KINDS.get(text or "")
    if value is None:
        raise CellError(_("Unknown device kind %(kind)s; use: %(kinds)s."), code="bad_kind",
                        kind=text, kinds=_KINDS.known())
    return DeviceKind(value)


def parse_status(text: str) -> DeviceStatus:
    if not (text or "").strip():
        return DeviceStatus.IN_SERVICE
    value = _STATUSES.get(text)
    if value is None:
        raise CellError(_("Unknown device status %(status)s; use: %(statuses)s."),
                        code="bad_status", status=text, statuses=_STATUSES.known())
    return DeviceStatus(value)


DEVICE_COLUMNS = (
    # Aliases include the headers `witness device list` and the device pages print, so an
    # exported list can be edited and imported back.
    Column("kind", "类型", ("kind", "type", "设备类型", "类别")),
    Column("serial", "序列号", ("serial", "serial number", "设备序列号", "编号", "设备编号"),
           max_length=100),
    Column("model", "型号", ("model", "设备型号"), required=False, max_length=100),
    Column("manufacturer", "厂商", ("manufacturer", "生产厂商", "厂家", "品牌"), required=False,
           max_length=100),
    Column("unit", "所属单位", ("unit", "单位", "处室", "部门", "所属部门"), max_length=200),
    Column("custodian", "保管人", ("custodian", "保管员"), required=False),
    Column("status", "状态", ("status", "设备状态"), required=False),
)


def _active(person: Person) -> Person:
    if not person.active:
        raise CellError(_("%(name)s is no longer active and cannot keep devices."),
                        code="inactive_person", name=person.name)
    return person


def check_devices(path: Path, *, agency: Agency | None = None,
                  progress: Progress = no_progress) -> Checked:
    """First pass over a device file (DEV-1); raises
    :class:`~witness.core.tabular.ImportFailed` listing every bad row."""
    agency = agency or default_agency()
    find_unit = cached(resolve_unit, agency)
    find_person = cached(resolve_person, agency)

    def find_custodian(text: str) -> Person:
        return _active(find_person(text))

    serials: dict[str, int] = {}

    def parse_row(checked: Checked, number: int, raw: dict) -> None:
        before = len(checked.errors)
        values = {
            "kind": parse_cell(checked, number, "kind", raw["kind"], parse_kind) if raw["kind"]
            else None,
            "serial": raw["serial"], "model": raw.get("model", ""),
            "manufacturer": raw.get("manufacturer", ""),
            "unit": parse_cell(checked, number, "unit", raw["unit"], find_unit) if raw["unit"]
            else None,
            "custodian": (parse_cell(checked, number, "custodian", raw["custodian"],
                                     find_custodian) if raw.get("custodian") else None),
            "status": parse_cell(checked, number, "status", raw.get("status", ""),
                                 parse_status),
        }
        if values["serial"]:
            first_seen(checked, serials, number, "serial", values["serial"],
                       _("Serial number %(value)s appears twice in the file (first in row "
                         "%(first)s)."), "duplicate_serial")
        if len(checked.errors) == before:
            checked.rows.append(Row(number, values, raw))

    checked = read_rows(path, DEVICE_COLUMNS, parse_row, progress)
    in_database(checked, "serial", serials, Device.objects.all(), "serial",
                _("A device with serial number %(value)s is already registered."),
                "duplicate_serial")
    checked.raise_if_bad()
    return checked


# The column a service's error code is reported against when a row fails while saving.
_COLUMN_OF_CODE = {
    "duplicate_serial": "serial", "serial_required": "serial", "bad_kind": "kind",
    "custodian_agency": "custodian", "unit_agency": "unit",
}
_EVENT_FOR_STATUS = {
    DeviceStatus.UNDER_REPAIR: EventKind.REPAIR,
    DeviceStatus.LOST: EventKind.LOSS,
    DeviceStatus.RETIRED: EventKind.RETIREMENT,
}


def save_devices(checked: Checked, *, actor=ACTOR, progress: Progress = no_progress) -> None:
    """Register every checked device; a status other than in service is recorded as the
    matching device event (DEV-5), which sets the status."""

    def save(row: Row) -> None:
        v = row.values
        device = register_device(kind=v["kind"], serial=v["serial"], unit=v["unit"],
                                 model=v["model"], manufacturer=v["manufacturer"],
                                 custodian=v["custodian"], actor=actor)
        event = _EVENT_FOR_STATUS.get(v["status"])
        if event is not None:
            with translation.override("zh-hans"):
                description = str(Text(_("Status %(status)s recorded at import from %(file)s."),
                                       status=DeviceStatus(v["status"]).label,
                                       file=checked.file.name))
            record_event(device, event, description, actor=actor)

    save_all(checked, save, "import.devices", actor, progress, _COLUMN_OF_CODE)
