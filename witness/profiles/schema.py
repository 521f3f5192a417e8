"""The profile schema: what a profile file may say, checked field by field.

A broken file gives an error naming the file and the field (``upload.exception_hours``).
Unknown fields are errors too, so a typo cannot silently fall back to a default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from witness.core.errors import Text, WitnessError

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
UPLOAD_RULES = ("hours_after_departure", "same_day")
EXCEPTION_FLAGS = ("off_site", "remote", "continuous")
ISSUE_SCOPES = ("agency", "unit")
VIEWING_STEPS = ("unit_head_review", "leader_approval", "principal_leader_approval",
                 "custodian_registration")
# EVD-2/ING-3: what may be played or downloaded without a grant (default: nothing).
WITHOUT_GRANT = ("holder_play", "holder_download")
# EVD-4: who approves, in every chain, an item labelled above 一般.
LABEL_APPROVERS = ("principal_leader", "leader_in_charge")
WORK_RECORD_REVIEW = ("principal_leader", "unit_head", "none")
DIGESTS = ("sha256", "sm3")
# RET-1 (A15, B21): who approves a retention purge batch the custodian proposed.
PURGE_APPROVERS = ("principal_leader", "leader")


class ProfileError(WitnessError):
    code = "profile_invalid"


def _bad(source: str, field: str, problem) -> ProfileError:
    return ProfileError(_("Profile %(source)s: field %(field)s %(problem)s"),
                        source=source, field=field, problem=problem)


@dataclass(frozen=True)
class ActivityType:
    code: str
    name: str
    must_record: bool


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    regulation: str
    activity_types: tuple[ActivityType, ...]
    retention_months: int
    retention_case_bound: bool
    upload_normal: str
    upload_normal_hours: int
    upload_exception_hours: int
    upload_exception_flags: tuple[str, ...]
    min_devices_per_field_unit: int
    issue_scope: str
    clock_drift_tolerance_seconds: int
    viewing_chain: tuple[str, ...]
    viewing_without_grant: tuple[str, ...]
    viewing_label_approver: str
    work_record_review: str
    notification_phrase: str
    min_officers: int
    digests: tuple[str, ...]
    sources: dict[str, str]
    # issue 6 (compliance rules); optional in files, see OPTIONAL
    coverage_tolerance_seconds: int = 60
    gap_tolerance_seconds: int = 30
    designated_recorder: bool = False
    evidence_photos: bool = True
    # issue 7 (retention purge); optional in files, see OPTIONAL
    purge_approver: str = "principal_leader"

    def activity_type(self, code: str) -> ActivityType | None:
        return next((t for t in self.activity_types if t.code == code), None)

    @property
    def must_record_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.activity_types if t.must_record)


# field path -> (kind, extra) ; the checks below interpret them
FIELDS: dict[str, tuple[str, Any]] = {
    "retention.months": ("int", 1),
    "retention.case_bound": ("bool", None),
    "retention.purge_approver": ("choice", PURGE_APPROVERS),
    "upload.normal": ("choice", UPLOAD_RULES),
    "upload.normal_hours": ("int", 0),
    "upload.exception_hours": ("int", 1),
    "upload.exception_flags": ("subset", EXCEPTION_FLAGS),
    "devices.min_devices_per_field_unit": ("int", 0),
    "devices.issue_scope": ("choice", ISSUE_SCOPES),
    "devices.clock_drift_tolerance_seconds": ("int", 0),
    "viewing.chain": ("subset", VIEWING_STEPS),
    "viewing.without_grant": ("subset", WITHOUT_GRANT),
    "viewing.label_approver": ("choice", LABEL_APPROVERS),
    "recording.work_record_review": ("choice", WORK_RECORD_REVIEW),
    "recording.notification_phrase": ("text", None),
    "recording.min_officers": ("int", 1),
    "integrity.digests": ("subset", DIGESTS),
    # issue 6: thresholds of the compliance rules
    "compliance.coverage_tolerance_seconds": ("int", 0),
    "compliance.gap_tolerance_seconds": ("int", 0),
    "compliance.designated_recorder": ("bool", None),
    "compliance.evidence_photos": ("bool", None),
}
# Fields added after profiles were first stored: a stored version (an immutable snapshot)
# or an agency's older file without them gets this default, cited as Witness's own choice.
# Every other field must be present; an unknown one is an error.
OPTIONAL: dict[str, Any] = {
    "compliance.coverage_tolerance_seconds": 60,
    "compliance.gap_tolerance_seconds": 30,
    "compliance.designated_recorder": False,
    "compliance.evidence_photos": True,
    # issue 7: A15 / B21 name no approver of a purge; Witness's default
    "retention.purge_approver": "principal_leader",
}
DEFAULT_SOURCE = "Witness default (field added after this profile was written)"
TOP_LEVEL = {"name", "title", "regulation", "activity_types", "sources"}
SECTIONS = {path.split(".")[0] for path in FIELDS}


def _check_value(source: str, path: str, value: Any, kind: str, extra: Any) -> Any:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(source, path, _("must be a whole number"))
        if value < extra:
            raise _bad(source, path, Text(_("must be at least %(n)s"), n=extra))
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _bad(source, path, _("must be true or false"))
        return value
    if kind == "choice":
        if value not in extra:
            raise _bad(source, path,
                       Text(_("must be one of: %(choices)s"), choices=", ".join(extra)))
        return value
    if kind == "text":
        if not isinstance(value, str) or not value.strip():
            raise _bad(source, path, _("must be a non-empty text"))
        return value.strip()
    if kind == "subset":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(source, path, _("must be a list of texts"))
        unknown = [v for v in value if v not in extra]
        if unknown:
            raise _bad(source, path,
                       Text(_("has unknown values %(unknown)s; allowed: %(choices)s"),
                            unknown=", ".join(unknown), choices=", ".join(extra)))
        if len(set(value)) != len(value):
            raise _bad(source, path, _("lists a value twice"))
        return tuple(value)
    raise AssertionError(kind)


def _activity_types(source: str, value: Any) -> tuple[ActivityType, ...]:
    if not isinstance(value, list) or not value:
        raise _bad(source, "activity_types", _("must list at least one activity type"))
    seen: set[str] = set()
    out = []
    for index, item in enumerate(value, start=1):
        where = f"activity_types[{index}]"
        if not isinstance(item, dict):
            raise _bad(source, where, _("must be a table with code, name and must_record"))
        extra_keys = set(item) - {"code", "name", "must_record"}
        if extra_keys:
            raise _bad(source, f"{where}.{sorted(extra_keys)[0]}", _("is not a known field"))
        code = item.get("code")
        if not isinstance(code, str) or not SLUG.match(code):
            raise _bad(source, f"{where}.code",
                       _("must be lower-case letters, digits, '_' or '-'"))
        if code in seen:
            raise _bad(source, f"{where}.code", Text(_("repeats the code %(code)s"), code=code))
        seen.add(code)
        name = _check_value(source, f"{where}.name", item.get("name"), "text", None)
        must = _check_value(source, f"{where}.must_record", item.get("must_record"), "bool", None)
        out.append(ActivityType(code=code, name=name, must_record=must))
    return tuple(out)


def parse(data: dict, source: str) -> Profile:
    """Validate a profile's parsed TOML and return it, or raise ProfileError."""
    for key in data:
        if key not in TOP_LEVEL and key not in SECTIONS:
            raise _bad(source, key, _("is not a known field"))
    for section in SECTIONS:
        if section in data and not isinstance(data[section], dict):
            raise _bad(source, section, _("must be a table"))
    for section, table in data.items():
        if section in SECTIONS:
            for key in table:
                if f"{section}.{key}" not in FIELDS:
                    raise _bad(source, f"{section}.{key}", _("is not a known field"))
    name = data.get("name")
    if not isinstance(name, str) or not SLUG.match(name):
        raise _bad(source, "name", _("must be lower-case letters, digits, '_' or '-'"))
    title = _check_value(source, "title", data.get("title"), "text", None)
    regulation = data.get("regulation", "")
    if not isinstance(regulation, str):
        raise _bad(source, "regulation", _("must be a text"))

    values: dict[str, Any] = {}
    for path, (kind, extra) in FIELDS.items():
        section, key = path.split(".")
        table = data.get(section, {})
        if key not in table:
            if path in OPTIONAL:
                values[path] = OPTIONAL[path]
                continue
            raise _bad(source, path, _("is missing"))
        values[path] = _check_value(source, path, table[key], kind, extra)

    if values["upload.normal"] == "hours_after_departure" and values["upload.normal_hours"] < 1:
        raise _bad(source, "upload.normal_hours",
                   _("must be at least 1 when upload.normal is hours_after_departure"))
    if "sha256" not in values["integrity.digests"]:
        raise _bad(source, "integrity.digests", _("must include sha256"))

    sources = data.get("sources")
    if not isinstance(sources, dict):
        raise _bad(source, "sources", _("must be a table citing an article for every field"))
    for path in ("activity_types", *FIELDS):
        if path in OPTIONAL and path not in sources and path.split(".")[1] not in data.get(
                path.split(".")[0], {}):
            sources = {**sources, path: DEFAULT_SOURCE}
        cited = sources.get(path)
        if not isinstance(cited, str) or not cited.strip():
            raise _bad(source, f"sources.{path}", _("must cite the article the field comes from"))
    unknown_sources = set(sources) - {"activity_types", *FIELDS}
    if unknown_sources:
        raise _bad(source, f"sources.{sorted(unknown_sources)[0]}", _("is not a known field"))

    return Profile(
        name=name, title=title, regulation=regulation,
        activity_types=_activity_types(source, data.get("activity_types")),
        retention_months=values["retention.months"],
        retention_case_bound=values["retention.case_bound"],
        upload_normal=values["upload.normal"],
        upload_normal_hours=values["upload.normal_hours"],
        upload_exception_hours=values["upload.exception_hours"],
        upload_exception_flags=values["upload.exception_flags"],
        min_devices_per_field_unit=values["devices.min_devices_per_field_unit"],
        issue_scope=values["devices.issue_scope"],
        clock_drift_tolerance_seconds=values["devices.clock_drift_tolerance_seconds"],
        viewing_chain=values["viewing.chain"],
        viewing_without_grant=values["viewing.without_grant"],
        viewing_label_approver=values["viewing.label_approver"],
        work_record_review=values["recording.work_record_review"],
        notification_phrase=values["recording.notification_phrase"],
        min_officers=values["recording.min_officers"],
        digests=values["integrity.digests"],
        sources=dict(sources),
        coverage_tolerance_seconds=values["compliance.coverage_tolerance_seconds"],
        gap_tolerance_seconds=values["compliance.gap_tolerance_seconds"],
        designated_recorder=values["compliance.designated_recorder"],
        evidence_photos=values["compliance.evidence_photos"],
        purge_approver=values["retention.purge_approver"],
    )
