"""Record imports from CSV/XLSX, run as jobs whose progress clients poll.

The request only stores the upload, checks that it is the file it claims to be and that
its header row fits the entity (so a wrong file is a 4xx at once and nothing starts), and
records a job. The job streams the rows (never the whole file in memory), parses each cell
by its field's type (engines/form/io.py), and hands batches of ~2,000 rows to
``RecordService.create_many`` (the same validation, formulas, reference checks and audit as
the API), each batch inside a savepoint so a bad batch can be retried without its bad rows.

Modes: ``all_or_nothing`` runs in one transaction and commits only when no row was bad;
``skip_bad_rows`` commits batch by batch and reports the bad rows; ``dry_run`` does all the
work in one transaction and rolls it back: every bad row is reported, nothing is kept.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from flask import Flask, current_app, g
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.db import refresh_statistics
from app_platform.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    TooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from app_platform.models import App, Entity, Job, User, utcnow
from app_platform.services.entities import entity_table
from app_platform.services.records import RecordService
from engines.form import RecordInvalid, live_fields
from engines.form.errors import Problem
from engines.form.io import (
    DEFAULT_TIMEZONE,
    ColumnPlan,
    FileFormatError,
    RowReader,
    TitleRef,
    is_blank,
    map_columns,
)
from engines.form.io_files import detect_encoding, file_kind, iter_rows, open_xlsx
from engines.form.io_refs import resolve_title_refs, title_field

log = logging.getLogger("loom.imports")
MODES = ("all_or_nothing", "skip_bad_rows")
BATCH_ROWS = 2000
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_ERRORS = 10_000
ROW_PATH = re.compile(r"^\[(\d+)\](?:\.(.*))?$")
# progress of running jobs in this process: SQLite cannot take a second writer while an
# all-or-nothing import holds its transaction, so pollers read this overlay as well
LIVE: dict[str, dict[str, Any]] = {}
LIVE_LOCK = threading.Lock()


@dataclass
class Source:
    path: str
    kind: str
    encoding: str | None
    headers: list[Any]
    keys: list[str | None]
    estimated_rows: int


# -- starting a job -------------------------------------------------------------------------
def import_dir() -> Path:
    path = Path(current_app.instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_stream(stream: BinaryIO, target: Path) -> None:
    limit = int(current_app.config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)
    size = 0
    with open(target, "wb") as handle:
        while chunk := stream.read(1 << 16):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the file is larger than the {limit} byte import limit")
            handle.write(chunk)
    if size == 0:
        raise BadRequest("the file is empty", code="unreadable_file")


def inspect_source(path: Path, filename: str, definition: dict[str, Any],
                   mapping: dict[str, Any] | None) -> Source:
    """Kind, encoding, header row and column plan; 415 for a file that is not the CSV/XLSX
    it claims, 422 (ColumnMappingError) for columns that do not fit."""
    try:
        with open(path, "rb") as handle:
            kind = file_kind(handle.read(8), filename)
            encoding = detect_encoding(handle) if kind == "csv" else None
            estimate = sum(chunk.count(b"\n") for chunk in iter(
                lambda: handle.read(1 << 20), b"")) if kind == "csv" else _sheet_rows(path)
        header: list[Any] = []
        rows = iter_rows(path, kind, encoding)
        for _number, cells in rows:
            header = list(cells)
            break
        rows.close()  # type: ignore[attr-defined]  (a generator)
    except FileFormatError as exc:
        raise UnsupportedMediaType(exc.message, code="unreadable_file") from None
    if not any(not is_blank(h) for h in header):
        raise UnsupportedMediaType("the file has no header row", code="unreadable_file")
    plan = map_columns(definition, header, mapping)
    return Source(str(path), kind, encoding, header, plan.keys, max(estimate - 1, 1))


def _sheet_rows(path: Path) -> int:
    workbook = open_xlsx(path)
    try:
        return int(workbook.worksheets[0].max_row or 1)
    finally:
        workbook.close()


def start_import(session: Session, caller: Caller, app: App, entity: Entity,
                 stream: BinaryIO, filename: str, *, mode: str, dry_run: bool,
                 mapping: dict[str, Any] | None) -> Job:
    """Store the upload, check it, and record a queued job (committed). Run it with
    ``launch``."""
    service = RecordService(session, caller, app, entity)
    if not service.rights.create:
        raise Forbidden(f"you may not create {entity.key!r} records")
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}", code="invalid_query")
    job_id = str(uuid.uuid4())
    suffix = ".xlsx" if filename.lower().endswith((".xlsx", ".xlsm")) else ".csv"
    path = import_dir() / f"{job_id}{suffix}"
    try:
        save_stream(stream, path)
        source = inspect_source(path, filename, entity.definition, mapping)
        blocked = [k for k in source.keys if k and (k in service.read_only or
                                                      k in service.hidden)]
        if blocked:
            raise Unprocessable("you may not write some of these columns",
                                [{"path": k, "message": "is read-only for you"}
                                 for k in blocked])
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    job = Job(id=job_id, kind="import", state="queued", progress=0, processed=0, imported=0,
              errors=[], created_by=caller.username, created_at=utcnow(), result={},
              params={"app": app.key, "entity": entity.key, "file": source.path,
                      "filename": filename, "kind": source.kind,
                      "encoding": source.encoding, "keys": source.keys,
                      "headers": [str(h) if h is not None else "" for h in source.headers],
                      "estimated_rows": source.estimated_rows, "mode": mode,
                      "dry_run": dry_run, "scopes": list(caller.scopes),
                      "request_id": g.get("request_id")})
    session.add(job)
    session.commit()
    return job


def launch(job_id: str) -> None:
    """Run the job now (config JOBS_SYNC, for tests and the CLI) or in a thread of its
    own with its own app context and session, so it outlives the request."""
    flask_app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if flask_app.config.get("JOBS_SYNC"):
        run_in_context(flask_app, job_id)
        return
    threading.Thread(target=run_in_context, args=(flask_app, job_id),
                     name=f"import-{job_id[:8]}").start()


def run_in_context(flask_app: Flask, job_id: str,
                   caller: Caller | None = None,
                   on_progress: Callable[[Job], None] | None = None) -> None:
    with flask_app.app_context():
        session: Session = flask_app.extensions["loom_db"]["sessionmaker"]()
        job = session.get(Job, job_id)
        if job is None:
            session.close()
            return
        g.request_id = job.params.get("request_id")
        try:
            caller = caller or _caller(session, job)
            app = session.query(App).filter_by(key=job.params["app"]).one()
            entity = session.query(Entity).filter_by(app_id=app.id,
                                                     key=job.params["entity"]).one()
            Importer(session, caller, app, entity, job, on_progress).run()
        except Exception as exc:  # the job reports it; the thread must not die silently
            log.exception("import job %s failed", job_id)
            session.rollback()
            job = session.get(Job, job_id)
            job.state, job.finished_at = "failed", utcnow()
            job.result = {**job.result, "message": f"the import stopped: {exc}"}
            session.commit()
        finally:
            with LIVE_LOCK:
                LIVE.pop(job_id, None)
            Path(job.params["file"]).unlink(missing_ok=True)
            session.close()


def _caller(session: Session, job: Job) -> Caller:
    user = session.query(User).filter_by(username=job.created_by).one()
    return Caller(user=user, scopes=job.params.get("scopes") or ["*"], via="token")


# -- running it -----------------------------------------------------------------------------
class Importer:
    def __init__(self, session: Session, caller: Caller, app: App, entity: Entity, job: Job,
                 on_progress: Callable[[Job], None] | None = None):
        self.session, self.job, self.on_progress = session, job, on_progress
        params = job.params
        self.service = RecordService(session, caller, app, entity)
        self.mode, self.dry_run = params["mode"], bool(params["dry_run"])
        self.commit_batches = self.mode == "skip_bad_rows" and not self.dry_run
        self.headers = {k: h for k, h in zip(params["keys"], params["headers"],
                                             strict=True) if k}
        tz = current_app.config.get("IMPORT_TIMEZONE") or DEFAULT_TIMEZONE
        self.reader = RowReader(entity.definition, ColumnPlan(keys=params["keys"]), tz)
        self.targets = self._relation_targets(app, entity)
        self.max_errors = int(current_app.config.get("IMPORT_MAX_ERRORS")
                              or DEFAULT_MAX_ERRORS)
        self.errors: list[dict[str, Any]] = []
        self.error_count = self.bad_rows = self.processed = self.valid = 0

    def _relation_targets(self, app: App, entity: Entity) -> dict[str, Any]:
        targets = {}
        for fdef in live_fields(entity.definition):
            if fdef["type"] == "relation" and fdef["key"] in self.headers:
                target = self.session.query(Entity).filter_by(
                    app_id=app.id, key=fdef["target"]).one()
                targets[fdef["key"]] = (entity_table(target), title_field(target.definition),
                                        target.key)
        return targets

    def run(self) -> None:
        self.job.state = "running"
        self.session.commit()
        self._publish(write=True)
        pending: list[tuple[int, dict[str, Any]]] = []
        params = self.job.params
        rows = iter_rows(params["file"], params["kind"], params["encoding"])
        try:
            for number, cells in rows:
                if number == 1 or all(is_blank(c) for c in cells):
                    continue
                self.processed += 1
                data, problems = self.reader.read(cells)
                if problems:
                    self._bad_row(number, data, problems)
                    continue
                pending.append((number, data))
                if len(pending) >= BATCH_ROWS:
                    self._flush(pending)
                    pending = []
            self._flush(pending)
        except FileFormatError as exc:  # malformed further down the file
            self.session.rollback()
            self._finish(committed=False, message=exc.message)
            return
        keep = not self.dry_run and (self.commit_batches or not self.bad_rows)
        if keep:
            self.session.commit()
        else:
            self.session.rollback()
        self._finish(committed=keep)

    def _bad_row(self, number: int, data: dict[str, Any], problems: list[Problem]) -> None:
        """Report the cells that did not parse, plus what validation says about the rest
        of the row (so one pass lists every problem of the row)."""
        skipped = {p.path for p in problems} | {k for k, v in data.items() if _has_ref(v)}
        try:
            self.service.validator.validate({k: v for k, v in data.items()
                                             if k not in skipped})
        except RecordInvalid as exc:
            problems += [p for p in exc.problems
                         if p.path.split(".")[0].split("[")[0] not in skipped]
        self._report(number, problems)

    def _report(self, number: int, problems: list[Problem]) -> None:
        self.bad_rows += 1
        for problem in problems or [Problem("", "is invalid")]:
            self.error_count += 1
            if len(self.errors) < self.max_errors:
                key = problem.path.split(".")[0].split("[")[0]
                self.errors.append({"row": number, "field": problem.path,
                                    "column": self.headers.get(key, ""),
                                    "message": problem.message})

    def _flush(self, pending: list[tuple[int, dict[str, Any]]]) -> None:
        if pending and self.targets:
            conn = self.session.connection()
            unresolved = resolve_title_refs(conn, [d for _, d in pending], self.targets)
            for index in sorted(unresolved):
                self._report(pending[index][0], unresolved[index])
            pending = [p for i, p in enumerate(pending) if i not in unresolved]
        self._insert(pending)
        if self.commit_batches:
            self.session.commit()
        self._publish(write=self.commit_batches or self._dialect() != "sqlite")

    def _insert(self, pending: list[tuple[int, dict[str, Any]]]) -> None:
        """create_many in a savepoint; on invalid rows, report them and retry the rest; on
        a constraint violation (a unique value taken), split the batch to find the row."""
        while pending:
            try:
                with self.session.begin_nested():
                    self.service.create_many([d for _, d in pending], source="import",
                                             commit=False)
                self.valid += len(pending)
                return
            except RecordInvalid as exc:
                by_row: dict[int, list[Problem]] = {}
                for problem in exc.problems:
                    match = ROW_PATH.match(problem.path)
                    index = int(match.group(1)) if match else 0
                    by_row.setdefault(index, []).append(
                        Problem(match.group(2) or "" if match else problem.path,
                                problem.message))
                for index in sorted(by_row):
                    self._report(pending[index][0], by_row[index])
                pending = [p for i, p in enumerate(pending) if i not in by_row]
            except IntegrityError as exc:
                if len(pending) == 1:
                    self._report(pending[0][0], [Problem("", _constraint_message(exc))])
                    return
                half = len(pending) // 2
                self._insert(pending[:half])
                pending = pending[half:]

    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _state(self) -> dict[str, Any]:
        estimate = max(int(self.job.params.get("estimated_rows") or 1), 1)
        return {"state": "running", "processed": self.processed,
                "progress": min(99, self.processed * 100 // estimate),
                "imported": self.valid if self.commit_batches else 0,
                "errors": list(self.errors), "error_count": self.error_count}

    def _publish(self, write: bool) -> None:
        """Progress to the in-process overlay always; to the jobs row (a connection of its
        own, short transaction) when that cannot wait on this import's write lock."""
        state = self._state()
        with LIVE_LOCK:
            LIVE[self.job.id] = state
        if write:
            from app_platform.extensions import db

            table = Job.__table__
            with db.engine.begin() as conn:
                conn.execute(table.update().where(table.c.id == self.job.id).values(
                    state=state["state"], processed=state["processed"],
                    progress=state["progress"], imported=state["imported"],
                    errors=state["errors"][:1000]))
        if self.on_progress is not None:
            self.job.processed, self.job.progress = state["processed"], state["progress"]
            self.on_progress(self.job)

    def _finish(self, committed: bool, message: str | None = None) -> None:
        job = self.session.get(Job, self.job.id)
        job.state, job.progress, job.processed = "done", 100, self.processed
        job.imported = self.valid if committed else 0
        job.errors = self.errors
        job.finished_at = utcnow()
        job.result = {"mode": self.mode, "dry_run": self.dry_run, "committed": committed,
                      "valid_rows": self.valid, "bad_rows": self.bad_rows,
                      "error_count": self.error_count,
                      "errors_truncated": self.error_count > len(self.errors)}
        if message:
            job.state, job.result["message"] = "failed", message
        if committed and self.valid:
            # a large import changes what the best query plans are (SQLite only)
            refresh_statistics(self.session.connection(), self.service.table.name)
        self.session.commit()
        self.job = job
        if self.on_progress is not None:
            self.on_progress(job)


def _has_ref(value: Any) -> bool:
    return isinstance(value, TitleRef) or (isinstance(value, list) and any(
        isinstance(v, TitleRef) for v in value))


def _constraint_message(exc: IntegrityError) -> str:
    text = str(exc.orig).lower()
    if "unique" in text or "duplicate" in text:
        return "a unique value in this row is already taken (by another record or row)"
    return "the row breaks a database constraint"


# -- reading jobs ---------------------------------------------------------------------------
def job_json(session: Session, caller: Caller, job_id: str) -> dict[str, Any]:
    job = session.get(Job, job_id)
    if job is None or not (caller.is_admin or job.created_by == caller.username):
        raise NotFound(f"no job {job_id!r}")
    body = {"id": job.id, "kind": job.kind, "state": job.state, "progress": job.progress,
            "processed": job.processed, "imported": job.imported, "errors": job.errors,
            "result": job.result, "created_by": job.created_by,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}
    with LIVE_LOCK:
        live = LIVE.get(job.id)
    if live and job.state in ("queued", "running"):
        body.update(live)
    return body

