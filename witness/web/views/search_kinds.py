"""The global search's queries (issue 8 item 1): one bounded query per kind of object,
each inside the subject's scope (witness.access.authz), ordered by a key that an index
serves, paged by keyset (``after``), never counted.

Every kind narrows with what it has: the text ``q``, a local date range, a unit, an
activity type, a confidentiality label and whether a finding is open about it. A filter a
kind does not have leaves that kind out of an "all kinds" search.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import authz
from witness.access.labels import Label
from witness.activities.models import Activity, ActivityOfficer, Case
from witness.core.errors import WitnessError
from witness.devices.models import Device
from witness.findings.models import Finding, FindingStatus
from witness.org.models import Person, Role
from witness.recordings.models import Recording

KINDS = ("activity", "case", "recording", "device", "person")
UNDECIDED = (FindingStatus.OPEN, FindingStatus.EXPLAINED, FindingStatus.REJECTED)
TYPE_RE = re.compile(r"^[\w.\-]{1,50}$")
MAX_Q = 100


class BadSearch(WitnessError):
    code = "bad_search"


@dataclass
class Params:
    q: str = ""
    kind: str = ""
    date_from: date | None = None
    date_to: date | None = None
    unit: int | None = None
    type: str = ""
    label: str = ""
    finding: str = ""
    after: tuple | None = None  # (kind, value, id)

    @property
    def start(self) -> datetime | None:
        if self.date_from is None:
            return None
        return timezone.make_aware(datetime.combine(self.date_from, time.min))

    @property
    def end(self) -> datetime | None:  # exclusive: the day after date_to, local midnight
        if self.date_to is None:
            return None
        return timezone.make_aware(datetime.combine(self.date_to + timedelta(days=1), time.min))

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.date_from or self.date_to or self.unit or self.type
                    or self.label or self.finding)


def _day(name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_day(name, text)
    except ValueError:
        return _bad_day(name, text)


def _bad_day(name, text):
    raise BadSearch(_("%(name)s must be a date written as 2026-11-30, not %(text)s."),
                    name=name, text=text[:40])


def encode_cursor(kind: str, value, pk: int) -> str:
    raw = json.dumps([kind, value.isoformat() if isinstance(value, datetime) else value, pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        kind, value, pk = json.loads(raw)
        if kind not in KINDS or not isinstance(pk, int):
            raise ValueError
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
            if timezone.is_naive(value):
                raise ValueError
        elif value is not None and not isinstance(value, int):
            raise ValueError
        return kind, value, pk
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadSearch(_("The page cursor (after) is not one this search gave out.")) \
            from None


def parse(get) -> Params:
    """The GET parameters, checked; raises BadSearch (a 400) on any bad one."""
    p = Params()
    p.q = get.get("q", "").strip()
    if len(p.q) > MAX_Q:
        raise BadSearch(_("The search text is longer than %(n)s characters."), n=MAX_Q)
    p.kind = get.get("kind", "").strip()
    if p.kind and p.kind not in KINDS:
        raise BadSearch(_("kind must be one of %(kinds)s."), kinds=", ".join(KINDS))
    p.date_from = _day("date_from", get.get("date_from", "").strip())
    p.date_to = _day("date_to", get.get("date_to", "").strip())
    if p.date_from and p.date_to and p.date_to < p.date_from:
        raise BadSearch(_("date_to is before date_from."))
    unit = get.get("unit", "").strip()
    if unit:
        if not (unit.isascii() and unit.isdigit()) or len(unit) > 12:
            raise BadSearch(_("unit must be the number of a unit."))
        p.unit = int(unit)
    p.type = get.get("type", "").strip()
    if p.type and not TYPE_RE.match(p.type):
        raise BadSearch(_("type must be the code of an activity type."))
    p.label = get.get("label", "").strip()
    if p.label and p.label not in Label.values:
        raise BadSearch(_("label must be one of %(labels)s."), labels=", ".join(Label.values))
    p.finding = get.get("finding", "").strip()
    if p.finding not in ("", "open", "none"):
        raise BadSearch(_("finding must be open or none."))
    after = get.get("after", "").strip()
    if after:
        p.after = decode_cursor(after)
        if p.kind and p.after[0] != p.kind:
            raise BadSearch(_("The page cursor (after) is not one this search gave out."))
        p.kind = p.after[0]
    return p


# --- one query per kind ---------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    name: str
    model: type
    order: str | None  # a non-null field ordered descending, then id; None: id alone
    date: str | None  # the field the date range applies to
    unit: str | None
    type: str | None
    label: bool


SPECS = {
    "activity": Kind("activity", Activity, "arrived_at", "arrived_at", "unit_id",
                     "activity_type", True),
    "case": Kind("case", Case, "opened_at", "opened_at", None, None, True),
    "recording": Kind("recording", Recording, None, "started_at", "activity__unit_id",
                      "activity__activity_type", True),
    "device": Kind("device", Device, None, "registered_at", "unit_id", None, False),
    "person": Kind("person", Person, None, None, "unit_id", None, False),
}


def applies(spec: Kind, p: Params) -> bool:
    """Whether every filter given is one this kind has."""
    missing = [bool(p.date_from or p.date_to) and spec.date is None,
               bool(p.unit) and spec.unit is None, bool(p.type) and spec.type is None,
               bool(p.label) and not spec.label]
    return not any(missing)


def may_search(subject, name: str) -> bool:
    if name == "activity":
        return subject.may("activity.view")
    if name == "case":
        return subject.may("case.view")
    if name == "recording":
        return subject.may("recording.view")
    if name == "device":
        return subject.may("device.list") or subject.may("device.mine")
    return subject.may("activity.view") or subject.may("recording.view")


def _scoped(subject, name: str) -> QuerySet:
    if name == "activity":
        return authz.visible_activities(subject).select_related("unit", "case")
    if name == "case":
        return authz.visible_cases(subject)
    if name == "recording":
        return authz.visible_recordings(subject).select_related(
            "device", "holder", "activity")
    if name == "device":
        qs = Device.objects.filter(unit__agency=subject.agency).select_related("unit")
        if subject.may("device.list"):
            return qs
        if subject.person is None:
            return qs.none()
        return qs.filter(issues__holder=subject.person, issues__returned_at__isnull=True)
    qs = Person.objects.filter(agency=subject.agency).select_related("unit")
    if subject.agency_wide or subject.roles & {Role.CUSTODIAN, Role.UNIT_HEAD}:
        return qs
    return qs.filter(unit_id=subject.person.unit_id) if subject.person else qs.none()


def _text(name: str, q: str) -> Q:
    digits = q.isascii() and q.isdigit() and len(q) < 12
    if name == "activity":
        found = (Q(place__icontains=q) | Q(party__icontains=q)
                 | Q(case_id__in=Case.objects.filter(number=q).values("pk"))
                 | Q(pk__in=ActivityOfficer.objects.filter(person__badge_number=q)
                     .values("activity_id")))
        return found | Q(pk=int(q)) if digits else found
    if name == "case":
        return Q(number__icontains=q) | Q(name__icontains=q)
    if name == "recording":
        # literal device ids (one indexed lookup in a table of hundreds): PostgreSQL then
        # ORs two index scans instead of joining a million recordings to the devices
        devices = list(Device.objects.filter(serial__in={q, q.upper()})
                       .values_list("pk", flat=True)[:10])
        found = Q(device_id__in=devices)
        if re.fullmatch(r"[0-9a-fA-F]{8,64}", q):
            found |= Q(blob__sha256__startswith=q.lower())
        return found | Q(pk=int(q)) if digits else found
    if name == "device":
        return Q(serial=q) | Q(serial=q.upper()) | Q(serial__istartswith=q) \
            | Q(model__icontains=q)
    return Q(name__icontains=q) | Q(badge_number=q)


def query(subject, name: str, p: Params) -> QuerySet:
    spec = SPECS[name]
    qs = _scoped(subject, name)
    if p.q:
        qs = qs.filter(_text(name, p.q))
    if spec.date:
        if p.start:
            qs = qs.filter(**{f"{spec.date}__gte": p.start})
        if p.end:
            qs = qs.filter(**{f"{spec.date}__lt": p.end})
    if p.unit:
        if name == "case":
            qs = qs.filter(activities__unit_id=p.unit).distinct()
        else:
            qs = qs.filter(**{spec.unit: p.unit})
    if p.type:
        qs = qs.filter(**{spec.type: p.type})
    if p.label:
        qs = qs.filter(label=p.label)
    if p.finding:
        open_ = Exists(Finding.objects.filter(
            content_type=ContentType.objects.get_for_model(spec.model),
            object_id=OuterRef("pk"), status__in=UNDECIDED))
        qs = qs.filter(open_) if p.finding == "open" else qs.exclude(open_)
    return qs


def page(subject, name: str, p: Params, size: int) -> tuple[list, str | None]:
    """One page of ``name``: the rows and the cursor of the next page (or None)."""
    spec = SPECS[name]
    qs = query(subject, name, p)
    after = p.after if p.after and p.after[0] == name else None
    if spec.order:
        qs = qs.order_by(f"-{spec.order}", "-id")
        if after and isinstance(after[1], datetime):
            qs = qs.filter(Q(**{f"{spec.order}__lt": after[1]})
                           | Q(**{spec.order: after[1], "id__lt": after[2]}))
    else:
        qs = qs.order_by("-id")
        if after:
            qs = qs.filter(id__lt=after[2])
    rows = list(qs[: size + 1])
    cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        cursor = encode_cursor(name, getattr(last, spec.order) if spec.order else None, last.pk)
    return rows, cursor


def estimate(subject, name: str, p: Params) -> int | None:
    """PostgreSQL's estimate of the rows matching (EXPLAIN, not COUNT): shown as "about".
    None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    try:
        sql, params = query(subject, name, p).order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # the filters match nothing by construction (no such device)
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])
