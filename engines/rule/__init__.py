"""Rule engine: JSON rule definitions validated, checked against a plain-Python reference and
matched by durable_rules inside supervised worker subprocesses (the C library can crash)."""

from engines.rule.actions import action_types, register_action
from engines.rule.compile import CompiledRule, compile_rule
from engines.rule.errors import RuleDefinitionError, RuleError, RuleWorkerError
from engines.rule.model import schema_key, validate_rule
from engines.rule.reference import ReferenceEvaluator
from engines.rule.worker import MatchResult, RuleWorkerPool

__all__ = [
    "CompiledRule", "MatchResult", "ReferenceEvaluator", "RuleDefinitionError", "RuleError",
    "RuleWorkerError", "RuleWorkerPool", "action_types", "compile_rule", "register_action",
    "schema_key", "validate_rule",
]
