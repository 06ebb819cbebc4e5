"""Record access for the settlement services: one app, one caller, one transaction.

Why not the records API one call at a time: reconciling a day touches every payment,
refund and settlement line of a channel; rows are read with one query per entity and
status changes are written with one UPDATE per status (plus their audit rows), all in
the request's single transaction. Writes of new records still go through
``RecordService`` (validation, formulas, auto-numbers, permissions, audit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import Forbidden, Unprocessable
from app_platform.models import App, Entity, utcnow
from app_platform.services import audit
from app_platform.services.apps import app_for
from app_platform.services.entities import entity_table, get_entity
from app_platform.services.flow_runtime import StepTransaction
from app_platform.services.records import RecordService
from engines.form import field_type, live_fields
from engines.match.bills.model import CHINA_STANDARD_TIME
from engines.match.money import currency_exponent

CST = CHINA_STANDARD_TIME


class AppData:
    """The settlement app's entities for one caller; ``commit`` ends the transaction."""

    def __init__(self, session: Session, caller: Caller, app_key: str) -> None:
        self.session, self.caller = session, caller
        self.app: App = app_for(session, caller, app_key, "use")
        self.step = StepTransaction(session)
        self._entities: dict[str, Entity] = {}
        self._services: dict[str, RecordService] = {}

    def entity(self, key: str) -> Entity:
        if key not in self._entities:
            self._entities[key] = get_entity(self.session, self.app, key)
        return self._entities[key]

    def service(self, key: str) -> RecordService:
        """RecordService whose commits only flush (the request commits once)."""
        if key not in self._services:
            self._services[key] = RecordService(self.step, self.caller, self.app,  # type: ignore[arg-type]
                                                self.entity(key))
        return self._services[key]

    def table(self, key: str) -> sa.Table:
        return entity_table(self.entity(key))

    def field(self, entity_key: str, field_key: str) -> dict[str, Any]:
        for fdef in live_fields(self.entity(entity_key).definition):
            if fdef["key"] == field_key:
                return fdef
        raise Unprocessable(f"entity {entity_key!r} has no field {field_key!r}; the "
                            "settlement features need the template's fields")

    def bound(self, entity_key: str, field_key: str, raw: str) -> Any:
        """A value comparable with the column (the record filter's own conversion)."""
        fdef = self.field(entity_key, field_key)
        return field_type(fdef["type"]).filter_value(fdef, raw)

    def rows(self, key: str, *where: Any) -> list[dict[str, Any]]:
        """Records as the API shows them (the caller must be allowed to read all)."""
        service = self.service(key)
        if service.rights.read != "all":
            raise Forbidden(f"reconciliation needs read access to every {key!r} record")
        table = self.table(key)
        result = self.session.connection().execute(
            sa.select(table).where(*where).order_by(table.c.id)).mappings()
        return [service.to_json(row) for row in result]

    def create(self, key: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not rows:
            return []
        return self.service(key).create_many(rows, source="settlement", commit=False)

    def set_values(self, key: str, ids: Iterable[int], values: Mapping[str, Any]) -> int:
        """Set the same plain values on many records: one UPDATE and one audit row per
        record (old -> new), only for records whose values differ."""
        ids = sorted(set(ids))
        if not ids:
            return 0
        service = self.service(key)
        if service.rights.update != "all":
            raise Forbidden(f"you may not update {key!r} records")
        table = self.table(key)
        stored = service.validator.validate(dict(values), partial=True)
        conn = self.session.connection()
        changed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            before = {r["id"]: service.to_json_all(r) for r in conn.execute(
                sa.select(table).where(table.c.id.in_(chunk))).mappings()}
            stale = [i for i, rec in before.items()
                     if any(rec.get(k) != v for k, v in values.items())]
            if not stale:
                continue
            conn.execute(table.update().where(table.c.id.in_(stale)).values(
                **stored, version=table.c.version + 1, updated_at=utcnow(),
                updated_by=self.caller.username))
            audit.write(self.session, [audit.audit_row(
                self.caller.username, self.app.key, key, rid, "update",
                {k: [before[rid].get(k), v] for k, v in values.items()
                 if before[rid].get(k) != v}, "settlement") for rid in stale])
            changed += len(stale)
        return changed

    def commit(self) -> None:
        self.session.commit()


def day_bounds(day: dt.date, days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    """[00:00 CST of ``day``, 00:00 CST ``days`` later) as UTC instants."""
    start = dt.datetime.combine(day, dt.time(), CST)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=days)).astimezone(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def to_minor(text: str | None, currency: str) -> int:
    """A money field's decimal string as integer minor units of its own currency
    (JPY has none: "1000.00" is 1000)."""
    if text is None:
        return 0
    scaled = Decimal(text).scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise Unprocessable(f"{text} {currency} has more decimals than the currency")
    return int(scaled)


def from_minor(minor: int, currency: str) -> str:
    """Integer minor units of ``currency`` as the decimal string a money field takes."""
    return f"{Decimal(minor).scaleb(-currency_exponent(currency)):f}"


def parse_day(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Unprocessable("date must be YYYY-MM-DD",
                            [{"path": "date", "message": "must be YYYY-MM-DD"}]) from None
