"""Import people from the spreadsheets agencies already keep (CSV or XLSX) (DEV-1).

Reading, checking and saving rows is :mod:`witness.core.tabular`; this module knows what
a people row means: names, badge numbers, units, roles (三员分立), phone, user name and
whether the person is still in post. Every person, role and login is saved through the
ordinary services, so each gets its audit entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.cli_args import resolve_unit
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
    parse_bool,
    parse_cell,
    read_rows,
    save_all,
)
from witness.org.models import ADMIN_ROLES, Agency, Person, Role
from witness.org.services import create_person, default_agency

_ROLE_NAMES = {
    "执法人员": Role.OFFICER, "保管人": Role.CUSTODIAN, "保管员": Role.CUSTODIAN,
    "设备管理员": Role.CUSTODIAN, "部门负责人": Role.UNIT_HEAD, "局领导": Role.LEADER,
    "法规股": Role.LEGAL, "系统管理员": Role.SYSADMIN, "安全管理员": Role.SECADMIN,
    "审计管理员": Role.AUDITADMIN,
}
_ROLES = Vocabulary(Role, _ROLE_NAMES)
_ROLE_SEPARATORS = re.compile(r"[、，,;；/／\s]+")


def parse_roles(text: str) -> frozenset[Role]:
    """``执法人员、保管人`` (separated by 、，,; / or spaces) → roles; codes are accepted too."""
    roles = set()
    for token in _ROLE_SEPARATORS.split(text or ""):
        if not token:
            continue
        value = _ROLES.get(token)
        if value is None:
            raise CellError(_("Unknown role %(role)s; use: %(roles)s."), code="unknown_role",
                            role=token, roles=_ROLES.known())
        roles.add(Role(value))
    return frozenset(roles)


def check_admin_separation(roles: Iterable[Role]) -> None:
    """三员分立 (GB/T 22239-2019): one person holds at most one administrator role."""
    admin = sorted(set(roles) & ADMIN_ROLES)
    if len(admin) > 1:
        raise CellError(
            _("One person cannot hold the roles %(roles)s together: the system, security and "
              "audit administrators must be three different accounts."),
            code="admin_separation",
            roles=format_lazy(" + ".join("{}" for _r in admin), *(Role(r).label for r in admin)))


PEOPLE_COLUMNS = (
    Column("name", "姓名", ("name", "full name"), max_length=100),
    Column("badge_number", "执法证号", ("badge_number", "badge", "执法证件号", "证号"),
           required=False, max_length=50),
    Column("unit", "单位", ("unit", "所在单位", "部门", "处室"), max_length=200),
    Column("roles", "角色", ("roles", "role")),
    Column("phone", "电话", ("phone", "联系电话", "手机"), required=False, max_length=30),
    Column("username", "用户名", ("username", "账号", "登录名"), required=False,
           max_length=150),
    Column("active", "在职", ("active", "是否在职"), required=False),
)


def check_people(path: Path, *, agency: Agency | None = None,
                 progress: Progress = no_progress) -> Checked:
    """First pass over a people file; raises :class:`~witness.core.tabular.ImportFailed`
    listing every bad row."""
    agency = agency or default_agency()
    find_unit = cached(resolve_unit, agency)
    badges: dict[str, int] = {}
    usernames: dict[str, int] = {}
    validate_username = UnicodeUsernameValidator()

    def username(text: str) -> str:
        try:
            validate_username(text)
        except ValidationError:
            raise CellError(_("%(value)s is not a valid user name (letters, digits and "
                              "@ . + - _ only)."), code="bad_username", value=text) from None
        return text

    def parse_row(checked: Checked, number: int, raw: dict) -> None:
        before = len(checked.errors)
        roles = parse_cell(checked, number, "roles", raw["roles"], parse_roles)
        if roles:
            parse_cell(checked, number, "roles", raw["roles"],
                       lambda _text: check_admin_separation(roles))
        values = {
            "name": raw["name"], "phone": raw.get("phone", ""), "roles": roles,
            "badge_number": raw.get("badge_number", "") or None,
            "unit": parse_cell(checked, number, "unit", raw["unit"], find_unit) if raw["unit"]
            else None,
            "active": parse_cell(checked, number, "active", raw.get("active", ""), parse_bool),
            "username": (parse_cell(checked, number, "username", raw["username"], username)
                         if raw.get("username") else None),
        }
        if values["badge_number"]:
            first_seen(checked, badges, number, "badge_number", values["badge_number"],
                       _("Badge number %(value)s appears twice in the file (first in row "
                         "%(first)s)."), "duplicate_badge")
        if values["username"]:
            first_seen(checked, usernames, number, "username", values["username"],
                       _("User name %(value)s appears twice in the file (first in row "
                         "%(first)s)."), "duplicate_username")
        if len(checked.errors) == before:
            checked.rows.append(Row(number, values, raw))

    checked = read_rows(path, PEOPLE_COLUMNS, parse_row, progress)
    in_database(checked, "badge_number", badges, Person.objects.all(), "badge_number",
                _("Badge number %(value)s is already registered."), "duplicate_badge")
    in_database(checked, "username", usernames, get_user_model().objects.all(), "username",
                _("User name %(value)s is already taken."), "duplicate_username")
    checked.raise_if_bad()
    return checked


# The column a service's error code is reported against when a row fails while saving.
_COLUMN_OF_CODE = {
    "duplicate_badge": "badge_number", "unknown_role": "roles", "admin_separation": "roles",
    "name_required": "name", "unit_agency": "unit",
}


def save_people(checked: Checked, *, agency: Agency | None = None, actor=ACTOR,
                progress: Progress = no_progress) -> list[str]:
    """Create every checked person (with unit history, roles and, where a user name is
    given, a login without a usable password). Returns the user names created."""
    agency = agency or default_agency()
    accounts: list[str] = []
    User = get_user_model()

    def save(row: Row) -> None:
        v = row.values
        user = None
        if v["username"]:
            user = User.objects.create_user(username=v["username"], password=None)
            audit.append(actor, "user.create", user,
                         details={"username": user.username, "usable_password": False})
            accounts.append(user.username)
        create_person(agency, v["name"], v["unit"], badge_number=v["badge_number"],
                      phone=v["phone"], roles=tuple(sorted(v["roles"])), user=user,
                      active=v["active"], actor=actor)

    save_all(checked, save, "import.people", actor, progress, _COLUMN_OF_CODE)
    return accounts
