"""What a formula may know about the world besides the record: the time and the timezone.

Passing the clock in (rather than calling datetime.now inside functions) keeps formulas
repeatable in tests and lets the platform evaluate "as of" a given moment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from engines.form.formula.errors import FormulaEvaluationError


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class EvalContext:
    """``clock`` returns an aware datetime; ``timezone`` decides what "today" is and which
    calendar day a datetime falls on (year(), month(), day(), datediff in months)."""

    clock: Callable[[], dt.datetime] = field(default=utc_now)
    timezone: dt.tzinfo = dt.UTC

    def now(self) -> dt.datetime:
        moment = self.clock()
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise FormulaEvaluationError("the evaluation clock returned a naive datetime")
        return moment

    def today(self) -> dt.date:
        return self.now().astimezone(self.timezone).date()

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.timezone)


DEFAULT_CONTEXT = EvalContext()
