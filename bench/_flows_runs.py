"""The instance paths of bench/flows.py: (a) bare SpiffWorkflow in memory, (b) bare
SpiffWorkflow with serialize + deserialize per step, (c) the credit flow through the flow
service (``flow_instances.start_instance`` + ``flow_tasks.complete``, real users with the
roles each step needs, every step committed), on the database of the current Flask app.

The flow is the one bench/flows_engine.py measures (start, amount gateway, then risk,
finance and board approvals, each a role task): (a), (b) and (c) run the same BPMN, so
their ratios compare like with like.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from app_platform.auth.identity import Caller
from app_platform.extensions import db
from app_platform.models import Role, User, utcnow
from app_platform.models.flows import FlowHistory, FlowInstance, FlowTask
from app_platform.services import apps, entities, flow_instances, flow_tasks, flows
from app_platform.services.records import RecordService
from app_platform.services.users import create_user
from bench.flows_engine import BPMN, bare_in_memory, bare_serialized

APP_KEY, PROCESS_KEY, PROCESS_ID = "credit", "credit_bench", "credit_bench"
STEPS = ("risk", "finance", "board")  # node ids of the three user tasks, in order
STEP_ROLES = {"risk": "risk_specialist", "finance": "finance_director", "board": "board"}
PASSWORD = "bench-password-1"
APPLICATION = {"key": "application", "label": "授信申请", "fields": [
    {"key": "applicant", "label": "申请人", "type": "text", "required": True},
    {"key": "amount", "label": "金额", "type": "money", "currency": "CNY", "required": True},
    {"key": "applicant_dept", "label": "部门", "type": "text"}]}
LARGE_AMOUNT = "80000.00"  # 8,000,000 fen >= 5,000,000: the path with all three approvals


@dataclass
class Timing:
    """``instances`` run in ``chunks``; the rate is the median over the chunks (a stall
    on a shared machine spoils one chunk, not the figure). CPU is this process's only:
    PostgreSQL's own work shows in the wall time alone."""

    instances: int
    chunk_seconds: list[float] = field(default_factory=list)
    cpu: float = 0.0

    @property
    def seconds(self) -> float:
        return sum(self.chunk_seconds)

    @property
    def per_second(self) -> float:
        rates = [(self.instances / len(self.chunk_seconds)) / s for s in self.chunk_seconds]
        return statistics.median(rates) if rates else 0.0

    @property
    def per_cpu_second(self) -> float:
        """Instances per second of this process's CPU: steadier than the wall clock when
        other work shares the cores (it leaves out the database server's own time)."""
        return self.instances / self.cpu if self.cpu > 0 else float("inf")

    @property
    def ms_per_instance(self) -> float:
        return 1000 / self.per_second if self.per_second else float("inf")


def timed(run: Callable[[int], None], instances: int, chunks: int) -> Timing:
    """``run(i)`` for i in range(instances), split into ``chunks`` timed groups."""
    size = max(1, instances // max(1, chunks))
    timing = Timing(0)
    cpu = time.process_time()
    for start in range(0, instances, size):
        stop = min(instances, start + size)
        began = time.perf_counter()
        for i in range(start, stop):
            run(i)
        timing.chunk_seconds.append(time.perf_counter() - began)
        timing.instances += stop - start
    timing.cpu = time.process_time() - cpu
    return timing


# -- (a) and (b): bare SpiffWorkflow --------------------------------------------------------
def bare_spec() -> Any:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.encode())
    return parser.get_spec(PROCESS_ID)


def bare_paths(instances: int, chunks: int) -> tuple[Timing, Timing]:
    """(a) in memory, (b) serialize + deserialize after every step (definition copied
    into every instance, the SpiffWorkflow default), each warmed up once first."""
    spec = bare_spec()
    results = []
    for make in (bare_in_memory, bare_serialized):
        run = make(spec)
        run()
        results.append(timed(lambda _i, run=run: run(), instances, chunks))
    return results[0], results[1]


# -- (c): through the flow service --------------------------------------------------------
@dataclass
class World:
    """The app, the bound entity, and the people of the credit flow (as callers whose
    ``user`` rows are loaded, as the request's authentication would hand them over)."""

    applicant: Caller
    approvers: dict[str, Caller]
    record_ids: list[int] = field(default_factory=list)


def _caller(username: str) -> Caller:
    user = db.session.scalars(sa.select(User).where(User.username == username)).one()
    return Caller(user=user, scopes=["*"], via="token")


