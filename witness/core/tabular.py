"""Reading the spreadsheets agencies already keep (CSV or XLSX) into checked rows: the
domain-free half of ``witness import``. What the rows mean lives with their app
(:mod:`witness.org.importing` for people, :mod:`witness.devices.importing` for devices).

Two passes: every row is parsed and checked first (nothing is written if any row is bad,
and the report names every bad row as Excel numbers it, header = row 1); then all rows
are saved in ONE transaction through the ordinary services, so each saved object gets
its audit entry (DEV-1). Parsing functions are pure and raise only :class:`CellError`.
Ground floor: no domain app is imported here.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import WitnessError

ACTOR = "system:import"
_CHUNK = 500


class CellError(WitnessError):
    """One value in the file cannot be used."""

    code = "bad_value"


@dataclass(frozen=True)
class RowError:
    row: int | None  # as Excel numbers it (header = 1); None for the file as a whole
    column: str
    value: str
    error: WitnessError

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value,
                "code": self.error.code, "zh": self.error.zh, "en": self.error.en}


class ImportFailed(WitnessError):
    """The file was rejected; ``errors`` lists every problem found. Nothing was saved."""

    code = "import_failed"

    def __init__(self, errors: list[RowError], file: str):
        self.errors = errors
        super().__init__(_("Nothing was imported: %(file)s has %(count)s error(s)."),
                         file=file, count=len(errors))

    def as_dict(self) -> dict:
        return {"ok": False, "imported": 0, "errors": [e.as_dict() for e in self.errors]}


# --- parsing single values -------------------------------------------------------------

_TRUE = {"是", "在职", "y", "yes", "true", "1", "√", "✓"}
_FALSE = {"否", "离职", "不在职", "n", "no", "false", "0", "×", "✗"}
# Control characters other than tab and line breaks (a NUL cannot even be stored).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def name_key(text: str) -> str:
    """Compare names ignoring case, full-width forms and space/hyphen/underscore spelling."""
    text = unicodedata.normalize("NFKC", text).strip().casefold()
    return re.sub(r"[\s\-_]+", "_", text)


class Vocabulary:
    """The names a cell may use for a value of a choices class: codes, English labels and
    (when the catalogue has them) Chinese labels, plus ``extra`` names agencies write."""

    def __init__(self, choices, extra: dict):
        self.choices, self.extra = choices, extra

    @cached_property
    def table(self) -> dict[str, str]:
        table = {}
        for value, label in self.choices.choices:
            table[name_key(value)] = value
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    table.setdefault(name_key(str(label)), value)
        table.update({name_key(k): str(v) for k, v in self.extra.items()})
        return table

    def get(self, text: str) -> str | None:
        """The code ``text`` names, or None."""
        return self.table.get(name_key(text))

    def known(self) -> str:
        """Every value with its extra names, for an error message: ``执法人员 (officer), …``."""
        names: dict[str, list[str]] = {}
        for name, value in self.extra.items():
            names.setdefault(str(value), []).append(name)
        return ", ".join(f"{'/'.join(names.get(v, []))} ({v})" for v in self.choices.values)


def parse_bool(text: str) -> bool:
    """在职 column: 是/否, 在职/离职, yes/no, true/false, 1/0; empty means yes."""
    low = name_key(text or "")
    if low == "" or low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise CellError(_("%(value)s is not yes or no; use one of %(accepted)s."), code="bad_bool",
                    value=text, accepted="是/否, 在职/离职, yes/no, 1/0")


def cell_text(value) -> str:
    """A spreadsheet cell as text: 13812345678.0 → "13812345678", None → ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


# --- header ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    field: str
    name: str  # the Chinese header agencies use
    aliases: tuple[str, ...]
    required: bool = True
    max_length: int | None = None


def _header_key(text: str) -> str:
    """``*姓名（必填）`` → ``姓名``; ``Badge number`` → ``badgenumber``."""
    text = unicodedata.normalize("NFKC", text or "")
    text = re.sub(r"[(\[][^)\]]*[)\]]", "", text)
    return re.sub(r"[\W_]+", "", text).casefold()


@dataclass(frozen=True)
class Header:
    index: dict[str, int]  # field → position
    labels: dict[str, str]  # field → header text as written in the file
    ignored: list[str]


