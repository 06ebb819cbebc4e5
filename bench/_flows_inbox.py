"""(d) of bench/flows.py: the task inbox over a loaded database. Open tasks (and some
done ones) are bulk-loaded with Core executemany, spread over users and role pools the
way a busy approval system spreads them; then ``flow_inbox.inbox`` (todo view, a page of
50, the total and the navigation counts) is timed next to the same answer in plain SQL.

The loader works out each user's todo total from what it generated (no database), and
the measurement checks the service and the plain SQL both return it.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app_platform.auth.identity import Caller
from app_platform.extensions import db
from app_platform.models import Role, User, utcnow
from app_platform.models.flows import FlowCC, FlowInstance, FlowTask, FlowTaskCandidate
from app_platform.services import flow_inbox
from app_platform.services.users import create_user
from bench._common import median_ms

PAGE = 50
NODES = [("risk", "风险审查"), ("finance", "财务总监审批"), ("board", "贷审会审批"),
         ("dept_manager", "部门经理审核"), ("countersign", "联合会签")]
PERMISSIONS = [[], [{"key": "risk_level", "access": "edit", "required": True},
                    {"key": "amount", "access": "read"}]]


@dataclass
class InboxLoad:
    """What was loaded, and each user's todo total worked out from the generated rows."""

    open_tasks: int
    done_tasks: int
    instances: int
    seconds: float
    users: list[str]
    roles_of: dict[str, list[str]]
    pools: list[str]
    expected_todo: dict[str, int] = field(default_factory=dict)


@dataclass
class InboxFigures:
    users: list[str]
    service: tuple[float, float]  # (median, p90) ms
    raw_page_total: tuple[float, float]
    raw_same_work: tuple[float, float]
    totals: dict[str, int]


def _people(users: int, roles: int) -> tuple[list[str], dict[str, list[str]]]:
    """Users clerk000.. with two pool roles each (pool00..): real user and role rows."""
    session = db.session
    pools = [f"pool{r:02d}" for r in range(roles)]
    session.add_all([Role(key=p, name=f"审批池{p[4:]}", builtin=False) for p in pools])
    session.flush()
    names = [f"clerk{u:03d}" for u in range(users)]
    roles_of = {name: sorted({pools[u % roles], pools[(u * 7 + 3) % roles]})
                for u, name in enumerate(names)}
    for name in names:
        create_user(session, {"username": name, "password": "bench-password-1",
                              "roles": ["member", *roles_of[name]]}, commit=False)
    session.commit()
    return names, roles_of