def set_up_credit(system: Caller) -> World:
    """Roles, one user per step role plus the applicant, the app, the application entity
    and the credit process deployed through the flow service."""
    session = db.session
    for role in STEP_ROLES.values():
        session.add(Role(key=role, name=role, builtin=False))
    session.flush()
    create_user(session, {"username": "applicant", "password": PASSWORD,
                          "roles": ["member"], "department": "retail"}, commit=False)
    for step, role in STEP_ROLES.items():
        create_user(session, {"username": f"{step}_approver", "password": PASSWORD,
                              "roles": ["member", role]}, commit=False)
    session.commit()
    app = apps.create_app_record(session, system, {"key": APP_KEY, "name": "授信审批"})
    entities.create_entity(session, system, app, APPLICATION)
    flows.deploy_process(session, system, APP_KEY, {
        "key": PROCESS_KEY, "name": "授信审批(基准)", "entity": "application", "bpmn_xml": BPMN})
    return World(_caller("applicant"), {s: _caller(f"{s}_approver") for s in STEPS})


def credit_definition() -> tuple[int, int]:
    """(app id, definition id) of the deployed credit process."""
    app = apps.get_app(db.session, APP_KEY)
    return app.id, flows.latest_definition(db.session, app, PROCESS_KEY).id


def create_applications(world: World, count: int) -> list[int]:
    """Records to start instances on, made before the clock starts (creating records is
    bench/records.py's subject, not this one's)."""
    app = apps.get_app(db.session, APP_KEY)
    entity = entities.get_entity(db.session, app, "application")
    service = RecordService(db.session, world.applicant, app, entity)
    created = service.create_many([{"applicant": f"申请人{i}", "amount": LARGE_AMOUNT,
                                    "applicant_dept": "retail"} for i in range(count)],
                                  source="import")
    ids = [row["id"] for row in created]
    world.record_ids.extend(ids)
    return ids


def run_instance(world: World, record_id: int) -> int:
    """One credit application through the service, as the API handlers call it: start
    (then read the instance back, as POST .../instances answers with it), then each step
    completed by a holder of its role, the next task id taken from the answer."""
    session = db.session
    instance = flow_instances.start_instance(session, world.applicant, APP_KEY, PROCESS_KEY,
                                             {"record_id": record_id}, utcnow())
    view = flow_instances.get_instance(session, world.applicant, instance.id)
    tasks = view["tasks"]
    for step in STEPS:
        (task,) = tasks
        if task["node_id"] != step:
            raise AssertionError(f"expected step {step!r}, the instance waits at {task}")
        answer = flow_tasks.complete(session, world.approvers[step], task["id"],
                                     {"action": "approve"}, utcnow())
        tasks = answer["instance"]["tasks"]
    if tasks or answer["instance"]["status"] != "completed":
        raise AssertionError(f"instance {instance.id} ended as {answer['instance']['status']}")
    session.close()  # the end of the requests: nothing carried over to the next instance
    return instance.id


def service_path(world: World, record_ids: list[int], chunks: int) -> Timing:
    """(c) every record through the whole flow; raises when any instance went wrong."""
    timing = timed(lambda i: run_instance(world, record_ids[i]), len(record_ids), chunks)
    check_completed(record_ids)
    return timing


def check_completed(record_ids: list[int]) -> None:
    """Each record's instance completed, with its three tasks done by the right people
    and start + 3 approvals + completion in the history (read back with plain SQL)."""
    with db.engine.connect() as conn:
        inst = FlowInstance.__table__
        rows = conn.execute(sa.select(inst.c.id, inst.c.status).where(
            inst.c.record_id.in_(record_ids))).all()
        if len(rows) != len(record_ids) or {r.status for r in rows} != {"completed"}:
            raise AssertionError(f"{len(rows)} instances for {len(record_ids)} records, "
                                 f"states {sorted({r.status for r in rows})}")
        ids = [r.id for r in rows]
        task = FlowTask.__table__
        done = conn.execute(sa.select(task.c.node_id, task.c.completed_by, sa.func.count())
                            .where(task.c.instance_id.in_(ids))
                            .group_by(task.c.node_id, task.c.completed_by)).all()
        wanted = {(s, f"{s}_approver", len(ids)) for s in STEPS}
        if set(map(tuple, done)) != wanted:
            raise AssertionError(f"task rows {sorted(map(tuple, done))} != {sorted(wanted)}")
        hist = FlowHistory.__table__
        actions = dict(conn.execute(sa.select(hist.c.action, sa.func.count())
                                    .where(hist.c.instance_id.in_(ids))
                                    .group_by(hist.c.action)).all())
        expected = {"start": len(ids), "approve": 3 * len(ids), "completed": len(ids)}
        if actions != expected:
            raise AssertionError(f"history {actions} != {expected}")