def parse_header(cells: list[str], columns: tuple[Column, ...], row: int = 1) -> Header:
    """Map header cells to fields; unknown columns are ignored (and reported)."""
    lookup = {}
    for col in columns:
        for name in (col.name, col.field, *col.aliases):
            lookup.setdefault(_header_key(name), col)
    index, labels, ignored, errors = {}, {}, [], []
    for position, text in enumerate(cells):
        text = (text or "").strip()
        col = lookup.get(_header_key(text))
        if col is None:
            if text:
                ignored.append(text)
        elif col.field in index:
            errors.append(RowError(row, text, text, CellError(
                _("Two columns mean %(column)s: %(first)s and %(second)s."),
                code="duplicate_column", column=col.name, first=labels[col.field],
                second=text)))
        else:
            index[col.field], labels[col.field] = position, text
    for col in columns:
        if col.required and col.field not in index:
            errors.append(RowError(row, col.name, "", CellError(
                _("The column %(column)s is missing from the header row."),
                code="missing_column", column=col.name)))
    if errors:
        raise ImportFailed(errors, file="")
    for col in columns:
        labels.setdefault(col.field, col.name)
    return Header(index, labels, ignored)


# --- reading files -----------------------------------------------------------------------

@dataclass
class Table:
    rows: Iterator[tuple[int, list[str]]]  # (row number as Excel shows it, cells)
    total: int | None
    sha256: str


def _file_failed(path: Path, message, code: str, **params) -> ImportFailed:
    return ImportFailed([RowError(None, "", "", CellError(message, code=code, **params))],
                        file=path.name)


