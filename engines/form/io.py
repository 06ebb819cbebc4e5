"""Spreadsheet cells <-> record values, per field type.

Import reads cells that are text (CSV) or native values (XLSX: int, float, datetime...)
and turns each into the JSON value the record validator accepts, so a spreadsheet row goes
through exactly the same validation as an API call. Export turns a record's JSON value
into a cell. The parsing is tolerant where people's spreadsheets differ ("1,234.50",
"¥1234.5", 2026/11/20, 是/否) and exact where money is concerned: a number never passes
through binary float arithmetic.

One codec per field type, kept in a registry keyed by type name (``CODECS``) so a new field
type without a codec is caught by a test rather than at import time in production.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from engines.form import cards
from engines.form.definition import SYSTEM_COLUMNS, live_fields
from engines.form.errors import FieldProblem, FormError, Problem
from engines.form.types import field_type

CellParser = Callable[[Any], Any]
CellFormatter = Callable[[Any], Any]

DEFAULT_TIMEZONE = "Asia/Shanghai"
TRUE_WORDS = frozenset({"是", "true", "t", "yes", "y", "1", "对", "√", "✓", "真"})
FALSE_WORDS = frozenset({"否", "false", "f", "no", "n", "0", "错", "×", "✗", "假"})
LIST_SEPARATORS = re.compile(r"[;；\n]")
CURRENCY_MARKS = re.compile(r"^(?:[¥￥$€£]|CNY|RMB|USD|HKD|EUR)\s*|\s*(?:元|CNY|RMB)$",
                            re.IGNORECASE)
DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
NAIVE_DATETIME = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?$")
INJECTION_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_SAFE_FLOAT_INT = 2**53
EXCEL_DIGITS = 10**15  # Excel numbers keep 15 significant digits


class FileFormatError(FormError):
    """The uploaded file is not the CSV/XLSX it claims to be (or not readable as one)."""

    code = "unreadable_file"


class ColumnMappingError(FormError):
    """The header row does not fit the entity: unknown, duplicate or missing columns."""

    code = "bad_columns"


@dataclass(frozen=True, slots=True)
class TitleRef:
    """A relation cell that named the target record by its title instead of its id; the
    platform resolves it (one query per batch) before validation."""

    text: str


# -- helpers --------------------------------------------------------------------------------
def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    """A cell as text: XLSX numbers lose no digits and whole floats drop their '.0'."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 1 and text[0] == "'" and text[1] in INJECTION_STARTS:
            return text[1:]  # the guard our own export adds in front of =, +, -, @
        return text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _float_text(value: float) -> str:
    """The shortest decimal that reads back as this float ('1234.5', never
    '1234.4999999'): what the user typed into Excel."""
    if value != value or value in (float("inf"), float("-inf")):
        raise FieldProblem("is not a finite number")
    return format(Decimal(repr(value)).normalize(), "f")


def _decimal_text(value: Any) -> str:
    """A decimal string from "1,234.50", " 12 ", 12.5 or (1,234.50) for negatives."""
    if isinstance(value, bool):
        raise FieldProblem("must be a number")
    if isinstance(value, int | Decimal):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    text = _text(value).replace(",", "").replace("，", "").replace(" ", "")
    if text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1]
    if text.startswith("+"):
        text = text[1:]
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise FieldProblem(f"{_text(value)!r} is not a number") from None
    if not number.is_finite():
        raise FieldProblem("must be a finite number")
    if number and not -30 < number.adjusted() < 30:
        raise FieldProblem(f"{_text(value)!r} is out of range")
    return format(number, "f")


def _choice(field: dict[str, Any]) -> Callable[[str], str]:
    """Option value by value, by label, then case-insensitively."""
    lookup: dict[str, str] = {}
    for option in field.get("options", []):
        value = option["value"] if isinstance(option, dict) else option
        label = option.get("label") if isinstance(option, dict) else None
        for name in (value, label):
            if name:
                lookup.setdefault(name, value)
                lookup.setdefault(name.casefold(), value)

    def pick(text: str) -> str:
        return lookup.get(text) or lookup.get(text.casefold()) or text

    return pick


