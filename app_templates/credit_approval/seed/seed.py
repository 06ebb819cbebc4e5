"""Sample data for the credit approval template: companies with valid unified social
credit codes, ratings and limits, approved and pending credit applications, sales
orders spread over the last months (some overdue by more than 7, 30 and 90 days) and
receipts. ``generate(size, seed)``: deterministic for a size, seed and day; ``size`` is
about the number of sales orders. Standard library only.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
REGION_CODES = {"华东": "310115", "华北": "110105", "华南": "440305", "华中": "420106",
                "西南": "510107", "西北": "610113", "东北": "210102"}
CITY = {"华东": "上海", "华北": "北京", "华南": "深圳", "华中": "武汉", "西南": "成都",
        "西北": "西安", "东北": "沈阳"}
WORDS = ["华信", "恒通", "瑞丰", "宏达", "鼎盛", "金桥", "博远", "新源", "天成", "嘉禾", "合众",
         "振华", "东方", "锦程", "安泰", "永昌"]
KINDS = [("制造业", "精密制造有限公司"), ("批发零售", "商贸有限公司"),
         ("建筑业", "建设工程有限公司"), ("信息技术", "科技有限公司"),
         ("交通物流", "物流有限公司"), ("餐饮住宿", "餐饮管理有限公司")]
RATING_LIMIT = {"AAA": 2_000_000, "AA": 1_000_000, "A": 500_000, "BBB": 200_000,
                "BB": 100_000, "B": 50_000, "C": 0}


def uscc(region: str, rng: random.Random) -> str:
    """A unified social credit code with a correct GB 32100-2015 check character."""
    body = "91" + REGION_CODES[region] + "".join(rng.choice(ALPHABET[:10]) for _ in range(8))
    body += rng.choice(ALPHABET[:10])
    total = sum(ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS, strict=True))
    return body + ALPHABET[(31 - total % 31) % 31]


def _money(value: int | Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def generate(size: int, seed: int) -> dict[str, list[dict]]:
    """Records per entity key; relations as {"$seed": n, "entity": key} (1-based)."""
    rng = random.Random(seed)
    size = max(8, int(size))
    today = dt.date.today()
    customers, used = [], []
    names: set[str] = set()
    for _ in range(max(5, size // 4)):
        region = rng.choice(list(REGION_CODES))
        industry, suffix = rng.choice(KINDS)
        name = f"{CITY[region]}{rng.choice(WORDS)}{suffix}"
        while name in names:
            name = f"{CITY[region]}{rng.choice(WORDS)}{rng.choice(WORDS)}{suffix}"
        names.add(name)
        rating = rng.choices(list(RATING_LIMIT), (1, 3, 5, 6, 3, 2, 1))[0]
        customers.append({"name": name, "uscc": uscc(region, rng), "industry": industry,
                          "region": region, "rating": rating,
                          "credit_limit": _money(RATING_LIMIT[rating]),
                          "used_credit": "0.00", "payment_term": rng.choice((30, 45, 60)),
                          "credit_status": "normal"})
        used.append(Decimal(0))
    applications = []
    for index, customer in enumerate(customers, start=1):
        if rng.random() < 0.5:
            amount = rng.choice((20_000, 45_000, 80_000, 150_000, 300_000))
            approved = rng.random() < 0.7
            applications.append({
                "customer": {"$seed": index, "entity": "customer"},
                "customer_name": customer["name"], "current_limit": customer["credit_limit"],
                "requested_amount": _money(amount), "requested_term": customer["payment_term"],
                "reason": "业务增长，申请提高信用额度", "applicant_dept": "sales",
                "status": "approved" if approved else "submitted",
                "approved_limit": _money(amount) if approved else None})
    orders, receipts = [], []
    for n in range(size):
        index = rng.randrange(len(customers))
        customer = customers[index]
        order_date = today - dt.timedelta(days=rng.randrange(5, 160))
        due = order_date + dt.timedelta(days=customer["payment_term"])
        amount = Decimal(rng.randrange(2_000, 60_000))
        paid = due < today and rng.random() < 0.55
        orders.append({"customer": {"$seed": index + 1, "entity": "customer"},
                       "amount": _money(amount), "order_date": order_date.isoformat(),
                       "due_date": due.isoformat(),
                       "paid_amount": _money(amount if paid else 0),
                       "status": "paid" if paid else "open", "region": customer["region"]})
        if paid:
            received = due - dt.timedelta(days=rng.randrange(-20, 10))
            receipts.append({"customer": {"$seed": index + 1, "entity": "customer"},
                             "sales_order": {"$seed": n + 1, "entity": "sales_order"},
                             "amount": _money(amount), "received_on": received.isoformat(),
                             "method": rng.choice(("银行转账", "承兑汇票")),
                             "on_time": received <= due})
        else:
            used[index] += amount
    for customer, total in zip(customers, used, strict=True):
        customer["used_credit"] = _money(total)
        if total > Decimal(customer["credit_limit"]):
            customer["credit_limit"] = _money(total + 50_000)
    return {"customer": customers, "credit_application": applications,
            "sales_order": orders, "receipt": receipts}
