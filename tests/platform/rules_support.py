"""Helpers shared by the rule tests (loaded by path: tests/ is not a package).

``write`` performs a record write exactly as RecordService does once the rule hook is
wired (the write, then ``record_events.after_write`` in the same transaction, then the
commit), so the tests exercise the hook the way the platform will call it.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app_platform.auth.identity import Caller
from app_platform.extensions import db
from app_platform.models import App, Entity, User
from app_platform.services import record_events
from app_platform.services.records import RecordService

APP = "loans"
APPLICATION = {
    "key": "application",
    "label": "贷款申请",
    "fields": [
        {"key": "applicant", "label": "申请人", "type": "text"},
        {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"},
        {"key": "status", "label": "状态", "type": "select",
         "options": ["new", "review", "approved", "rejected"]},
        {"key": "score", "label": "评分", "type": "number", "scale": 2},
        {"key": "due_date", "label": "到期日", "type": "date"},
        {"key": "vip", "label": "VIP", "type": "boolean"},
        {"key": "tags", "label": "标签", "type": "multiselect", "options": ["a", "b", "c"]},
        {"key": "note", "label": "备注", "type": "text"},
        {"key": "secret", "label": "内部", "type": "text",
         "permissions": {"member": "read_only"}},
    ],
}
ACCOUNT = {
    "key": "account",
    "label": "额度账户",
    "fields": [
        {"key": "name", "label": "名称", "type": "text"},
        {"key": "credit_limit", "label": "额度", "type": "money", "currency": "CNY"},
        {"key": "used", "label": "已用", "type": "money", "currency": "CNY"},
        {"key": "available", "label": "可用", "type": "money", "currency": "CNY"},
        {"key": "request", "label": "本次申请", "type": "money", "currency": "CNY"},
    ],
}
ALERT = {
    "key": "alert",
    "label": "预警",
    "fields": [{"key": "title", "label": "标题", "type": "text"},
               {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"}],
}


def setup_app(api: Any) -> None:
    assert api.post("/apps", {"key": APP, "name": "贷款"}).status_code == 201
    for entity in (APPLICATION, ACCOUNT, ALERT):
        response = api.post(f"/apps/{APP}/entities", entity)
        assert response.status_code == 201, response.get_json()


def rule(key: str, trigger: dict, actions: list, condition: dict | None = None,
         **options: Any) -> dict:
    body: dict[str, Any] = {"key": key, "name": f"rule {key}", "trigger": trigger,
                            "actions": actions}
    if condition is not None:
        body["condition"] = condition
    if options:
        body["options"] = options
    return body


def service(username: str, entity_key: str, app_key: str = APP) -> RecordService:
    user = db.session.query(User).filter_by(username=username).one()
    app = db.session.query(App).filter_by(key=app_key).one()
    entity = db.session.query(Entity).filter_by(app_id=app.id, key=entity_key).one()
    return RecordService(db.session, Caller(user=user), app, entity)


def write(flask_app: Any, username: str, entity_key: str, action: str, data: Any = None,
          record_id: int | None = None) -> dict[str, Any] | None:
    """create (data) / update (record_id, data) / delete (record_id), hook included."""
    with flask_app.app_context():
        svc = service(username, entity_key)
        caller, session = svc.caller, db.session
        try:
            if action == "create":
                created = svc.create_many([data], single=True, commit=False)[0]
                record_events.after_write(session, caller, svc.app, svc.entity, "create",
                                          None, created, version=1)
                session.commit()
                return created
            before = svc.get(record_id)
            if action == "update":
                after = svc.update(record_id, data)
                record_events.after_write(session, caller, svc.app, svc.entity, "update",
                                          before, after, version=after["version"])
                session.commit()
                return after
            svc.delete(record_id)
            record_events.after_write(session, caller, svc.app, svc.entity, "delete", before,
                                      None, version=before["version"])
            session.commit()
            return None
        except Exception:
            session.rollback()
            raise


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        server.received.append({"headers": dict(self.headers), "body": body})
        status = server.statuses.pop(0) if server.statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@contextmanager
def webhook_receiver(statuses: list[int] | None = None) -> Iterator[Any]:
    """A local HTTP server on 127.0.0.1 recording what it receives; answers the given
    statuses in order, then 200."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received, server.statuses = [], list(statuses or [])  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def runs(api: Any, key: str, **filters: Any) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    response = api.get(f"/apps/{APP}/rules/{key}/runs?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def body_json(received: dict) -> dict:
    return json.loads(received["body"])
