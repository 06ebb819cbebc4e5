"""Field types. Importing this package registers every built-in type."""

from engines.form.types import computed, scalars, structured  # noqa: F401  (registration)
from engines.form.types.base import (
    FieldType,
    field_type,
    field_types,
    has_field_type,
    register,
)

__all__ = ["FieldType", "field_type", "field_types", "has_field_type", "register"]
