"""Schema evolution: plan what publishing a changed definition does to the table, then
apply only safe changes.

Safe: add a column, add an index, widen a column (longer text, whole number -> decimal),
hide a removed field (its column and data stay), and convert a column's type when every
stored value converts (checked first, row by row). Anything else is refused with the reason
and the offending values, before anything is touched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from engines.form.errors import FieldProblem, Problem, UnsafeChange
from engines.form.table import build_table, field_indexes, index_name
from engines.form.types import field_type

JSON_KINDS = {"multiselect", "subtable", "attachment"}
STRING_KINDS = {"text", "textarea", "email", "phone", "url", "user", "select", "auto_number"}


@dataclass
class Step:
    kind: str  # create_table | add_column | add_index | drop_index | widen | convert | hide
    field: str
    detail: str
    unique: bool = False  # for index steps

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "field": self.field, "detail": self.detail}


@dataclass
class Plan:
    table: str
    definition: dict[str, Any]
    steps: list[Step] = field(default_factory=list)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.kind] = counts.get(step.kind, 0) + 1
        words = {
            "create_table": "creates the table", "add_column": "adds {n} column(s)",
            "add_index": "adds {n} index(es)", "drop_index": "drops {n} index(es)",
            "widen": "widens {n} column(s)", "convert": "converts {n} column(s)",
            "hide": "hides {n} field(s)", "restore": "restores {n} field(s)",
        }
        parts = [words[k].format(n=n) for k, n in counts.items()]
        return ", ".join(parts) if parts else "no schema change"

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "steps": [s.as_dict() for s in self.steps]}


def merge_removed(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Fields the new definition dropped come back marked ``removed``: their columns and
    data stay, and their keys cannot be reused for another type by accident."""
    merged = copy.deepcopy(new)
    if old is None:
        return merged
    present = {f["key"] for f in merged["fields"]}
    for old_field in old["fields"]:
        if old_field["key"] not in present:
            merged["fields"].append({**old_field, "removed": True})
    return merged


def plan_publish(
    conn: sa.Connection, table: str, old: dict[str, Any] | None, new: dict[str, Any]
) -> Plan:
    """Work out the steps; raise UnsafeChange (nothing touched) when one is not safe."""
    new = merge_removed(old, new)
    plan = Plan(table=table, definition=new)
    if old is None:
        plan.steps.append(Step("create_table", "", f"create table {table}"))
        return plan
    old_fields = {f["key"]: f for f in old["fields"]}
    problems: list[Problem] = []
    for i, new_field in enumerate(new["fields"]):
        key = new_field["key"]
        before = old_fields.get(key)
        if before is None:
            plan.steps.append(Step("add_column", key, f"add {new_field['type']} column {key}"))
        else:
            problems += _plan_change(conn, table, before, new_field, plan, f"fields[{i}]")
        if new_field.get("removed") and not (before or {}).get("removed"):
            plan.steps.append(Step("hide", key, f"hide {key}; its data is kept"))
        if before is not None and before.get("removed") and not new_field.get("removed"):
            plan.steps.append(Step("restore", key, f"show {key} again with its data"))
        old_ix = set(field_indexes(before)) if before else set()
        for column, unique in field_indexes(new_field):
            if (column, unique) in old_ix:
                continue
            if unique and before is not None:
                problems += _check_unique(conn, table, column, f"fields[{i}]")
            plan.steps.append(Step("add_index", column, ("unique " if unique else "") +
                                   f"index on {column}", unique))
        for column, unique in old_ix - set(field_indexes(new_field)):
            plan.steps.append(Step("drop_index", column, f"drop index on {column}", unique))
    if problems:
        raise UnsafeChange("this change would lose or corrupt data; nothing was changed",
                           problems)
    return plan


def _plan_change(conn: sa.Connection, table: str, old: dict[str, Any], new: dict[str, Any],
                 plan: Plan, path: str) -> list[Problem]:
    old_kind, new_kind = old["type"], new["type"]
    old_type = field_type(old_kind).column_type(old)
    new_type = field_type(new_kind).column_type(new)
    key = new["key"]
    if old_kind == "money" or new_kind == "money":
        if old_kind == new_kind and old.get("scale", 2) == new.get("scale", 2):
            return []
        return [Problem(f"{path}.type", "money fields cannot change type or scale (amounts "
                        "are stored in minor units); add a new field instead")]
    if old_kind == new_kind and _same_type(old_type, new_type):
        return []
    if {old_kind, new_kind} & (JSON_KINDS | {"card_number", "formula"}) or (
            old.get("many") != new.get("many")):
        return [Problem(f"{path}.type", f"changing {key} from {old_kind} to {new_kind} is not "
                        "supported; add a new field instead")]
    if _is_widening(old_type, new_type) and _values_fit(conn, table, old, new) == []:
        plan.steps.append(Step("widen", key, f"widen {key} to {new_type}"))
        return []
    bad = _values_fit(conn, table, old, new)
    if bad:
        shown = "; ".join(f"record {rid}: {val!r} ({msg})" for rid, val, msg in bad[:5])
        return [Problem(f"{path}.type", f"{len(bad)}+ stored value(s) of {key} do not convert "
                        f"from {old_kind} to {new_kind}: {shown}")]
    plan.steps.append(Step("convert", key, f"convert {key} from {old_kind} to {new_kind}"))
    return []