def load_inbox(app_id: int, definition_id: int, state: str, *, open_tasks: int,
               done_tasks: int, per_instance: int, users: int, roles: int,
               seed: int, chunk: int = 10_000) -> InboxLoad:
    """Instances (each with ``state``, a real engine state) holding ``per_instance``
    tasks each; open tasks: 65% assigned (5% of them delegated on), 35% offered to a role
    pool (a fifth also to one user); ``done_tasks`` more, completed by random users."""
    began = time.perf_counter()
    names, roles_of = _people(users, roles)
    pools = sorted({r for rs in roles_of.values() for r in rs})
    rng = random.Random(seed)
    now = utcnow()
    total = open_tasks + done_tasks
    instance_count = -(-total // per_instance)
    inst_t, task_t = FlowInstance.__table__, FlowTask.__table__
    cand_t = FlowTaskCandidate.__table__
    with db.engine.connect() as conn:
        first_instance = (conn.execute(sa.select(sa.func.max(inst_t.c.id))).scalar() or 0) + 1
        first_task = (conn.execute(sa.select(sa.func.max(task_t.c.id))).scalar() or 0) + 1
    instances = [{"id": first_instance + i, "app_id": app_id, "definition_id": definition_id,
                  "process_key": "credit_bench", "process_version": 1,
                  "entity_key": "application", "record_id": 10**9 + i, "state": state,
                  "status": "running", "initiator": rng.choice(names),
                  "priority": 0, "lock_version": 2,
                  "created_at": now - dt.timedelta(minutes=rng.randrange(86_400)),
                  "updated_at": now} for i in range(instance_count)]
    _insert(inst_t, instances, chunk)
    holders: dict[str, set[int]] = {name: set() for name in names}
    members = {pool: [n for n in names if pool in roles_of[n]] for pool in pools}
    tasks, candidates = [], []
    for i in range(total):
        task_id, done = first_task + i, i >= open_tasks
        node, name = rng.choice(NODES)
        created = now - dt.timedelta(minutes=rng.randrange(86_400))
        row = {"id": task_id, "instance_id": first_instance + i // per_instance,
               "engine_task_id": str(uuid.UUID(int=rng.getrandbits(128))), "attempt": 1,
               "node_id": node, "name": name, "assignee": None, "state": "open",
               "signer_of": None, "signer_position": None, "action": None, "comment": None,
               "due_at": created + dt.timedelta(days=3),
               "priority": rng.choices([0, 1, 2], [80, 15, 5])[0], "claimed_by": None,
               "delegated_from": None, "delegated_until": None, "urge_count": 0,
               "field_permissions": PERMISSIONS[node == "risk"], "submit": False,
               "completed_by": None, "created_at": created, "completed_at": None}
        if done:
            row.update(state="done", action="approve", assignee=rng.choice(names),
                       completed_by=rng.choice(names),
                       completed_at=created + dt.timedelta(hours=rng.randrange(1, 48)))
        elif rng.random() < 0.65:
            row["assignee"] = rng.choice(names)
            holders[row["assignee"]].add(task_id)
            if rng.random() < 0.05:  # delegated on: the delegate and the delegator see it
                row["delegated_from"] = rng.choice(names)
                row["delegated_until"] = now + dt.timedelta(days=7)
                holders[row["delegated_from"]].add(task_id)
        else:
            pool = rng.choice(pools)
            candidates.append({"task_id": task_id, "kind": "role", "value": pool})
            for who in members[pool]:
                holders[who].add(task_id)
            if rng.random() < 0.2:
                user = rng.choice(names)
                candidates.append({"task_id": task_id, "kind": "user", "value": user})
                holders[user].add(task_id)
        tasks.append(row)
        if len(tasks) == chunk:
            _insert(task_t, tasks, chunk)
            tasks = []
    _insert(task_t, tasks, chunk)
    _insert(cand_t, candidates, chunk)
    return InboxLoad(open_tasks, done_tasks, instance_count, time.perf_counter() - began,
                     names, roles_of, pools, {name: len(ids) for name, ids in holders.items()})


def _insert(table: sa.Table, rows: list[dict[str, Any]], chunk: int) -> None:
    for start in range(0, len(rows), chunk):
        with db.engine.begin() as conn:
            conn.execute(table.insert(), rows[start:start + chunk])


def refresh_statistics() -> None:
    """Planner statistics for the inbox tables (ANALYZE on either backend)."""
    names = [t.__tablename__ for t in (FlowTask, FlowTaskCandidate, FlowInstance, FlowCC)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE " + ", ".join(names)))
        else:
            conn.execute(sa.text("ANALYZE"))


# -- the measured queries ---------------------------------------------------------------
TODO_IDS = """
    SELECT id FROM flow_tasks WHERE assignee = :me AND state = 'open'
      AND (delegated_from IS NULL OR delegated_until IS NULL OR delegated_until > :now)
    UNION SELECT id FROM flow_tasks WHERE delegated_from = :me AND state = 'open'
    UNION SELECT c.task_id FROM flow_task_candidates c JOIN flow_tasks t ON t.id = c.task_id
      WHERE ((c.kind = 'user' AND c.value = :me) OR (c.kind = 'role' AND c.value IN :roles))
        AND t.assignee IS NULL AND t.state = 'open'"""
TASK_COLUMNS = ", ".join(c.name for c in FlowTask.__table__.columns)


def _sql(text: str) -> sa.TextClause:
    """Plain SQL with the two bound values typed as the columns are (SQLite stores the
    aware datetime as the platform writes it; the roles list expands to IN (...))."""
    return sa.text(text).bindparams(
        sa.bindparam("now", type_=FlowTask.__table__.c.delegated_until.type),
        sa.bindparam("roles", expanding=True))


RAW_PAGE = _sql(f"SELECT {TASK_COLUMNS} FROM flow_tasks WHERE id IN ({TODO_IDS}) "
                f"ORDER BY priority DESC, id DESC LIMIT {PAGE}")
RAW_TOTAL = _sql(f"SELECT count(*) FROM ({TODO_IDS}) AS todo")
RAW_DONE = sa.text("SELECT count(*) FROM flow_tasks WHERE completed_by = :me AND state = 'done'")
RAW_STARTED = sa.text("SELECT count(*) FROM flow_instances WHERE initiator = :me")
RAW_CC = sa.text("SELECT count(*) FROM flow_cc WHERE username = :me")


def raw_page_total(conn: sa.Connection, me: str, roles: list[str],
                   now: dt.datetime) -> tuple[list[Any], int]:
    """The floor: the page's task rows and the todo total, nothing else."""
    params = {"me": me, "roles": roles or [""], "now": now}
    rows = conn.execute(RAW_PAGE, params).all()
    return rows, int(conn.execute(RAW_TOTAL, params).scalar_one())


def raw_same_work(conn: sa.Connection, me: str, roles: list[str], now: dt.datetime) -> int:
    """What the service answers, hand-written: page + total, the page's instances and
    candidates, and the three other navigation counts (todo's is the total)."""
    rows, total = raw_page_total(conn, me, roles, now)
    instance_ids = sorted({r.instance_id for r in rows}) or [0]
    task_ids = [r.id for r in rows] or [0]
    conn.execute(sa.text("SELECT * FROM flow_instances WHERE id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)), {"ids": instance_ids}).all()
    conn.execute(sa.text("SELECT task_id, kind, value FROM flow_task_candidates "
                         "WHERE task_id IN :ids ORDER BY value").bindparams(
        sa.bindparam("ids", expanding=True)), {"ids": task_ids}).all()
    for stmt in (RAW_DONE, RAW_STARTED, RAW_CC):
        conn.execute(stmt, {"me": me}).scalar_one()
    return total


def measure_inbox(load: InboxLoad, repeat: int, sample_users: int = 10) -> InboxFigures:
    """Median and p90 over ``repeat`` calls, rotating over ``sample_users`` users (a
    fresh session per call, as per request), after checking every path's totals."""
    users = load.users[:: max(1, len(load.users) // sample_users)][:sample_users]
    callers = {}
    for name in users:
        user = db.session.scalars(sa.select(User).where(User.username == name)).one()
        callers[name] = Caller(user=user, scopes=["*"], via="token")
        callers[name].roles  # noqa: B018 - load the roles before the session closes
    db.session.close()
    now = utcnow()
    totals: dict[str, int] = {}
    with db.engine.connect() as conn:
        for name, caller in callers.items():
            page = flow_inbox.inbox(db.session, caller, "todo", PAGE, 0, now)
            db.session.close()
            rows, raw_total = raw_page_total(conn, name, sorted(caller.roles), now)
            expected = load.expected_todo[name]
            if not page["total"] == raw_total == expected or \
                    [t["id"] for t in page["items"]] != [r.id for r in rows]:
                raise AssertionError(f"{name}: service {page['total']}, SQL {raw_total}, "
                                     f"generated {expected}; pages differ or totals do")
            totals[name] = expected
    turn = iter(range(10**9))

    def next_user() -> tuple[str, Caller]:
        name = users[next(turn) % len(users)]
        return name, callers[name]

    def service() -> None:
        _, caller = next_user()
        flow_inbox.inbox(db.session, caller, "todo", PAGE, 0, utcnow())
        db.session.close()

    def floor() -> None:
        name, caller = next_user()
        with db.engine.connect() as conn:
            raw_page_total(conn, name, sorted(caller.roles), utcnow())

    def same_work() -> None:
        name, caller = next_user()
        with db.engine.connect() as conn:
            raw_same_work(conn, name, sorted(caller.roles), utcnow())

    return InboxFigures(users, median_ms(service, repeat), median_ms(floor, repeat),
                        median_ms(same_work, repeat), totals)


def todo_spread(load: InboxLoad) -> tuple[int, int, int]:
    """(smallest, median, largest) todo total over the users: how heavy an inbox is."""
    counts = sorted(load.expected_todo.values())
    return counts[0], counts[len(counts) // 2], counts[-1]
