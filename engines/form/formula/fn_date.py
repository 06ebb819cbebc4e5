"""Date functions. Calendar questions about a datetime (which day, which month) are
answered in the evaluation context's timezone; elapsed-time questions (hours between two
moments) are answered on the absolute timeline.

datediff(start, end, unit) counts whole units from start to end (negative when end is
earlier), like Excel's DATEDIF: 2024-01-31 to 2024-02-29 is 0 months.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any

from engines.form.formula import valuetypes as vt
from engines.form.formula.context import EvalContext
from engines.form.formula.errors import FormulaEvaluationError
from engines.form.formula.fn_math import as_int
from engines.form.formula.registry import ArgInfo, ArgProblem, FunctionSpec, expect, expect_unit

DATE_UNITS = ("day", "week", "month", "year")
TIME_UNITS = ("hour", "minute", "second")
MAX_DATE_OFFSET = 10_000_000
_SECONDS = {"day": 86400, "week": 7 * 86400, "hour": 3600, "minute": 60, "second": 1}


def _same_kind_dates(args: list[ArgInfo], first: int, second: int) -> str:
    a = expect(args, first, vt.DATE, vt.DATETIME)
    b = expect(args, second, vt.DATE, vt.DATETIME)
    kind = vt.unify(a, b)
    if kind is None:
        raise ArgProblem("cannot mix a date and a datetime; both must be the same kind",
                         second)
    return kind


def _units_for(kind: str) -> tuple[str, ...]:
    return DATE_UNITS + TIME_UNITS if kind == vt.DATETIME else DATE_UNITS


def _datediff_rule(args: list[ArgInfo]) -> str:
    kind = _same_kind_dates(args, 0, 1)
    if len(args) == 3:
        expect_unit(args, 2, _units_for(kind))
    return vt.NUMBER


def _trunc_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def _whole_months(start: Any, end: Any) -> int:
    """Whole calendar months from start to end; the day (and time) must be reached."""
    months = (end.year - start.year) * 12 + end.month - start.month
    start_rest = (start.day, getattr(start, "time", lambda: dt.time())())
    end_rest = (end.day, getattr(end, "time", lambda: dt.time())())
    if months > 0 and end_rest < start_rest:
        months -= 1
    elif months < 0 and end_rest > start_rest:
        months += 1
    return months


def _datediff(ctx: EvalContext, start: Any, end: Any, unit: str = "day") -> Decimal | None:
    if start is None or end is None:
        return None
    unit = unit.lower()
    if isinstance(start, dt.datetime):
        if unit in ("month", "year"):
            months = _whole_months(ctx.local(start), ctx.local(end))
        else:
            seconds = (end - start) // dt.timedelta(seconds=1)
            return Decimal(_trunc_div(seconds, _SECONDS[unit]))
    elif unit in ("day", "week"):
        return Decimal(_trunc_div((end - start).days, 7 if unit == "week" else 1))
    else:
        months = _whole_months(start, end)
    return Decimal(months if unit == "month" else _trunc_div(months, 12))


def _dateadd_rule(args: list[ArgInfo]) -> str:
    kind = expect(args, 0, vt.DATE, vt.DATETIME)
    expect(args, 1, vt.NUMBER)
    if len(args) == 3:
        expect_unit(args, 2, _units_for(kind if kind != vt.NULL else vt.DATETIME))
    return kind if kind != vt.NULL else vt.DATE


def add_months(day: Any, months: int) -> Any:
    """Same day-of-month ``months`` later, clamped to the month's end (Jan 31 + 1 = Feb 29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise FormulaEvaluationError("date is out of range (years 1-9999)")
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def shift(ctx: EvalContext, value: Any, amount: int, unit: str) -> Any:
    """``value`` moved by ``amount`` units; datetimes move by calendar units in local time."""
    try:
        if unit in ("month", "year"):
            months = amount * (12 if unit == "year" else 1)
            if isinstance(value, dt.datetime):
                return add_months(ctx.local(value), months)
            return add_months(value, months)
        if unit in ("day", "week"):
            days = dt.timedelta(days=amount * (7 if unit == "week" else 1))
            if isinstance(value, dt.datetime):
                return ctx.local(value) + days
            return value + days
        return value + dt.timedelta(seconds=amount * _SECONDS[unit])
    except OverflowError:
        raise FormulaEvaluationError("date is out of range (years 1-9999)") from None


def _dateadd(ctx: EvalContext, value: Any, amount: Decimal | None, unit: str = "day") -> Any:
    if value is None or amount is None:
        return None
    return shift(ctx, value, as_int(amount, "dateadd() amount", MAX_DATE_OFFSET), unit.lower())


def _part_rule(args: list[ArgInfo]) -> str:
    expect(args, 0, vt.DATE, vt.DATETIME)
    return vt.NUMBER


def _part(attribute: str) -> Any:
    def get(ctx: EvalContext, value: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = ctx.local(value)
        return Decimal(getattr(value, attribute))

    return get


def _date_rule(args: list[ArgInfo]) -> str:
    for index in range(3):
        expect(args, index, vt.NUMBER)
    return vt.DATE


def _date(ctx: EvalContext, year: Any, month: Any, day: Any) -> dt.date | None:
    if year is None or month is None or day is None:
        return None
    parts = [as_int(v, name, 9999) for v, name in ((year, "year"), (month, "month"),
                                                    (day, "day"))]
    try:
        return dt.date(*parts)
    except ValueError as err:
        raise FormulaEvaluationError(f"date({', '.join(map(str, parts))}): {err}") from None


SPECS = [
    FunctionSpec("today", 0, 0, lambda args: vt.DATE, lambda ctx: ctx.today(),
                 "today(): the current date in the app's timezone"),
    FunctionSpec("now", 0, 0, lambda args: vt.DATETIME, lambda ctx: ctx.now(),
                 "now(): the current moment"),
    FunctionSpec("datediff", 2, 3, _datediff_rule, _datediff,
                 "datediff(start, end, 'day'|'week'|'month'|'year'): whole units from start "
                 "to end; also 'hour'|'minute'|'second' for datetimes"),
    FunctionSpec("dateadd", 2, 3, _dateadd_rule, _dateadd,
                 "dateadd(d, n, 'day'|'week'|'month'|'year'): d moved by n units; month ends "
                 "are clamped"),
    FunctionSpec("year", 1, 1, _part_rule, _part("year"), "year(d): the year number"),
    FunctionSpec("month", 1, 1, _part_rule, _part("month"), "month(d): 1-12"),
    FunctionSpec("day", 1, 1, _part_rule, _part("day"), "day(d): day of the month"),
    FunctionSpec("date", 3, 3, _date_rule, _date, "date(year, month, day): a date"),
]
