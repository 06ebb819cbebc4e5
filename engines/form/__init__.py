"""The form engine: field types, entity definitions, record validation, typed tables and
schema evolution. Pure: no Flask, no app_platform."""

from engines.form.ddl import Plan, apply_plan, merge_removed, plan_publish
from engines.form.definition import (
    check_definition,
    live_fields,
    output_schema,
    record_schema,
)
from engines.form.errors import DefinitionError, FormError, Problem, RecordInvalid, UnsafeChange
from engines.form.table import build_table, table_name
from engines.form.types import field_type, field_types
from engines.form.validator import RecordValidator

__all__ = [
    "DefinitionError", "FormError", "Plan", "Problem", "RecordInvalid", "RecordValidator",
    "UnsafeChange", "apply_plan", "build_table", "check_definition", "field_type",
    "field_types", "live_fields", "merge_removed", "output_schema", "plan_publish",
    "record_schema", "table_name",
]