def _same_type(a: sa.types.TypeEngine, b: sa.types.TypeEngine) -> bool:
    return repr(a) == repr(b)


def _is_widening(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> bool:
    if isinstance(old, sa.String) and isinstance(new, sa.String):
        return new.length is None or (old.length is not None and new.length >= old.length)
    if isinstance(old, sa.BigInteger | sa.Integer) and isinstance(new, sa.Numeric) and not \
            isinstance(new, sa.Integer):
        return True
    if isinstance(old, sa.Numeric) and isinstance(new, sa.Numeric) and not isinstance(
            old, sa.Integer) and not isinstance(new, sa.Integer):
        return (new.scale or 0) >= (old.scale or 0)
    return False


def _values_fit(conn: sa.Connection, table: str, old: dict[str, Any],
                new: dict[str, Any], limit: int = 20) -> list[tuple[int, Any, str]]:
    """Stored values of ``old`` that the ``new`` field would not accept (first ``limit``)."""
    key = new["key"]
    new_type = field_type(new["type"])
    source = sa.table(table, sa.column("id"), sa.column(key))
    rows = conn.execute(sa.select(source.c.id, source.c[key]).where(
        source.c[key].is_not(None)).order_by(source.c.id)).yield_per(1000)
    bad = []
    for rid, value in rows:
        try:
            converted = new_type.filter_value(new, _as_text(value))
            if new["type"] in STRING_KINDS and new_type.name != "select":
                new_type.parser(new)(_as_text(value))
            del converted
        except FieldProblem as exc:
            bad.append((rid, value, exc.message))
            if len(bad) >= limit:
                break
    return bad


def _as_text(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_unique(conn: sa.Connection, table: str, column: str, path: str) -> list[Problem]:
    source = sa.table(table, sa.column(column))
    dupes = conn.execute(
        sa.select(source.c[column], sa.func.count()).where(source.c[column].is_not(None))
        .group_by(source.c[column]).having(sa.func.count() > 1).limit(5)
    ).all()
    if not dupes:
        return []
    shown = ", ".join(f"{v!r} x{n}" for v, n in dupes)
    return [Problem(f"{path}.unique", f"{column} has duplicate values: {shown}")]


def apply_plan(conn: sa.Connection, plan: Plan, old: dict[str, Any] | None) -> sa.Table:
    """Run the plan's DDL inside the caller's transaction (PostgreSQL DDL is transactional;
    on SQLite the steps are simple enough that each one either applies or fails cleanly)."""
    new_table = build_table(plan.definition, plan.table, sa.MetaData())
    if old is None:
        new_table.create(conn)
        return new_table
    ops = Operations(MigrationContext.configure(conn))
    new_fields = {f["key"]: f for f in plan.definition["fields"]}
    old_fields = {f["key"]: f for f in old["fields"]}
    for step in plan.steps:
        if step.kind == "add_column":
            for column in field_type(new_fields[step.field]["type"]).columns(
                    new_fields[step.field]):
                column.index = None
                ops.add_column(plan.table, column)
        elif step.kind == "drop_index":
            ops.drop_index(index_name(plan.table, step.field, step.unique),
                           table_name=plan.table)
        elif step.kind == "widen" and conn.dialect.name != "sqlite":
            ops.alter_column(plan.table, step.field,
                             type_=new_table.c[step.field].type,
                             existing_type=build_table(old, plan.table, sa.MetaData())
                             .c[step.field].type)
        elif step.kind == "convert":
            _convert_column(conn, ops, plan, old_fields[step.field], new_fields[step.field],
                            new_table)
    for step in plan.steps:
        if step.kind == "add_index":
            ops.create_index(index_name(plan.table, step.field, step.unique), plan.table,
                             [step.field], unique=step.unique)
    return new_table


def _convert_column(conn: sa.Connection, ops: Operations, plan: Plan, old: dict[str, Any],
                    new: dict[str, Any], new_table: sa.Table) -> None:
    """Copy through a temporary column: the same steps on SQLite and PostgreSQL, and every
    value goes through the new field type's own parser (the data check already passed)."""
    key, temp = new["key"], f"{new['key']}__new"
    for column, unique in field_indexes(old):
        ops.drop_index(index_name(plan.table, column, unique), table_name=plan.table)
    ops.add_column(plan.table, sa.Column(temp, new_table.c[key].type))
    source = sa.table(plan.table, sa.column("id"), sa.column(key), sa.column(temp))
    kind = field_type(new["type"])
    rows = conn.execute(sa.select(source.c.id, source.c[key]).where(
        source.c[key].is_not(None))).all()
    if rows:
        conn.execute(
            source.update().where(source.c.id == sa.bindparam("rid"))
            .values({temp: sa.bindparam("val")}),
            [{"rid": rid, "val": kind.filter_value(new, _as_text(v))} for rid, v in rows],
        )
    conn.execute(sa.text(f'ALTER TABLE "{plan.table}" DROP COLUMN "{key}"'))
    conn.execute(sa.text(f'ALTER TABLE "{plan.table}" RENAME COLUMN "{temp}" TO "{key}"'))
    for column, unique in field_indexes(new):
        if column == key and (column, unique) in set(field_indexes(old)):
            ops.create_index(index_name(plan.table, column, unique), plan.table, [column],
                             unique=unique)
