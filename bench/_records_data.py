"""Data for bench/records.py: the 15-field settlement-line entity and its documents.

Every generated row comes in two shapes from one random draw: the JSON document a client
or importer sends (money as decimal strings, times with an offset) and the column values
a hand-written loader would insert (integer minor units, aware UTC datetimes). The floor
(raw Core) inserts the second shape; the service parses the first. The bench compares the
two stored results, so a disagreement between generator and validator cannot go unseen.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

CST = dt.timezone(dt.timedelta(hours=8))
BRANCH = {
    "key": "branch",
    "label": "分行",
    "fields": [{"key": "name", "label": "名称", "type": "text", "required": True}],
}
STATUSES = (["settled", "pending", "refunded", "failed"], [60, 25, 10, 5])
CHANNELS = (["alipay", "wechat", "unionpay", "card"], [40, 35, 15, 10])
TXN = {
    "key": "txn",
    "label": "结算明细",
    "fields": [
        {"key": "order_no", "label": "订单号", "type": "text", "max_length": 40,
         "unique": True, "required": True},
        {"key": "merchant_name", "label": "商户名称", "type": "text", "max_length": 100,
         "required": True},
        {"key": "status", "label": "状态", "type": "select", "options": STATUSES[0],
         "indexed": True, "required": True},
        {"key": "channel", "label": "渠道", "type": "select", "options": CHANNELS[0]},
        {"key": "amount", "label": "金额", "type": "money", "currency": "CNY",
         "required": True},
        {"key": "fee", "label": "手续费", "type": "money", "currency": "CNY"},
        {"key": "quantity", "label": "笔数", "type": "number", "min": 0},
        {"key": "fee_rate", "label": "费率", "type": "percent", "scale": 2},
        {"key": "settle_date", "label": "清算日", "type": "date"},
        {"key": "txn_at", "label": "交易时间", "type": "datetime", "indexed": True,
         "required": True},
        {"key": "reconciled", "label": "已对账", "type": "boolean"},
        {"key": "contact_email", "label": "联系邮箱", "type": "email"},
        {"key": "branch", "label": "分行", "type": "relation", "target": "branch"},
        {"key": "handler", "label": "经办人", "type": "user"},
        {"key": "remark", "label": "备注", "type": "textarea"},
    ],
}
MERCHANTS = ["华联超市", "永辉生鲜", "海底捞火锅", "星巴克咖啡", "中石化加油站", "苏宁易购",
             "国美电器", "万达影城", "全家便利店", "美团外卖", "携程旅行", "京东到家"]
CITIES = ["上海", "北京", "深圳", "杭州", "成都", "武汉", "南京", "西安"]
RATES = [Decimal("0.38"), Decimal("0.60"), Decimal("0.55"), Decimal("1.25")]
REMARKS = ["客户要求加急清算", "差错调整", "跨行交易", "商户补录", "夜间批量"]
START = dt.datetime(2025, 1, 1, tzinfo=CST)


def money_text(minor: int) -> str:
    """Minor units -> the decimal string a client sends ("1234.05")."""
    return f"{'-' if minor < 0 else ''}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def generate(count: int, *, seed: int, first: int, branch_ids: list[int],
             usernames: list[str]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(document, column values) pairs; ``first`` numbers the order_no (unique) so runs
    with different ranges can share a table."""
    rng = random.Random(seed)
    for i in range(first, first + count):
        amount = rng.randrange(100, 5_000_000)
        rate = rng.choice(RATES)
        fee = None if rng.random() < 0.1 else int(amount * rate / 100)
        moment = START + dt.timedelta(seconds=rng.randrange(0, 540 * 86_400))
        branch = rng.choice(branch_ids) if rng.random() < 0.9 else None
        handler = rng.choice(usernames) if rng.random() < 0.8 else None
        email = f"ops{rng.randrange(1000)}@merchant{rng.randrange(50)}.cn" \
            if rng.random() < 0.7 else None
        remark = rng.choice(REMARKS) if rng.random() < 0.3 else None
        columns = {
            "order_no": f"ORD{i:012d}",
            "merchant_name": f"{rng.choice(MERCHANTS)}({rng.choice(CITIES)}{rng.randrange(90)}店)",
            "status": rng.choices(*STATUSES)[0],
            "channel": rng.choices(*CHANNELS)[0],
            "amount": amount,
            "fee": fee,
            "quantity": rng.randrange(1, 50),
            "fee_rate": rate,
            "settle_date": (moment + dt.timedelta(days=1)).date(),
            "txn_at": moment.astimezone(dt.UTC),
            "reconciled": rng.random() < 0.7,
            "contact_email": email,
            "branch": branch,
            "handler": handler,
            "remark": remark,
        }
        document = dict(columns)
        document.update(
            amount=money_text(amount),
            fee=None if fee is None else money_text(fee),
            fee_rate=str(rate),
            settle_date=columns["settle_date"].isoformat(),
            txn_at=moment.isoformat(),
        )
        # an importer sends what it has: optional empty cells are simply absent
        yield {k: v for k, v in document.items() if v is not None}, columns


def with_system_columns(columns: dict[str, Any], now: dt.datetime, user: str) -> dict[str, Any]:
    """What the service adds to every row, so the floor writes the same bytes."""
    return {**columns, "version": 1, "created_at": now, "created_by": user,
            "updated_at": now, "updated_by": user}
