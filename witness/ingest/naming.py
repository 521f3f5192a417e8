"""Facts a device writes into its file names (issue 3 item 3).

Body cameras name each file after the device serial, the officer's badge number, the local
start time and a sequence number, e.g. ``DSJ-V9-0001_41042319001_20261120093005_0012.MP4``;
a file the officer marked important (重要标记) carries ``_IMP`` before the extension or a
leading ``!`` / ``IMP_``. Each device model names one or more patterns from ``PATTERNS``
(``patterns_named``); ``parse_name`` reads the facts with the first pattern whose shape fits.

Times are naive local time as the device clock showed them: the ingest converts them to aware
datetimes once the clock drift (DEV-4) is known. A name that fits a pattern but holds an
impossible date (month 13, end before start) gives ``None``, so the caller falls back to the
container metadata; no input raises.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath

from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError

GROUPS = frozenset({"serial", "badge", "start", "end", "seq", "important"})

_TIME = r"[0-9]{14}"  # YYYYMMDDhhmmss
_SERIAL = r"[A-Za-z0-9][A-Za-z0-9-]*"
_BADGE = r"[A-Za-z0-9]+"
_SEQ = r"[0-9]{1,8}"


def _marked(body: str) -> str:
    """Wrap a pattern body with the important-file marks and an optional extension."""
    return (
        rf"(?:(?P<important>!|IMP_)?{body}(?P<important_suffix>_IMP)?)"
        r"(?:\.[A-Za-z0-9]{1,5})?"
    )


@dataclass(frozen=True)
class NamePattern:
    name: str
    regex: re.Pattern
    example: str

    @classmethod
    def compile(cls, name: str, pattern: str, example: str = "") -> NamePattern:
        """A pattern from configuration: named groups from ``GROUPS``, ``start`` required."""
        try:
            regex = re.compile(pattern, re.ASCII | re.IGNORECASE)
        except re.error as exc:
            raise WitnessError(_("The file-name pattern %(name)s is not a valid regular "
                                 "expression: %(problem)s"),
                               code="invalid_name_pattern", name=name, problem=str(exc)) from exc
        groups = set(regex.groupindex) - {"important_suffix"}
        if "start" not in groups or not groups <= GROUPS:
            raise WitnessError(_("The file-name pattern %(name)s must have a group named start "
                                 "and may only use the groups %(groups)s."),
                               code="invalid_name_pattern", name=name,
                               groups=", ".join(sorted(GROUPS)))
        return cls(name, regex, example)

    @classmethod
    def custom(cls, name: str, pattern: str, example: str = "") -> NamePattern:
        """An agency's own pattern: written for the name, the extension may follow."""
        cls.compile(name, pattern, example)  # the expression alone must be valid
        return cls.compile(name, rf"(?:{pattern})(?:\.[A-Za-z0-9]{{1,5}})?", example)


@dataclass(frozen=True)
class NameFacts:
    pattern: str
    start: datetime  # naive, device-local
    end: datetime | None
    seq: int | None
    serial: str
    badge: str
    important: bool


PATTERNS: dict[str, NamePattern] = {
    p.name: p
    for p in (
        NamePattern.compile(
            "serial-start-end-seq",
            _marked(rf"(?P<serial>{_SERIAL})_(?P<start>{_TIME})_(?P<end>{_TIME})_(?P<seq>{_SEQ})"),
            "DSJ-V9-0001_20261120093005_20261120094005_0012.MP4",
        ),
        NamePattern.compile(
            "serial-badge-time-seq",
            _marked(rf"(?P<serial>{_SERIAL})_(?P<badge>{_BADGE})_(?P<start>{_TIME})"
                    rf"_(?P<seq>{_SEQ})"),
            "DSJ-V9-0001_41042319001_20261120093005_0012.MP4",
        ),
        NamePattern.compile(
            "serial-badge-date-time-seq",
            _marked(rf"(?P<serial>{_SERIAL})_(?P<badge>{_BADGE})_(?P<start>[0-9]{{8}}_[0-9]{{6}})"
                    rf"_(?P<seq>{_SEQ})"),
            "DSJ-V9-0001_41042319001_20261120_093005_0012.MP4",
        ),
        NamePattern.compile(
            "date-time-seq",
            _marked(rf"(?P<start>[0-9]{{8}}_[0-9]{{6}})_(?P<seq>{_SEQ})"),
            "20261120_093005_0012.MP4",
        ),
    )
}
# Most specific first: a start-end name would otherwise read as serial, badge, start.
DEFAULT: tuple[NamePattern, ...] = tuple(PATTERNS.values())


def format_name(serial: str, badge: str, start: datetime, seq: int, *,
                important: bool = False, ext: str = "MP4") -> str:
    """The name a body camera gives a file under ``serial-badge-time-seq`` (the inverse of
    ``parse_name``): ``SERIAL_BADGE_YYYYMMDDhhmmss_SEQ[_IMP].EXT``, ``start`` naive local."""
    mark = "_IMP" if important else ""
    return f"{serial}_{badge}_{start:%Y%m%d%H%M%S}_{seq:04d}{mark}.{ext}"


def patterns_named(names: Iterable[str],
                   known: dict[str, NamePattern] | None = None) -> tuple[NamePattern, ...]:
    """The patterns a device model is configured with, in the order given, from ``known``
    (default: the built-in ones; ``ingest.patterns.known`` adds the agency's own)."""
    known = PATTERNS if known is None else known
    chosen = []
    for name in names:
        if name not in known:
            raise WitnessError(_("Unknown file-name pattern %(name)s; known: %(known)s."),
                               code="unknown_name_pattern", name=name,
                               known=", ".join(known))
        chosen.append(known[name])
    return tuple(chosen)


def _time(text: str | None) -> datetime | None:
    digits = (text or "").replace("_", "")
    if len(digits) != 14 or not (digits.isascii() and digits.isdigit()):
        return None
    parts = (digits[0:4], digits[4:6], digits[6:8], digits[8:10], digits[10:12], digits[12:14])
    try:
        return datetime(*map(int, parts))
    except ValueError:
        return None


def _base_name(filename: str | bytes | os.PathLike) -> str:
    if isinstance(filename, bytes):
        filename = os.fsdecode(filename)
    return PurePath(os.fspath(filename)).name


def parse_name(filename: str | bytes | os.PathLike,
               patterns: Iterable[NamePattern] = DEFAULT) -> NameFacts | None:
    """The facts in ``filename`` (a name or a path) or None when no pattern fits."""
    try:
        name = _base_name(filename)
    except (TypeError, ValueError):
        return None
    for pattern in patterns:
        match = pattern.regex.fullmatch(name)
        if match is None:
            continue
        return _facts(pattern.name, match.groupdict())
    return None


def _facts(pattern: str, groups: dict) -> NameFacts | None:
    start = _time(groups.get("start"))
    end = _time(groups["end"]) if groups.get("end") else None
    if start is None or (groups.get("end") and (end is None or end < start)):
        return None
    seq = groups.get("seq")
    return NameFacts(
        pattern=pattern,
        start=start,
        end=end,
        seq=int(seq) if seq else None,
        serial=groups.get("serial") or "",
        badge=groups.get("badge") or "",
        important=bool(groups.get("important") or groups.get("important_suffix")),
    )
