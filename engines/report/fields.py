"""Which fields a report may use, and what each field type allows.

Entity definitions list only user fields; every table also has system columns (``id``,
``created_at`` ...) that reports commonly group by, so they are added here. A field path is
either a field key or ``relation_key.target_field`` (one hop through a relation field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SYSTEM_FIELDS: tuple[dict, ...] = (
    {"key": "id", "label": "ID", "type": "number", "scale": 0},
    {"key": "version", "label": "版本", "type": "number", "scale": 0},
    {"key": "created_at", "label": "创建时间", "type": "datetime"},
    {"key": "created_by", "label": "创建人", "type": "user"},
    {"key": "updated_at", "label": "更新时间", "type": "datetime"},
    {"key": "updated_by", "label": "更新人", "type": "user"},
)

NUMERIC_TYPES = frozenset({"number", "money", "percent"})
TEMPORAL_TYPES = frozenset({"date", "datetime"})
ORDERED_TYPES = NUMERIC_TYPES | TEMPORAL_TYPES
TEXT_TYPES = frozenset(
    {"text", "textarea", "select", "email", "phone", "url", "auto_number", "user"}
)
# Types whose column cannot be grouped meaningfully, or must not be (card numbers are PANs).
NOT_GROUPABLE_TYPES = frozenset({"multiselect", "subtable", "attachment", "card_number"})
NOT_AGGREGATABLE_TYPES = frozenset({"subtable", "attachment"})


@dataclass(frozen=True)
class FieldRef:
    """A resolved field path: its definition and, for ``rel.field``, the relation hop."""

    path: str
    definition: Mapping
    entity_key: str
    relation: str | None = None

    @property
    def type(self) -> str:
        """The effective type; formulas report the type of their result."""
        field_type = self.definition.get("type", "text")
        if field_type == "formula":
            return self.definition.get("result_type", "text")
        return field_type

    @property
    def key(self) -> str:
        return self.definition["key"]

    @property
    def label(self) -> str:
        return self.definition.get("label") or self.path

    @property
    def hidden(self) -> bool:
        return bool(self.definition.get("hidden"))

    @property
    def scale(self) -> int:
        """Decimal places: money defaults to 2 (fen), percent to 2, plain numbers to 0."""
        default = 2 if self.type in ("money", "percent") else 0
        return int(self.definition.get("scale", default))


def entity_fields(entity_def: Mapping) -> dict[str, Mapping]:
    """Field definitions by key, system fields included (user fields win on a clash)."""
    fields: dict[str, Mapping] = {f["key"]: f for f in SYSTEM_FIELDS}
    for field in entity_def.get("fields", []):
        fields[field["key"]] = field
    return fields


class FieldNotFound(LookupError):
    """The path names no field; the message says which part is wrong."""


def resolve_field(
    path: str, entity_def: Mapping, entities: Mapping[str, Mapping] | None = None
) -> FieldRef:
    """Resolve ``field`` or ``relation.field`` against the entity (and its relation targets)."""
    fields = entity_fields(entity_def)
    head, _, rest = path.partition(".")
    if head not in fields:
        raise FieldNotFound(f"unknown field '{head}' in entity '{entity_def.get('key')}'")
    if not rest:
        return FieldRef(path, fields[head], entity_def.get("key", ""))
    relation = fields[head]
    if relation.get("type") != "relation":
        raise FieldNotFound(f"'{head}' is not a relation field, so '{path}' cannot be followed")
    target_key = relation.get("target")
    target_def = (entities or {}).get(target_key)
    if target_def is None:
        raise FieldNotFound(f"relation '{head}' targets unknown entity '{target_key}'")
    target_fields = entity_fields(target_def)
    if "." in rest or rest not in target_fields:
        raise FieldNotFound(f"unknown field '{rest}' in entity '{target_key}'")
    return FieldRef(path, target_fields[rest], target_key, relation=head)
