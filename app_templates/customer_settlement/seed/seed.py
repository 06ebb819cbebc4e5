"""Sample data for the customer settlement template: customers, orders, card payments on
four channels over the last 30 days, refunds, and the channels' settlement lines for the
last days, with deliberate exceptions for the reconciliation to find (an amount that
differs by a few fen, a payment the channel never settled, a line the ledger does not
know, a line the channel reported twice).

``generate(size, seed)`` is deterministic for a given size, seed and day; ``size`` is
about the number of payments. Standard library only: the platform runs it at install.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

CST = dt.timezone(dt.timedelta(hours=8))
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁"
            "谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅鹏飞宇浩然子涵欣怡思雨晨阳"
CITIES = [("上海", "华东"), ("杭州", "华东"), ("南京", "华东"), ("北京", "华北"), ("天津", "华北"),
          ("广州", "华南"), ("深圳", "华南"), ("武汉", "华中"), ("成都", "西南"),
          ("重庆", "西南"), ("西安", "西北"), ("沈阳", "东北")]
PRODUCTS = [("SKU-1001", "无线耳机", "299.00"), ("SKU-1002", "机械键盘", "459.00"),
            ("SKU-1003", "保温杯", "89.00"), ("SKU-1004", "运动手环", "199.00"),
            ("SKU-1005", "充电宝", "129.00"), ("SKU-1006", "蓝牙音箱", "349.00"),
            ("SKU-1007", "咖啡豆 1kg", "168.00"), ("SKU-1008", "羊绒围巾", "899.00")]
CHANNELS = (("alipay", 0.38, Decimal("0.006")), ("wechat", 0.34, Decimal("0.006")),
            ("unionpay", 0.18, Decimal("0.0055")), ("stripe", 0.10, Decimal("0.032")))
TEST_BINS = ("622588", "621700", "436742", "622848", "524094", "411111")


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char)
        if i % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return body + str((10 - total % 10) % 10)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _gateway_id(channel: str, when: dt.datetime, n: int) -> str:
    if channel == "alipay":
        return f"{when:%Y%m%d}2200{n:016d}"
    if channel == "wechat":
        return f"4200001234{when:%Y%m%d}{n:010d}"
    if channel == "unionpay":
        return f"{n % 10**12:012d}"
    return f"ch_3Loom{n:018d}"


def generate(size: int, seed: int) -> dict[str, list[dict]]:
    """Records per entity key; relations as {"$seed": n, "entity": key} (1-based)."""
    rng = random.Random(seed)
    size = max(8, int(size))
    today = dt.datetime.now(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    customers = []
    for _ in range(max(4, size // 4)):
        city, region = rng.choice(CITIES)
        customers.append({"name": _name(rng), "region": region,
                          "phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
                          "risk_level": rng.choices(["low", "medium", "high"], [8, 3, 1])[0]})
    orders, payments, refunds, lines = [], [], [], []
    channels = [c[0] for c in CHANNELS]
    for n in range(1, size + 1):
        channel = rng.choices(channels, [c[1] for c in CHANNELS])[0]
        rate = dict((c[0], c[2]) for c in CHANNELS)[channel]
        # the last two days get a third of the payments so "today" and the bills have data
        day_back = rng.choice((0, 1)) if n % 3 == 0 else rng.randrange(30)
        when = today - dt.timedelta(days=day_back) + dt.timedelta(
            seconds=rng.randrange(8 * 3600, 23 * 3600))
        sku, product, price = rng.choice(PRODUCTS)
        quantity = rng.choices((1, 2, 3, 5), (10, 4, 2, 1))[0]
        amount = Decimal(price) * quantity
        currency = "USD" if channel == "stripe" else "CNY"
        if currency == "USD":
            amount = (amount / 7).quantize(Decimal("0.01"))
        fee = (amount * rate).quantize(Decimal("0.01"))
        customer = rng.randrange(len(customers)) + 1
        order_no = f"ORD-{when:%Y%m%d}-{n:06d}"
        failed = rng.random() < 0.04
        orders.append({"order_no": order_no, "customer": {"$seed": customer,
                                                          "entity": "customer"},
                       "amount": _money(amount), "currency": currency,
                       "status": "pending" if failed else "paid", "ordered_at": _iso(when),
                       "items": [{"sku": sku, "product": product, "quantity": quantity,
                                  "unit_price": price,
                                  "line_amount": _money(Decimal(price) * quantity)}]})
        city, region = rng.choice(CITIES)
        txn = _gateway_id(channel, when, n)
        payments.append({
            "order_no": order_no, "order": {"$seed": n, "entity": "order"},
            "customer": {"$seed": customer, "entity": "customer"}, "channel": channel,
            "amount": _money(amount), "fee": _money(fee), "currency": currency,
            "status": "failed" if failed else "success", "gateway_txn_id": txn,
            "card": _luhn_complete(rng.choice(TEST_BINS), 16, rng),
            "payer_ip": f"{rng.choice((36, 58, 101, 112, 180, 223))}.{rng.randrange(256)}."
                        f"{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "region": city, "paid_at": _iso(when), "recon_status": "unreconciled"})
        if failed:
            continue
        if rng.random() < 0.06:
            refund_amount = (amount / 2).quantize(Decimal("0.01"))
            refund_at = when + dt.timedelta(hours=rng.randrange(1, 20))
            refunds.append({"payment": {"$seed": n, "entity": "payment"}, "order_no": order_no,
                            "channel": channel, "amount": _money(refund_amount),
                            "currency": currency, "reason": "客户申请退货",
                            "status": "success", "gateway_txn_id": txn,
                            "gateway_refund_id": f"RF{txn[-16:]}",
                            "refunded_at": _iso(refund_at), "recon_status": "unreconciled"})
        if day_back <= 1:
            lines.extend(_lines_for(n, channel, txn, order_no, amount, fee, currency, when,
                                    rng))
    return {"customer": customers, "order": orders, "payment": payments, "refund": refunds,
            "settlement_line": lines}


def _lines_for(n: int, channel: str, txn: str, order_no: str, amount: Decimal, fee: Decimal,
               currency: str, when: dt.datetime, rng: random.Random) -> list[dict]:
    """What the channel's bill says about one payment, with deliberate defects."""
    defect = n % 17
    if defect == 5:
        return []  # the channel never settled it: missing_in_channel
    settled = amount - Decimal("0.05") if defect == 9 else amount  # amount_mismatch
    line = {"channel": channel, "kind": "payment", "gateway_txn_id": txn,
            "order_no": order_no, "amount": _money(settled), "fee": _money(fee),
            "net": _money(settled - fee), "currency": currency,
            "occurred_at": _iso(when + dt.timedelta(seconds=rng.randrange(1, 30))),
            "masked_card": "622588******" + f"{n % 10000:04d}", "line_no": n,
            "recon_status": "unreconciled"}
    out = [line]
    if defect == 13:
        out.append({**line, "line_no": n + 100000})  # reported twice: duplicate
    if defect == 3:
        out.append({**line, "gateway_txn_id": txn + "X", "order_no": order_no + "-X",
                    "line_no": n + 200000})  # unknown to the ledger: missing_in_ledger
    return out
