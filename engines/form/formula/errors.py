"""Formula exceptions.

They join the form engine's hierarchy (``FormError``) so the web layer maps them to a 4xx
like any other definition problem, and they carry the character offset of the mistake so
the designer can draw a caret under it.
"""

from __future__ import annotations

from engines.form.errors import FormError, Problem


class FormulaError(FormError):
    """A formula is malformed, refers to something unknown, or mixes types.

    ``position`` is a 0-based character offset into ``source`` (None when the problem is
    not at one place, e.g. a cycle). ``path`` names where the formula lives in the entity
    definition (``fields[3].formula``) once the entity compiler knows it.
    """

    code = "formula_error"

    def __init__(
        self,
        message: str,
        position: int | None = None,
        *,
        source: str | None = None,
        path: str | None = None,
    ):
        super().__init__(message, [Problem(path or "", message)])
        self.position = position
        self.source = source
        self.path = path

    def at(self, path: str, source: str | None = None) -> FormulaError:
        """Attach where the formula lives; returns self so callers can ``raise err.at(..)``."""
        self.path = path
        if source is not None and self.source is None:
            self.source = source
        self.problems = [Problem(path, self.message)]
        return self

    def caret(self) -> str:
        """The formula and a ``^`` under the offending character, for plain-text output."""
        if self.source is None or self.position is None:
            return self.message
        line = self.source.replace("\n", " ").replace("\t", " ")
        return f"{line}\n{' ' * self.position}^ {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "position": self.position,
            "path": self.path,
        }

    def __str__(self) -> str:
        where = f" at position {self.position}" if self.position is not None else ""
        return f"{self.message}{where}"


class FormulaCycleError(FormulaError):
    """Formulas or conditions depend on each other in a loop.

    ``cycle`` lists the steps in dependency order (``b`` is a formula value,
    ``a.visible_if`` a condition); ``fields`` the distinct field keys involved.
    """

    code = "formula_cycle"

    def __init__(self, cycle: list[str], path: str | None = None):
        self.cycle = cycle
        self.fields = list(dict.fromkeys(step.split(".", 1)[0] for step in cycle))
        super().__init__(
            "formula cycle: " + " -> ".join([*cycle, cycle[0]]), None, path=path
        )


class FormulaEvaluationError(FormulaError):
    """A well-typed formula failed on particular values (overflow, bad date, float input)."""

    code = "formula_evaluation_error"