def _scan(path: Path, *, text: bool = True) -> tuple[str, str]:
    """(encoding, sha256) in one streaming pass: UTF-8 if the bytes are UTF-8, otherwise
    GB18030 (what Excel on Chinese Windows writes as "CSV")."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    encoding = None if text else "binary"
    with path.open("rb") as fh:
        if text and fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            encoding = "utf-16"  # Excel's "Unicode text" export
        fh.seek(0)
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            if encoding is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    encoding = "gb18030"
    if encoding is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "gb18030"
    return encoding or "utf-8-sig", digest.hexdigest()


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(encoding=encoding, newline="") as fh:
            first = fh.readline()
            # Comma, or what Excel writes in some locales and as "Unicode text".
            delimiter = max(",\t;", key=first.count) if first.count(",") == 0 else ","
            fh.seek(0)
            for number, cells in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
                if number == 1 and cells:
                    cells[0] = cells[0].lstrip("\ufeff")
                yield number, [c.strip() for c in cells]
    except UnicodeDecodeError:
        raise _file_failed(path, _("%(file)s is neither UTF-8 nor GB18030 text."),
                           "bad_encoding", file=path.name) from None
    except csv.Error as exc:
        raise _file_failed(path, _("%(file)s is not a valid CSV file (%(reason)s)."),
                           "bad_csv", file=path.name, reason=str(exc)) from None


def _xlsx_rows(workbook) -> Iterator[tuple[int, list[str]]]:
    sheet = workbook.worksheets[0]
    for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
        yield number, [cell_text(v) for v in values]


@contextlib.contextmanager
def open_table(path: Path):
    """Yield a :class:`Table` streaming the rows of a CSV file or an XLSX's first sheet."""
    path = Path(path)
    if not path.is_file():
        raise _file_failed(path, _("File not found: %(file)s."), "file_not_found",
                           file=str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        encoding, digest = _scan(path)
        yield Table(_csv_rows(path, encoding), None, digest)
        return
    if suffix not in (".xlsx", ".xlsm"):
        raise _file_failed(path, _("%(file)s is not a .csv or .xlsx file (save it from Excel "
                                   "as .xlsx or as CSV)."), "bad_file_type", file=path.name)
    import openpyxl

    digest = _scan(path, text=False)[1]
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors for broken files
        raise _file_failed(path, _("%(file)s cannot be read as an Excel workbook (%(reason)s)."),
                           "bad_xlsx", file=path.name, reason=type(exc).__name__) from None
    try:
        sheet = workbook.worksheets[0]
        total = sheet.max_row
        sheet.reset_dimensions()  # some writers store wrong dimensions; read every row
        yield Table(_xlsx_rows(workbook), total, digest)
    finally:
        workbook.close()


# --- validating rows ---------------------------------------------------------------------

Progress = Callable[[Iterable, int | None, str], Iterable]


def no_progress(items: Iterable, total: int | None, description: str) -> Iterable:
    return items


@dataclass
class Row:
    number: int
    values: dict  # field → parsed value
    raw: dict  # field → the text in the file


@dataclass
class Checked:
    """The outcome of the first pass: parsed rows, or the errors that reject the file."""

    file: Path
    sha256: str
    header: Header
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def fail(self, row: Row | int, column: str, value, error: WitnessError) -> None:
        number = row.number if isinstance(row, Row) else row
        self.errors.append(RowError(number, self.header.labels.get(column, column),
                                    str(value), error))

    def raise_if_bad(self) -> None:
        if self.errors:
            position = {self.header.labels[f]: i for f, i in self.header.index.items()}
            self.errors.sort(key=lambda e: (e.row or 0, position.get(e.column, len(position))))
            raise ImportFailed(self.errors, file=self.file.name)


def read_rows(path: Path, columns: tuple[Column, ...],
              parse_row: Callable[[Checked, int, dict], None], progress: Progress) -> Checked:
    """First pass: check every cell against its column (control characters, required,
    length), then hand the row's texts to ``parse_row(checked, number, raw)``."""
    path = Path(path)
    with open_table(path) as table:
        header = None
        for number, cells in progress(table.rows, table.total, str(_("Checking rows"))):
            if not any(cells):
                continue
            if header is None:
                try:
                    header = parse_header(cells, columns, row=number)
                except ImportFailed as exc:
                    raise ImportFailed(exc.errors, file=path.name) from None
                checked = Checked(path, table.sha256, header)
                continue
            raw = {f: cells[i] if i < len(cells) else "" for f, i in header.index.items()}
            for col in columns:
                value = raw.get(col.field, "")
                if _CONTROL.search(value):
                    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
                    checked.fail(number, col.field, shown,
                                 CellError(_("The value contains a control character."),
                                           code="control_character"))
                    raw[col.field] = ""  # not looked up or parsed any further
                elif col.required and not value:
                    checked.fail(number, col.field, value, CellError(
                        _("%(column)s is required."), code="required",
                        column=header.labels[col.field]))
                elif col.max_length and len(value) > col.max_length:
                    checked.fail(number, col.field, value, CellError(
                        _("Longer than %(max)s characters."), code="too_long",
                        max=col.max_length))
                    raw[col.field] = ""
            parse_row(checked, number, raw)
    if header is None:
        raise _file_failed(path, _("%(file)s has no header row."), "empty_file", file=path.name)
    return checked


def parse_cell(checked: Checked, number: int, column: str, value: str, parser):
    """``parser(value)``, or None with the error recorded against the cell."""
    try:
        return parser(value)
    except WitnessError as exc:
        checked.fail(number, column, value, exc)
        return None


def first_seen(checked: Checked, seen: dict, number: int, column: str, value: str,
               message, code: str) -> None:
    """Record the row of ``value`` in ``seen``, or an error if an earlier row has it."""
    if value in seen:
        checked.fail(number, column, value, CellError(message, code=code, value=value,
                                                      first=seen[value]))
    else:
        seen[value] = number


def in_database(checked: Checked, column: str, values: dict[str, int], queryset,
                lookup: str, message, code: str) -> None:
    """Flag every value of ``values`` (value → row) that ``queryset`` already holds."""
    keys = list(values)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        for found in queryset.filter(**{f"{lookup}__in": chunk}).values_list(lookup, flat=True):
            checked.fail(values[found], column, found,
                         CellError(message, code=code, value=found))


def cached(resolve, scope) -> Callable[[str], object]:
    """``resolve(scope, text)`` once per distinct text (units and custodians repeat)."""
    found: dict[str, object] = {}

    def find(text: str):
        if text not in found:
            found[text] = resolve(scope, text)
        return found[text]

    return find


def save_all(checked: Checked, save: Callable[[Row], None], action: str, actor,
             progress: Progress, column_of_code: dict[str, str]) -> int:
    """Second pass: every row in one transaction; any failure rolls back all of them.
    A service's error is reported against the column ``column_of_code[error.code]``."""
    with transaction.atomic():
        for row in progress(checked.rows, len(checked.rows), str(_("Importing"))):
            try:
                save(row)
            except WitnessError as exc:
                column = column_of_code.get(exc.code, "")
                checked.fail(row, column, row.raw.get(column, ""), exc)
            except IntegrityError as exc:
                checked.fail(row, "", "", CellError(
                    _("This row conflicts with data saved meanwhile (%(reason)s)."),
                    code="conflict", reason=str(exc).splitlines()[0][:200]))
            if checked.errors:
                checked.raise_if_bad()
        audit.append(actor, action, ("import.file", checked.sha256),
                     details={"file": checked.file.name, "rows": len(checked.rows)})
    return len(checked.rows)
