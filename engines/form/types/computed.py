"""Field types whose stored value the platform computes: formula, auto-number, and the
sensitive card number (only a token, the last four digits and the brand are stored)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from engines.form.errors import FieldProblem
from engines.form.types.base import (
    EQUALITY_OPS,
    ORDERED_OPS,
    TEXT_OPS,
    FieldType,
    Parser,
    register,
)
from engines.form.types.values import datetime_to_json, quantize

CARD_SHAPE = re.compile(r"^[0-9][0-9 -]{10,24}[0-9]$")
FORMULA_RESULTS = ("number", "text", "boolean", "date", "datetime")


def _refuse_input(what: str) -> Parser:
    def parse(value: Any) -> Any:
        raise FieldProblem(f"is {what} and cannot be written")

    return parse


@register
class Formula(FieldType):
    """Computed from other fields on every write; stored so it can be filtered, sorted and
    aggregated."""

    name = "formula"
    computed = True
    filter_ops = ORDERED_OPS
    settings = {
        "formula": {"type": "string", "minLength": 1, "maxLength": 2000},
        "result_type": {"enum": list(FORMULA_RESULTS)},
        "scale": {"type": "integer", "minimum": 0, "maximum": 8},
    }

    def check_definition(self, field: dict[str, Any]) -> list[str]:
        return [] if field.get("formula") else ["formula: the expression is missing"]

    def result_type(self, field: dict[str, Any]) -> str:
        return field.get("result_type", "number")

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        kind = self.result_type(field)
        if kind == "number":
            return sa.Numeric(30, int(field.get("scale", 2)))
        return {
            "text": sa.Text(),
            "boolean": sa.Boolean(),
            "date": sa.Date(),
            "datetime": sa.DateTime(timezone=True),
        }[kind]

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        return {"readOnly": True}

    def parser(self, field: dict[str, Any]) -> Parser:
        return _refuse_input("computed by a formula")

    def to_json(self, field: dict[str, Any], value: Any) -> Any:
        kind = self.result_type(field)
        if kind == "number":
            return str(quantize(Decimal(value), int(field.get("scale", 2))))
        if kind == "date":
            return value.isoformat()
        if kind == "datetime":
            return datetime_to_json(value)
        return value

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        from engines.form.types.values import parse_date, to_decimal

        kind = self.result_type(field)
        if kind == "number":
            return to_decimal(raw)
        if kind == "boolean":
            return raw.lower() in ("true", "1", "yes")
        if kind == "date":
            return parse_date(raw)
        return raw


# --- auto-number -----------------------------------------------------------------------------
AUTO_TOKEN = re.compile(r"\{(YYYY|YY|MM|DD|seq(?::(\d{1,2}))?)\}")


def auto_number_scope(pattern: str, now: dt.date) -> str:
    """The counter a number is drawn from: the sequence restarts with each period the
    pattern shows (CR-{YYYY}-{seq:5} restarts every year)."""
    tokens = {m.group(1) for m in AUTO_TOKEN.finditer(pattern)}
    if "DD" in tokens:
        return now.strftime("%Y%m%d")
    if "MM" in tokens:
        return now.strftime("%Y%m")
    if "YYYY" in tokens or "YY" in tokens:
        return now.strftime("%Y")
    return "all"


def format_auto_number(pattern: str, seq: int, now: dt.date) -> str:
    def fill(match: re.Match[str]) -> str:
        token = match.group(1)
        if token.startswith("seq"):
            return str(seq).rjust(int(match.group(2) or 1), "0")
        return {
            "YYYY": f"{now.year:04d}",
            "YY": f"{now.year % 100:02d}",
            "MM": f"{now.month:02d}",
            "DD": f"{now.day:02d}",
        }[token]

    return AUTO_TOKEN.sub(fill, pattern)


@register
class AutoNumber(FieldType):
    name = "auto_number"
    computed = True
    filter_ops = TEXT_OPS
    settings = {"pattern": {"type": "string", "minLength": 1, "maxLength": 60}}

    def check_definition(self, field: dict[str, Any]) -> list[str]:
        pattern = field.get("pattern", "{seq:5}")
        if "{seq" not in pattern:
            return ["pattern: must contain {seq} or {seq:N}"]
        stray = AUTO_TOKEN.sub("", pattern)
        if "{" in stray or "}" in stray:
            return ["pattern: unknown token; use {YYYY} {YY} {MM} {DD} {seq:N}"]
        return []

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.String(80)

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        return {"readOnly": True}

    def parser(self, field: dict[str, Any]) -> Parser:
        return _refuse_input("numbered automatically")

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        return raw


# --- card number -----------------------------------------------------------------------------
@register
class CardNumber(FieldType):
    """A payment card number. The full number is tokenized on input (keyed HMAC) and never
    stored, logged or returned: the columns hold the token, last four digits and brand."""

    name = "card_number"
    filter_ops = EQUALITY_OPS
    sortable = False
    settings = {"brands": {"type": "array", "items": {"type": "string"}}}

    def columns(self, field: dict[str, Any]) -> list[sa.Column]:
        key = field["key"]
        return [
            sa.Column(key, sa.String(80), nullable=True, index=True),
            sa.Column(f"{key}__last4", sa.String(4), nullable=True),
            sa.Column(f"{key}__brand", sa.String(20), nullable=True),
        ]

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.String(80)

    def output_columns(self, field: dict[str, Any]) -> list[str]:
        key = field["key"]
        return [key, f"{key}__last4", f"{key}__brand"]

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": CARD_SHAPE.pattern,
            "writeOnly": True,
            "x-loom-type": "card_number",
        }

    def parser(self, field: dict[str, Any]) -> Parser:
        raise TypeError("card_number needs a tokenizing secret: use bind()")

    def bind(self, field: dict[str, Any], context: Mapping[str, Any]) -> Parser:
        from engines.form import cards

        secret: bytes = context["card_secret"]
        allowed = set(field.get("brands") or [])

        def parse(value: Any) -> dict[str, str]:
            if not isinstance(value, str) or not CARD_SHAPE.match(value):
                raise FieldProblem("must be a card number (digits, spaces or dashes)")
            try:
                pan = cards.normalize_pan(value)
            except ValueError as exc:
                raise FieldProblem(str(exc)) from None
            if not cards.luhn_valid(pan):
                raise FieldProblem("is not a valid card number (check digit)")
            token = cards.tokenize(pan, secret)
            if allowed and token.brand not in allowed:
                raise FieldProblem(f"brand {token.brand} is not accepted")
            return {"token": token.token, "last4": token.last4, "brand": token.brand}

        return parse

    def store(self, field: dict[str, Any], parsed: Any) -> dict[str, Any]:
        key = field["key"]
        if parsed is None:
            return {key: None, f"{key}__last4": None, f"{key}__brand": None}
        return {key: parsed["token"], f"{key}__last4": parsed["last4"],
                f"{key}__brand": parsed["brand"]}

    def row_to_json(self, field: dict[str, Any], row: Any) -> Any:
        key = field["key"]
        if row[key] is None:
            return None
        last4, brand = row[f"{key}__last4"], row[f"{key}__brand"]
        return {"token": row[key], "last4": last4, "brand": brand,
                "masked": f"**** **** **** {last4}"}

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        if not raw.startswith("tok_"):
            raise FieldProblem("card fields are filtered by token (tok_...)")
        return raw