def _items(value: Any) -> list[str]:
    return [part.strip() for part in LIST_SEPARATORS.split(_text(value)) if part.strip()]


# -- parsers, one per field type --------------------------------------------------------------
def _parse_text(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    if field["type"] == "textarea":
        return lambda value: value if isinstance(value, str) else _text(value)
    return _text


def _parse_number(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    whole = field["type"] == "number" and int(field.get("scale", 0)) == 0
    percent = field["type"] == "percent"

    def parse(value: Any) -> Any:
        if percent and isinstance(value, str):
            value = value.strip().removesuffix("%")
        text = _decimal_text(value)
        if not whole:
            return text
        number = Decimal(text)
        if number != number.to_integral_value():
            raise FieldProblem("must be a whole number")
        return int(number)

    return parse


def _parse_money(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    def parse(value: Any) -> str:
        if isinstance(value, str):
            value = CURRENCY_MARKS.sub("", value.strip())
        return _decimal_text(value)

    return parse


def _parse_date(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    def parse(value: Any) -> str:
        if isinstance(value, dt.datetime):
            if value.time() != dt.time(0):
                raise FieldProblem("must be a date without a time of day")
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        text = _text(value).removesuffix(" 00:00:00").removesuffix("T00:00:00")
        match = DATE_TEXT.match(text) or DATE_COMPACT.match(text)
        if not match:
            raise FieldProblem(f"{text!r} is not a date like 2026-11-20 or 2026/11/20")
        try:
            return dt.date(*(int(g) for g in match.groups())).isoformat()
        except ValueError:
            raise FieldProblem(f"{text!r} is not a real date") from None

    return parse


def _parse_datetime(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    """Times with an offset keep it; times without one are read in the import's time zone
    (a bank statement's 10:01 means 10:01 Beijing time, not UTC)."""

    def parse(value: Any) -> str:
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=tz)
            return moment.isoformat()
        text = _text(value)
        match = NAIVE_DATETIME.match(text)
        if match:
            year, month, day, hour, minute, second, fraction = match.groups()
            try:
                moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                     int(second or 0),
                                     int((fraction or ".0")[1:].ljust(6, "0")), tzinfo=tz)
            except ValueError:
                raise FieldProblem(f"{text!r} is not a real date-time") from None
            return moment.isoformat()
        return text.replace("/", "-", 2)  # with an offset: the validator checks the rest

    return parse


def _parse_boolean(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    def parse(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        word = _text(value).casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise FieldProblem(f"{_text(value)!r} is not yes/no (是/否, true/false, 1/0)")

    return parse


def _parse_select(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    pick = _choice(field)
    return lambda value: pick(_text(value))


def _parse_multiselect(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    pick = _choice(field)
    return lambda value: [pick(item) for item in _items(value)]


def _ref(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < MAX_SAFE_FLOAT_INT:
        return int(value)
    text = _text(value)
    return int(text) if text.isascii() and text.isdigit() else TitleRef(text)


def _parse_relation(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    """By id, or by the target's title (resolved by the platform); ids win when a title
    is itself a number."""
    if field.get("many"):
        return lambda value: [_ref(item) for item in _items(value)] if isinstance(
            value, str) else [_ref(value)]
    return _ref


def _parse_json_cell(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    """Subtable rows as a JSON array (what our export writes)."""

    def parse(value: Any) -> Any:
        try:
            return json.loads(_text(value), parse_float=Decimal)
        except ValueError:
            raise FieldProblem("must be a JSON list of rows, like [{\"qty\": 1}]") from None

    return parse


def _parse_attachment(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    """A JSON list of upload objects, or upload ids separated by ';'."""

    def parse(value: Any) -> Any:
        text = _text(value)
        if text.startswith("["):
            return _parse_json_cell(field, tz)(text)
        return [{"id": item} for item in _items(text)]

    return parse


def _parse_card(field: dict[str, Any], tz: ZoneInfo) -> CellParser:
    """The full number goes on to the validator, which tokenizes it. Excel keeps only 15
    significant digits of a number (4111111111111111 becomes ...110), so card numbers
    stored as numbers are refused instead of guessed."""

    def parse(value: Any) -> str:
        if isinstance(value, float | int) and not isinstance(value, bool):
            if (isinstance(value, float) and not value.is_integer()) or value >= EXCEL_DIGITS:
                raise FieldProblem("lost digits in Excel: format the card column as text")
            return str(int(value))
        return _text(value)

    return parse


CODECS: dict[str, Callable[[dict[str, Any], ZoneInfo], CellParser] | None] = {
    "text": _parse_text, "textarea": _parse_text, "email": _parse_text,
    "phone": _parse_text, "url": _parse_text, "user": _parse_text,
    "number": _parse_number, "percent": _parse_number, "money": _parse_money,
    "date": _parse_date, "datetime": _parse_datetime, "boolean": _parse_boolean,
    "select": _parse_select, "multiselect": _parse_multiselect,
    "relation": _parse_relation, "subtable": _parse_json_cell,
    "attachment": _parse_attachment, "card_number": _parse_card,
    # computed by the platform: their columns are ignored on import
    "formula": None, "auto_number": None,
}


def cell_parser(field: dict[str, Any], tz: str | ZoneInfo = DEFAULT_TIMEZONE) -> CellParser:
    """Cell -> JSON value for the validator; raises FieldProblem. Blank cells are the
    caller's business (they mean "no value")."""
    factory = CODECS.get(field["type"])
    if factory is None:
        raise ValueError(f"{field['type']} fields are computed and cannot be imported")
    return factory(field, tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))


def importable(field: dict[str, Any]) -> bool:
    return CODECS.get(field["type"]) is not None and not field_type(field["type"]).computed


# -- the header row ----------------------------------------------------------------------
@dataclass
class ColumnPlan:
    """Which field each column feeds (None: ignored), and the headers that were ignored
    because they name system or computed columns (an export read back in)."""

    keys: list[str | None]
    ignored: list[str] = field(default_factory=list)


def map_columns(definition: dict[str, Any], headers: Sequence[Any],
                mapping: dict[str, str | None] | None = None) -> ColumnPlan:
    """Columns by explicit ``mapping`` (header -> field key, or None to skip), else by
    field key, else by label (both case-insensitive). Unknown or doubled columns and
    required fields without a column raise ColumnMappingError listing each one."""
    fields = live_fields(definition)
    by_name: dict[str, dict[str, Any]] = {}
    for fdef in fields:
        for name in (fdef.get("label"), fdef["key"]):
            if name:
                by_name.setdefault(str(name).strip().casefold(), fdef)
    by_key = {f["key"]: f for f in fields}
    removed = {str(n).strip().casefold() for f in definition["fields"] if f.get("removed")
               for n in (f["key"], f.get("label")) if n}
    mapping = {str(k).strip(): v for k, v in (mapping or {}).items()}
    plan, problems, taken = ColumnPlan(keys=[]), [], {}
    for index, raw in enumerate(headers):
        header = _text(raw) if raw is not None else ""
        where = header or f"column {index + 1}"
        if header in mapping:
            target = mapping[header]
            fdef = by_key.get(target) if target else None
            if target and fdef is None:
                problems.append(Problem(where, f"is mapped to {target!r}, not a field"))
                plan.keys.append(None)
                continue
        elif not header or header.casefold() in SYSTEM_COLUMNS:
            plan.keys.append(None)
            if header:
                plan.ignored.append(header)
            continue
        else:
            fdef = by_name.get(header.casefold())
            if fdef is None:
                reason = "was removed from this form" if header.casefold() in removed else \
                    "matches no field key or label; map it or leave it out"
                problems.append(Problem(where, reason))
                plan.keys.append(None)
                continue
        if fdef is None or not importable(fdef):
            plan.keys.append(None)
            plan.ignored.append(header)
            continue
        if fdef["key"] in taken:
            problems.append(Problem(where, f"feeds {fdef['key']!r}, like column "
                                           f"{taken[fdef['key']]!r}"))
        taken[fdef["key"]] = where
        plan.keys.append(fdef["key"])
    for fdef in fields:
        if fdef.get("required") and "default" not in fdef and importable(fdef) \
                and fdef["key"] not in taken:
            problems.append(Problem(fdef["key"], "is required but no column feeds it"))
    if problems:
        raise ColumnMappingError(f"{len(problems)} column problem(s): "
                                 f"{problems[0].path}: {problems[0].message}", problems)
    return plan


class RowReader:
    """Compiled once per import: cells of one row -> (record JSON, problems by field)."""

    def __init__(self, definition: dict[str, Any], plan: ColumnPlan,
                 tz: str = DEFAULT_TIMEZONE):
        by_key = {f["key"]: f for f in live_fields(definition)}
        self.width = len(plan.keys)
        self.columns = [(i, key, cell_parser(by_key[key], tz))
                        for i, key in enumerate(plan.keys) if key is not None]

    def read(self, cells: Sequence[Any]) -> tuple[dict[str, Any], list[Problem]]:
        data: dict[str, Any] = {}
        problems: list[Problem] = []
        for index, key, parse in self.columns:
            value = cells[index] if index < len(cells) else None
            if is_blank(value):
                continue
            try:
                data[key] = parse(value)
            except FieldProblem as exc:
                problems.append(Problem(key, exc.message))
        if len(cells) > self.width and any(not is_blank(c) for c in cells[self.width:]):
            problems.append(Problem("", f"has values beyond the {self.width} header columns"))
        return data, problems


# -- export ---------------------------------------------------------------------------------
def _guard(text: str) -> str:
    """Spreadsheet formula injection: text that Excel would run as a formula gets a
    leading apostrophe (removed again on import)."""
    return "'" + text if text and text[0] in INJECTION_STARTS else text


def cell_formatter(field: dict[str, Any], native: bool = False,
                   bool_words: tuple[str, str] = ("是", "否")) -> CellFormatter:
    """Record JSON value -> cell: text for CSV, native values for XLSX (``native``).
    Card numbers come out masked only; nothing else of a card is exported."""
    kind = field["type"]
    scale = int(field.get("scale", 2 if kind in ("money", "percent") else 0))
    result = field.get("result_type", "number") if kind == "formula" else None

    def fmt(value: Any) -> Any:
        if value is None:
            return None
        if kind == "card_number":
            return cards.mask(value["last4"], value.get("brand"))
        if kind == "boolean" or isinstance(value, bool):
            return bool_words[0] if value else bool_words[1]
        if kind in ("money", "percent") or (kind == "number" and scale) or result == "number":
            return Decimal(value) if native else value
        if kind == "date" or result == "date":
            return dt.date.fromisoformat(value) if native else value
        if kind == "multiselect" or (kind == "relation" and isinstance(value, list)):
            return ";".join(str(v) for v in value)
        if kind == "subtable":
            return json.dumps(value, ensure_ascii=False)
        if kind == "attachment":
            return "; ".join(str(item.get("name") or item["id"]) for item in value)
        if isinstance(value, str):
            return _guard(value)
        return value

    return fmt


def number_format(field: dict[str, Any]) -> str | None:
    """The Excel number format a field's cells get (thousands separators for money)."""
    kind = field["type"]
    if kind == "money":
        scale = int(field.get("scale", 2))
        return "#,##0" + ("." + "0" * scale if scale else "")
    if kind == "date" or (kind == "formula" and field.get("result_type") == "date"):
        return "yyyy-mm-dd"
    return None


def header_label(field: dict[str, Any]) -> str:
    return str(field.get("label") or field["key"])
