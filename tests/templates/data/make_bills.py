"""Write the four channel bills of the settlement end-to-end test (business day
2026-11-20, China Standard Time), from the SCENARIO below.

Run: .venv/bin/python tests/templates/data/make_bills.py
The files are committed; the test reads them and states its expectations from SCENARIO
(the ledger it posts and the lines each bill holds), never from what the service said.

Deliberate exceptions per channel:
- alipay: A3 settled 0.50 short (amount_mismatch), A4 never settled (missing_in_channel),
  A5 settled but unknown to the ledger (missing_in_ledger, 1,500.00: a write-off needs
  the finance manager), A2 completed after midnight (matched inside the T+1 window);
- wechat: W2 reported twice (duplicate); W1 partly refunded (matched refund);
- unionpay: U2 has no gateway id in the ledger (matched on the order number),
  U3 settled an hour before the ledger's payment time (out_of_window);
- stripe: S2 never settled (missing_in_channel); S1 partly refunded.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
DAY = "2026-11-20"

# (ref, gateway txn id or "", order no, amount, paid at (CST), currency)
LEDGER_PAYMENTS = {
    "alipay": [
        ("A1", "2026112022001400000000000001", "ORD-A1", "100.00", "10:01:05", "CNY"),
        ("A2", "2026112022001400000000000002", "ORD-A2", "88.80", "23:59:58", "CNY"),
        ("A3", "2026112022001400000000000003", "ORD-A3", "50.00", "12:00:00", "CNY"),
        ("A4", "2026112022001400000000000004", "ORD-A4", "20.00", "13:00:00", "CNY"),
    ],
    "wechat": [
        ("W1", "4200001234202611200000000001", "ORD-W1", "100.00", "10:01:02", "CNY"),
        ("W2", "4200001234202611200000000002", "ORD-W2", "60.50", "11:30:00", "CNY"),
    ],
    "unionpay": [
        ("U1", "000000000101", "ORD-U1", "100.00", "10:01:02", "CNY"),
        ("U2", "", "ORD-U2", "250.00", "14:00:00", "CNY"),
        ("U3", "000000000103", "ORD-U3", "75.00", "16:00:00", "CNY"),
    ],
    "stripe": [
        ("S1", "ch_3LoomTest000000000001", "ORD-S1", "100.00", "10:01:02", "USD"),
        ("S2", "ch_3LoomTest000000000002", "ORD-S2", "40.00", "11:00:00", "USD"),
    ],
}
# (ref, payment ref, gateway refund id, amount (positive), refunded at (CST))
LEDGER_REFUNDS = {
    "alipay": [("RA1", "A1", "2026112000001", "30.00", "15:00:01")],
    "wechat": [("RW1", "W1", "50000000012026112000000001", "20.00", "16:00:00")],
    "stripe": [("RS1", "S1", "re_3LoomTest000000000001", "25.00", "14:00:00")],
}
# What each bill holds: (line no in the file, kind, key, order no, amount (signed), fee)
BILL_LINES = {
    "alipay": [
        (6, "payment", "2026112022001400000000000001", "ORD-A1", "100.00", "0.60"),
        (7, "payment", "2026112022001400000000000002", "ORD-A2", "88.80", "0.53"),
        (8, "payment", "2026112022001400000000000003", "ORD-A3", "49.50", "0.30"),
        (9, "payment", "2026112022001400000000000005", "ORD-A5", "1500.00", "9.00"),
        (10, "refund", "2026112000001", "ORD-A1", "-30.00", "-0.18"),
    ],
    "wechat": [
        (2, "payment", "4200001234202611200000000001", "ORD-W1", "100.00", "0.60"),
        (3, "payment", "4200001234202611200000000002", "ORD-W2", "60.50", "0.36"),
        (4, "payment", "4200001234202611200000000002", "ORD-W2", "60.50", "0.36"),
        (5, "refund", "50000000012026112000000001", "ORD-W1", "-20.00", "-0.12"),
    ],
    "unionpay": [
        (2, "payment", "000000000101", "ORD-U1", "100.00", "0.55"),
        (3, "payment", "000000000102", "ORD-U2", "250.00", "1.38"),
        (4, "payment", "000000000103", "ORD-U3", "75.00", "0.41"),
    ],
    "stripe": [
        (2, "payment", "ch_3LoomTest000000000001", "ORD-S1", "100.00", "3.20"),
        (3, "refund", "re_3LoomTest000000000001", "ORD-S1", "-25.00", "0.00"),
    ],
}

ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,"
    "终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def alipay_row(txn: str, order: str, kind: str, created: str, completed: str, amount: str,
               refund_no: str, fee: str) -> str:
    values = [txn, order, kind, "充值卡", created, completed, "", "", "", "", "138****0000",
              amount, amount, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
              refund_no, fee, "0.00", ""]
    return "".join(f"{value}\t," for value in values[:-1]) + values[-1]


def alipay() -> bytes:
    rows = [
        alipay_row("2026112022001400000000000001", "ORD-A1", "交易", f"{DAY} 10:01:02",
                   f"{DAY} 10:01:05", "100.00", "", "-0.60"),
        alipay_row("2026112022001400000000000002", "ORD-A2", "交易", f"{DAY} 23:59:58",
                   "2026-11-21 00:00:03", "88.80", "", "-0.53"),
        alipay_row("2026112022001400000000000003", "ORD-A3", "交易", f"{DAY} 12:00:00",
                   f"{DAY} 12:00:02", "49.50", "", "-0.30"),
        alipay_row("2026112022001400000000000005", "ORD-A5", "交易", f"{DAY} 17:00:00",
                   f"{DAY} 17:00:04", "1500.00", "", "-9.00"),
        alipay_row("2026112022001400000000000001", "ORD-A1", "退款", f"{DAY} 15:00:00",
                   f"{DAY} 15:00:01", "-30.00", "2026112000001", "0.18"),
    ]
    lines = [
        "#支付宝交易记录明细查询", "#账号:[20881234567890120156]",
        "#起始日期:[2026年11月20日 00:00:00]   终止日期:[2026年11月21日 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ALIPAY_HEADER, *rows,
        "#-----------------------------------------业务明细列表结束------------------------------------",
        "#交易合计：4笔，商家实收共：1738.30元，商家优惠共：0.00元",
        "#退款合计：1笔，商家实收退款共：-30.00元，商家优惠退款共：0.00元",
        "#导出时间：[2026年11月21日 09:12:33]",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)


def wechat_row(time: str, txn: str, order: str, status: str, settled: str, refund_id: str,
               refund_no: str, refunded: str, fee: str, order_amt: str,
               requested: str) -> str:
    values = [time, "wx2421b1c4370ec43b", "10000100", "0", "", txn, order,
              "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "NATIVE", status, "CMB_CREDIT", "CNY", settled,
              "0.00", refund_id, refund_no, refunded, "0.00",
              "ORIGINAL" if refund_id != "0" else "", "SUCCESS" if refund_id != "0" else "",
              "商品", "", fee, "0.60%", order_amt, requested, ""]
    return ",".join(f"`{value}" for value in values)


def wechat() -> bytes:
    w1, w2 = "4200001234202611200000000001", "4200001234202611200000000002"
    lines = [
        WECHAT_HEADER,
        wechat_row(f"{DAY} 10:01:02", w1, "ORD-W1", "SUCCESS", "100.00", "0", "0", "0.00",
                   "0.60000", "100.00", "0.00"),
        wechat_row(f"{DAY} 11:30:00", w2, "ORD-W2", "SUCCESS", "60.50", "0", "0", "0.00",
                   "0.36300", "60.50", "0.00"),
        wechat_row(f"{DAY} 11:30:00", w2, "ORD-W2", "SUCCESS", "60.50", "0", "0", "0.00",
                   "0.36300", "60.50", "0.00"),
        wechat_row(f"{DAY} 16:00:00", w1, "ORD-W1", "REFUND", "0.00",
                   "50000000012026112000000001", "RF-ORD-W1", "20.00", "-0.12000", "0.00",
                   "20.00"),
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        "`4,`221.00,`20.00,`0.00,`1.20600,`221.00,`20.00",
    ]
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


def unionpay() -> bytes:
    lines = [
        "清算日期,交易日期,交易时间,商户号,终端号,卡号,交易类型,交易金额,手续费,清算金额,系统参考号,商户订单号",
        "20261121,20261120,100105,898310048990001,01234567,622588******1234,消费,100.00,0.55,"
        "99.45,000000000101,ORD-U1",
        "20261121,20261120,140003,898310048990001,01234567,621700******5678,消费,250.00,1.38,"
        "248.62,000000000102,ORD-U2",
        "20261121,20261120,150000,898310048990001,01234567,622588******4321,消费,75.00,0.41,"
        "74.59,000000000103,ORD-U3",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def stripe() -> bytes:
    lines = [
        "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
        "reporting_category,source_id,description,payment_metadata[order_no]",
        "txn_3LoomTest000000000001,2026-11-20 02:01:10,2026-11-22 00:00:00,usd,100.00,3.20,"
        "96.80,charge,ch_3LoomTest000000000001,Order ORD-S1,ORD-S1",
        "txn_3LoomTest000000000002,2026-11-20 06:00:05,2026-11-22 00:00:00,usd,-25.00,0.00,"
        "-25.00,refund,re_3LoomTest000000000001,Refund for ORD-S1,ORD-S1",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


FILES = {"alipay": ("alipay_20261120.csv", alipay), "wechat": ("wechat_20261120.csv", wechat),
         "unionpay": ("unionpay_20261121.csv", unionpay),
         "stripe": ("stripe_20261120.csv", stripe)}

if __name__ == "__main__":
    for name, build in FILES.values():
        (HERE / name).write_bytes(build())
        print("wrote", name)
