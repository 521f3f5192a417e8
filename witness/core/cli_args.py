"""Helpers that several ``witness`` commands share: parsing arguments (local date-times,
people by badge number or name, units by code or name, amounts, choices) and shaping
output (JSON-ready fields, short local times, labels).

Each parser raises a bilingual :class:`WitnessError` for bad input, so the command exits 1
with a message in Chinese and English. ``witness.core`` is the ground floor: domain
models are imported inside the functions, never at module level.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.core.errors import NotFound, WitnessError

# ISO 8601 extended form: date, 'T' or a space, hours:minutes, optional seconds and
# fraction, optional offset ("Z", "+08:00", "+0800"). Dates alone are refused: a
# ledger time without a time of day would silently mean midnight.
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?",
    re.ASCII,
)
# Stored times must convert to UTC and give clock drifts that fit the database.
FIRST_YEAR, LAST_YEAR = 1970, 2099
_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?", re.ASCII)


def parse_local_datetime(text: str) -> datetime:
    """An aware datetime from ISO 8601 text. Without an offset the time is local time in
    ``settings.TIME_ZONE`` (Asia/Shanghai by default): "2026-11-20T09:30" is 09:30 in
    Beijing, 01:30 UTC."""
    value = (text or "").strip()
    parsed = None
    if _DATETIME.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise WitnessError(
            _("%(text)s is not a date and time; write it as 2026-11-20T09:30 (local time) or "
              "with an offset, such as 2026-11-20T09:30+08:00."),
            code="bad_datetime", text=text)
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise WitnessError(_("%(text)s is outside the years %(first)s to %(last)s."),
                           code="bad_datetime", text=text, first=FIRST_YEAR, last=LAST_YEAR)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def parse_yuan(text: str) -> Decimal:
    """An amount of money in yuan with at most two decimals, such as "1200" or "350.50"."""
    value = (text or "").strip()
    if not _AMOUNT.fullmatch(value):
        raise WitnessError(_("%(text)s is not an amount in yuan, such as 1200 or 350.50."),
                           code="bad_amount", text=text)
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise WitnessError(_("%(text)s is not an amount in yuan, such as 1200 or 350.50."),
                           code="bad_amount", text=text) from None


def _describe(person, agency) -> str:
    where = person.unit.name
    if person.agency_id != agency.pk:
        where = f"{person.agency.name} {where}"
    return f"{person}, {where}"


def resolve_person(agency, text: str, *, other_agencies: bool = False):
    """The person that ``text`` names: a badge number (执法证号, unique) or an exact full
    name. Names are looked up in ``agency``; with ``other_agencies`` (for an issue that
    must be refused and recorded rather than rejected as unknown) a badge of another
    agency is accepted, and a name found nowhere in ``agency`` is looked up elsewhere."""
    from witness.org.models import Person

    value = (text or "").strip()
    if not value:
        raise WitnessError(_("Name a person by badge number or full name."),
                           code="person_required")
    people = Person.objects.select_related("agency", "unit")
    person = people.filter(badge_number=value).first()
    if person is not None:
        if person.agency_id != agency.pk and not other_agencies:
            raise NotFound(_("Badge number %(badge)s belongs to %(name)s of %(other)s, not to "
                             "a member of %(agency)s."), code="unknown_person", badge=value,
                           name=person.name, other=person.agency.name, agency=agency.name)
        return person
    matches = list(people.filter(agency=agency, name=value)[:10])
    if not matches and other_agencies:
        matches = list(people.filter(name=value).exclude(agency=agency)[:10])
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(_("No person with the badge number or name %(text)s in %(agency)s."),
                       code="unknown_person", text=value, agency=agency.name)
    raise WitnessError(
        _("Several people are named %(text)s (%(matches)s); give the badge number instead."),
        code="ambiguous_person", text=value,
        matches="; ".join(_describe(p, agency) for p in matches))


def resolve_unit(agency, code_or_name: str):
    """The unit of ``agency`` with this code, or else with this exact name."""
    from witness.org.models import Unit

    value = (code_or_name or "").strip()
    units = Unit.objects.filter(agency=agency)
    unit = units.filter(code=value).first() or units.filter(name=value).first()
    if unit is None:
        known = ", ".join(f"{u.code} ({u.name})" for u in units.order_by("code"))
        raise NotFound(_("No unit with the code or name %(text)s in %(agency)s. Units: "
                         "%(units)s"), code="unknown_unit", text=value, agency=agency.name,
                       units=known or "-")
    return unit


def parse_choice(text: str, choices) -> str:
    """The value of a Django ``TextChoices`` that ``text`` names: its code ("lost") or its
    label in the active language or in English ("丢失", "lost")."""
    from django.utils import translation

    value = (text or "").strip()
    for code, label in choices.choices:
        with translation.override("en"):
            english = str(label)
        if value in (code, str(label), english):
            return code
    raise WitnessError(_("%(text)s is not one of: %(values)s"), code="bad_choice", text=text,
                       values=", ".join(choices.values))


# Output ----------------------------------------------------------------------------------


def json_value(value):
    """A model field value for ``--json``: a person as name and badge number, a time in
    local time (with its offset), anything else as it is."""
    if hasattr(value, "badge_number") and hasattr(value, "name"):
        return {"name": value.name, "badge_number": value.badge_number}
    return timezone.localtime(value) if isinstance(value, datetime) else value


def json_fields(obj, *names) -> dict:
    return {name: json_value(getattr(obj, name)) for name in names}


def short_time(value) -> str:
    """"2026-11-20 09:30" in local time, from a datetime or an ISO text; "" for none."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def choice_label(choices, value) -> str:
    """The label of a ``TextChoices`` value in the active language."""
    return str(choices(value).label) if value in choices.values else str(value)


def person_label(person: dict | None) -> str:
    """A person as :func:`json_value` gives it, for a table: "张三（41040001）"."""
    if person and person["badge_number"]:
        return f"{person['name']}（{person['badge_number']}）"
    return person["name"] if person else ""
