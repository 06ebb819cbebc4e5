"""The fast record validator, compiled once per entity definition.

Per-record jsonschema validation is about 10x too slow for bulk imports, so each field's
parser is a small closure built from its definition; the validator runs them in one loop.
The JSON Schema stays the published contract, and ``reference.py`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engines.form.definition import SYSTEM_COLUMNS, live_fields
from engines.form.errors import FieldProblem, Problem, RecordInvalid
from engines.form.types import field_type

_MISSING = object()


class RecordValidator:
    """Turns a JSON record (dict) into column values, or raises RecordInvalid listing
    every problem by path. ``context`` carries what some types need (``card_secret``)."""

    def __init__(self, definition: dict[str, Any], context: Mapping[str, Any] | None = None):
        context = context or {}
        self.definition = definition
        self._writable: list[tuple[str, Any, dict[str, Any], bool, Any, Any]] = []
        self._computed: set[str] = set()
        for field in live_fields(definition):
            ftype = field_type(field["type"])
            if ftype.computed:
                self._computed.add(field["key"])
                continue
            parse = ftype.bind(field, context)
            default = field.get("default", _MISSING)
            self._writable.append(
                (field["key"], parse, field, bool(field.get("required")), default, ftype,
                 len(ftype.output_columns(field)) > 1)
            )
        self._known = {w[0] for w in self._writable}
        self._removed = {f["key"] for f in definition["fields"] if f.get("removed")}

    def validate(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        """Full validation for create; ``partial`` for PATCH (only the given fields, and a
        ``version`` key passes through untouched)."""
        if not isinstance(data, dict):
            raise RecordInvalid("a record must be a JSON object",
                                [Problem("", "must be an object")])
        problems: list[Problem] = []
        extra = data.keys() - self._known  # one set operation for the common, clean case
        if extra:
            for key in data:  # in the client's order
                if key in extra and not (partial and key == "version"):
                    problems.append(Problem(key, self._unknown_reason(key, partial)))
        values: dict[str, Any] = {}
        get = data.get
        for key, parse, field, required, default, ftype, multi in self._writable:
            raw = get(key, _MISSING)
            if raw is _MISSING:
                if partial:
                    continue
                raw = default if default is not _MISSING else None
            if raw is None:
                if required:
                    problems.append(Problem(key, "is required"))
                    continue
                parsed = None
            else:
                try:
                    parsed = parse(raw)
                except FieldProblem as exc:
                    problems.append(Problem(key, exc.message))
                    problems += [Problem(f"{key}{p.path}", p.message) for p in exc.sub]
                    continue
            if multi:
                values.update(ftype.store(field, parsed))
            else:
                values[key] = parsed
        if problems:
            raise RecordInvalid(_summary(problems), problems)
        return values

    def _unknown_reason(self, key: str, partial: bool) -> str:
        if key in self._computed:
            return "is computed and cannot be written"
        if key in SYSTEM_COLUMNS:
            return "is read-only"
        if key in self._removed:
            return "was removed from this form"
        return "is not a field of this entity"

    def writable_keys(self) -> set[str]:
        return set(self._known)


def _summary(problems: list[Problem]) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    where = f"{first.path}: " if first.path else ""
    return f"{where}{first.message}{more}"
