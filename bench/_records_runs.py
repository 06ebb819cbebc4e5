"""The measured paths of bench/records.py, each on the database of the current Flask app:
(a) raw Core executemany, (b) bare jsonschema, (c) RecordService.create_many, (d) the list
page query through the service and as hand-written SQL. Each returns plain figures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import sqlalchemy as sa
from flask import current_app
from werkzeug.datastructures import MultiDict

from app_platform.auth.identity import Caller
from app_platform.extensions import db
from app_platform.models import App, Entity, utcnow
from app_platform.services.entities import entity_table
from app_platform.services.records import RecordService
from bench._common import median_ms
from bench._records_data import TXN, generate, with_system_columns
from engines.form import RecordValidator, build_table, record_schema


@dataclass
class Timing:
    """Wall seconds, and this process's CPU seconds: on a shared machine the wall clock
    also counts waiting for a core, the CPU time does not (a database server's work,
    PostgreSQL's, is only in the wall time)."""

    rows: int
    seconds: float
    batch_ms: list[float] = field(default_factory=list)
    cpu: float = 0.0

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


def floor_insert(definition: dict[str, Any], columns: list[dict[str, Any]], batch: int,
                 user: str) -> tuple[Timing, sa.Table]:
    """(a) Core executemany into a twin of the entity table (same columns and indexes),
    one transaction per batch like the service."""
    table = build_table(definition, "x_bench__floor", sa.MetaData())
    with db.engine.begin() as conn:
        table.create(conn)
    timing = Timing(len(columns), 0.0)
    insert = table.insert()
    cpu = time.process_time()
    for start in range(0, len(columns), batch):
        began = time.perf_counter()
        now = utcnow()
        rows = [with_system_columns(c, now, user) for c in columns[start:start + batch]]
        with db.engine.begin() as conn:
            conn.execute(insert, rows)
        timing.batch_ms.append((time.perf_counter() - began) * 1000)
    timing.seconds, timing.cpu = sum(timing.batch_ms) / 1000, time.process_time() - cpu
    return timing, table


def bare_jsonschema(definition: dict[str, Any], documents: list[dict[str, Any]]) -> Timing:
    """(b) The published record schema, compiled once, over every document. Formats are
    not asserted (the jsonschema default), so this is the cheapest honest reading of it."""
    schema = record_schema(definition)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    began, cpu = time.perf_counter(), time.process_time()
    invalid = sum(1 for doc in documents if not validator.is_valid(doc))
    timing = Timing(len(documents), time.perf_counter() - began,
                    cpu=time.process_time() - cpu)
    if invalid:
        raise AssertionError(f"{invalid} generated documents fail the published schema")
    return timing


def fast_validator(definition: dict[str, Any], documents: list[dict[str, Any]],
                   secret: bytes) -> Timing:
    """(v) engines.form.RecordValidator alone: the share of (c) that is validation."""
    validator = RecordValidator(definition, {"card_secret": secret})
    began, cpu = time.perf_counter(), time.process_time()
    for doc in documents:
        validator.validate(doc)
    return Timing(len(documents), time.perf_counter() - began, cpu=time.process_time() - cpu)


def service_create(caller: Caller, app: App, entity: Entity, documents: list[dict[str, Any]],
                   batch: int) -> Timing:
    """(c) What an importer does per chunk: a RecordService, then create_many (full
    validation, reference checks, RETURNING, audit rows, commit)."""
    timing = Timing(len(documents), 0.0)
    cpu = time.process_time()
    for start in range(0, len(documents), batch):
        began = time.perf_counter()
        service = RecordService(db.session, caller, app, entity)
        service.create_many(documents[start:start + batch], source="import")
        timing.batch_ms.append((time.perf_counter() - began) * 1000)
    timing.seconds, timing.cpu = sum(timing.batch_ms) / 1000, time.process_time() - cpu
    return timing


def compare_stored(floor: sa.Table, entity: Entity, count: int) -> int:
    """Row-by-row equality of the 15 field columns the floor and the service stored for the
    same documents (matched by order_no). Returns the number of rows compared."""
    service_table = entity_table(entity)
    keys = [f["key"] for f in TXN["fields"]]
    with db.engine.connect() as conn:
        def load(table: sa.Table) -> dict[str, tuple]:
            rows = conn.execute(sa.select(*[table.c[k] for k in keys])).all()
            return {row[0]: tuple(row) for row in rows}

        expected, stored = load(floor), load(service_table)
    missing = [k for k in expected if k not in stored]
    differing = [k for k in expected if k in stored and stored[k] != expected[k]]
    if missing or differing or len(expected) != count:
        sample = differing[:1]
        raise AssertionError(f"floor and service disagree: {len(missing)} missing, "
                             f"{len(differing)} differ, e.g. {sample and expected[sample[0]]} "
                             f"vs {sample and stored[sample[0]]}")
    return len(expected)


def bulk_load(entity: Entity, total: int, *, seed: int, branch_ids: list[int],
              usernames: list[str], chunk: int = 20_000) -> tuple[int, float]:
    """Top the entity table up to ``total`` rows with Core executemany (not the service:
    a million audited creates would dominate the run)."""
    table = entity_table(entity)
    began = time.perf_counter()
    with db.engine.connect() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    wanted = max(0, total - have)
    now, rows = utcnow(), []
    insert = table.insert()
    for _, columns in generate(wanted, seed=seed, first=10**10, branch_ids=branch_ids,
                               usernames=usernames):
        rows.append(with_system_columns(columns, now, "loader"))
        if len(rows) == chunk:
            with db.engine.begin() as conn:
                conn.execute(insert, rows)
            rows = []
    if rows:
        with db.engine.begin() as conn:
            conn.execute(insert, rows)
    return wanted, time.perf_counter() - began


def refresh_statistics(entity: Entity) -> float:
    """Planner statistics, and on PostgreSQL the visibility map too (index-only scans), as
    autovacuum sets them on a table in use. On SQLite this is the platform's own refresh
    (``app_platform.db.refresh_statistics``: ANALYZE), which runs after every import job and
    hourly in the scheduler; the bench's Core load bypasses both, so it calls it here.
    SQLite reads the statistics when a connection loads the schema, hence the pool is
    emptied."""
    name = entity_table(entity).name
    began = time.perf_counter()
    if db.engine.dialect.name == "postgresql":  # VACUUM refuses to run in a transaction
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'VACUUM ANALYZE "{name}"'))
    else:
        from app_platform.db import refresh_statistics as platform_refresh

        with db.engine.begin() as conn:
            platform_refresh(conn)
    db.engine.dispose()
    return time.perf_counter() - began


