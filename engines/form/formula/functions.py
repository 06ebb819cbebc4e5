"""The default function registry: logic/aggregates/arithmetic, text and date functions.

Listed explicitly (no module scanning), so what a formula can call is visible here.
"""

from __future__ import annotations

from engines.form.formula import fn_date, fn_math, fn_text
from engines.form.formula.registry import FunctionRegistry

DEFAULT_FUNCTIONS = FunctionRegistry([*fn_math.SPECS, *fn_text.SPECS, *fn_date.SPECS])
