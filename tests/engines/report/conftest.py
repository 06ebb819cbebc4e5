"""Fixtures for the report engine: real tables on SQLite and PostgreSQL with generated rows.

The same seeded rows are loaded into both databases; tests compute expected values from
the Python copy of those rows (``Dataset.rows``), never from the engine.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from engines.report import ReportClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 3, 15, 10, 0, tzinfo=SHANGHAI)  # a Friday
CHANNELS = ["alipay", "wechat", "unionpay", "stripe"]
REGIONS = ["华东", "华北", "华南", "西南"]
STATUSES = ["approved", "rejected", "pending"]

CUSTOMER = {
    "key": "customer",
    "label": "客户",
    "fields": [
        {"key": "name", "label": "名称", "type": "text"},
        {"key": "level", "label": "等级", "type": "select", "options": ["A", "B", "C"]},
    ],
}
PAYMENT = {
    "key": "payment",
    "label": "支付流水",
    "fields": [
        {"key": "amount", "label": "金额", "type": "money", "currency": "CNY", "required": True},
        {"key": "fee", "label": "手续费", "type": "money", "currency": "CNY"},
        {"key": "qty", "label": "笔数", "type": "number", "scale": 0},
        {"key": "channel", "label": "渠道", "type": "select", "options": CHANNELS},
        {"key": "region", "label": "区域", "type": "select", "options": REGIONS},
        {"key": "status", "label": "状态", "type": "select", "options": STATUSES},
        {"key": "paid_at", "label": "支付时间", "type": "datetime"},
        {"key": "biz_date", "label": "业务日期", "type": "date"},
        {"key": "refunded", "label": "已退款", "type": "boolean"},
        {"key": "customer", "label": "客户", "type": "relation", "target": "customer"},
        {"key": "card_no", "label": "卡号", "type": "card_number"},
        {"key": "legacy_code", "label": "旧编码", "type": "text", "hidden": True},
    ],
}

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def build_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Tables as the platform generates them (column name == field key, money BIGINT)."""

    def system() -> list[sa.Column]:
        return [
            sa.Column("id", _ID, primary_key=True, autoincrement=True),
            sa.Column("version", sa.Integer, nullable=False, default=1),
            sa.Column("created_at", sa.DateTime(timezone=True)),
            sa.Column("created_by", sa.String(64)),
            sa.Column("updated_at", sa.DateTime(timezone=True)),
            sa.Column("updated_by", sa.String(64)),
            sa.Column("deleted_at", sa.DateTime(timezone=True)),
        ]

    customer = sa.Table(
        "customer",
        metadata,
        *system(),
        sa.Column("name", sa.String(200)),
        sa.Column("level", sa.String(20)),
    )
    payment = sa.Table(
        "payment",
        metadata,
        *system(),
        sa.Column("amount", sa.BigInteger),
        sa.Column("fee", sa.BigInteger),
        sa.Column("qty", sa.BigInteger),
        sa.Column("channel", sa.String(40)),
        sa.Column("region", sa.String(40)),
        sa.Column("status", sa.String(20)),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("biz_date", sa.Date),
        sa.Column("refunded", sa.Boolean),
        sa.Column("customer", sa.BigInteger),
        sa.Column("card_no", sa.String(40)),
        sa.Column("legacy_code", sa.String(40)),
    )
    return payment, customer


def generate(seed: int = 7, n: int = 700) -> tuple[list[dict], list[dict]]:
    """Customers and payments; edge cases around local midnight, ISO weeks and NULLs."""
    rng = random.Random(seed)
    customers = [
        {"id": i, "name": f"客户{i}", "level": rng.choice(["A", "B", "C", None])}
        for i in range(1, 41)
    ]
    start = datetime(2023, 1, 20, tzinfo=UTC)
    special = [
        datetime(2024, 3, 14, 15, 59, 59, tzinfo=UTC),  # local 03-14 23:59:59
        datetime(2024, 3, 14, 16, 0, 0, tzinfo=UTC),  # local 03-15 00:00 (today)
        datetime(2023, 12, 31, 16, 30, tzinfo=UTC),  # local 2024-01-01, ISO 2024-W01, Q1
        datetime(2023, 12, 31, 15, 30, tzinfo=UTC),  # local 2023-12-31, ISO 2023-W52
        datetime(2022, 12, 31, 17, 0, tzinfo=UTC),  # local 2023-01-01 Sunday: 2022-W52
        datetime(2024, 3, 31, 15, 59, tzinfo=UTC),  # local 03-31 end of Q1 (future)
        datetime(2024, 3, 31, 16, 1, tzinfo=UTC),  # local 04-01: Q2
        None,
    ]
    payments = []
    for index in range(n):
        if index < len(special):
            paid_at = special[index]
        else:
            paid_at = start + timedelta(seconds=rng.randrange(0, 420 * 86400))
        amount = max(1, int(rng.lognormvariate(8, 1.1)))
        local_day = paid_at.astimezone(SHANGHAI).date() if paid_at else None
        payments.append(
            {
                "id": index + 1,
                "version": 1,
                "created_by": f"u{rng.randrange(1, 5)}",
                "created_at": paid_at,
                "amount": amount,
                "fee": None if rng.random() < 0.1 else amount * rng.randrange(0, 60) // 10000,
                "qty": rng.randrange(1, 10),
                "channel": None if rng.random() < 0.05 else rng.choice(CHANNELS),
                "region": rng.choice(REGIONS),
                "status": rng.choices(STATUSES, [6, 2, 2])[0],
                "paid_at": paid_at,
                "biz_date": local_day if rng.random() < 0.9 else date(2023, 6, 1),
                "refunded": rng.random() < 0.1,
                "customer": None if rng.random() < 0.05 else rng.randrange(1, 41),
                "card_no": "6222020000000000",
                "legacy_code": "X",
            }
        )
    return payments, customers


@dataclass
class Database:
    """A loaded database: the engine, tables and the Python copy of every row."""

    dialect: str
    engine: sa.Engine
    payment: sa.Table
    customer: sa.Table
    rows: list[dict]
    customers: list[dict]
    clock: ReportClock = field(default_factory=lambda: ReportClock(now=NOW))

    @property
    def tables(self) -> dict:
        return {"customer": (CUSTOMER, self.customer), "payment": (PAYMENT, self.payment)}

    def run(self, report: dict, **kwargs) -> dict:
        from engines.report import run_report

        kwargs.setdefault("clock", self.clock)
        kwargs.setdefault("tables", self.tables)
        with self.engine.connect() as connection:
            return run_report(connection, PAYMENT, self.payment, report, **kwargs)


def _load(engine: sa.Engine, schema: str | None) -> Database:
    metadata = sa.MetaData(schema=schema)
    payment, customer = build_tables(metadata)
    metadata.create_all(engine)
    rows, customers = generate()
    with engine.begin() as connection:
        connection.execute(customer.insert(), customers)
        connection.execute(payment.insert(), rows)
    return Database(engine.dialect.name, engine, payment, customer, rows, customers)


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory) -> Database:
    engine = sa.create_engine(f"sqlite:///{tmp_path_factory.mktemp('report')}/report.db")
    yield _load(engine, None)
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_db(postgres_url) -> Database:
    engine = sa.create_engine(postgres_url)
    schema = f"report_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    try:
        yield _load(engine, schema)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request) -> Database:
    """Each test using ``db`` runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_db" if request.param == "sqlite" else "postgres_db"
    return request.getfixturevalue(name)