PAGE_ARGS = [("status", "pending"), ("sort", "-txn_at"), ("limit", "50")]


@dataclass
class PageFigures:
    service: tuple[float, float]  # the default list: total exact up to COUNT_CAP
    service_exact: tuple[float, float]  # count=exact: the full count every time
    raw_page_and_count: tuple[float, float]
    raw_page: tuple[float, float]
    raw_count: tuple[float, float]
    raw_page_inlined_limit: tuple[float, float]
    total: int
    plans: dict[str, list[str]]


def page_query(caller: Caller, app: App, entity: Entity, repeat: int) -> PageFigures:
    """(d) status=pending sorted by -txn_at, 50 rows, with the total, as a request runs it
    (a RecordService per call, the read transaction ended after it) and as plain SQL."""
    args = MultiDict(PAGE_ARGS)
    exact_args = MultiDict([*PAGE_ARGS, ("count", "exact")])
    name = entity_table(entity).name
    # the statement the service sends: LIMIT and OFFSET are bound parameters
    page_sql = sa.text(f'SELECT * FROM "{name}" WHERE status = :status '
                       "ORDER BY txn_at DESC, id ASC LIMIT :limit OFFSET :offset")
    # the same with LIMIT written into the SQL: SQLite then plans for a known small limit
    inlined_sql = sa.text(f'SELECT * FROM "{name}" WHERE status = :status '
                          "ORDER BY txn_at DESC, id ASC LIMIT 50")
    count_sql = sa.text(f'SELECT count(*) FROM "{name}" WHERE status = :status')
    params = {"status": "pending", "limit": 50, "offset": 0}

    def via_service(query: MultiDict = args) -> dict[str, Any]:
        result = RecordService(db.session, caller, app, entity).list(query, query.getlist)
        db.session.commit()  # ends the read transaction; objects stay loaded
        return result

    def raw(page: bool = True, count: bool = True, sql: sa.TextClause = page_sql
            ) -> tuple[list[int], int | None]:
        with db.engine.connect() as conn:
            ids = [r.id for r in conn.execute(sql, params)] if page else []
            total = conn.execute(count_sql, params).scalar_one() if count else None
        return ids, total

    served, exact, (ids, total) = via_service(), via_service(exact_args), raw()
    cap = current_app.config["COUNT_CAP"]
    if [item["id"] for item in served["items"]] != ids or exact["total"] != total or \
            (served["total"], served["total_exact"]) != (min(total, cap), total <= cap):
        raise AssertionError("the service page differs from the hand-written SQL page")
    return PageFigures(
        service=median_ms(via_service, repeat),
        service_exact=median_ms(lambda: via_service(exact_args), repeat),
        raw_page_and_count=median_ms(raw, repeat),
        raw_page=median_ms(lambda: raw(count=False), repeat),
        raw_count=median_ms(lambda: raw(page=False), repeat),
        raw_page_inlined_limit=median_ms(lambda: raw(count=False, sql=inlined_sql),
                                         max(3, repeat // 5)),
        total=int(total or 0),
        plans={"page": query_plan(page_sql, params), "count": query_plan(count_sql, params),
               "page, LIMIT 50 inlined": query_plan(inlined_sql, params)},
    )


def query_plan(statement: sa.TextClause, params: dict[str, Any]) -> list[str]:
    """The planner's choice, one line per step (to see which index it used)."""
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text(prefix + statement.text), params).all()
    return [" ".join(str(c) for c in row[-1:]) for row in rows]
