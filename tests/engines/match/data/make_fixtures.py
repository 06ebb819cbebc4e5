"""Write the channel bill fixtures used by the match engine tests.

Run: .venv/bin/python tests/engines/match/data/make_fixtures.py
The files are committed; this script documents exactly how each one was produced
(encoding, BOM, line endings, which quirk or defect each variant carries).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,"
    "终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def alipay_row(
    txn, order, kind, created, completed, account, order_amt, received, discount, refund_no, fee
):
    """Alipay pads every value with a tab before the comma, and ends rows with ','."""
    values = [
        txn,
        order,
        kind,
        "充值卡",
        created,
        completed,
        "",
        "",
        "",
        "",
        account,
        order_amt,
        received,
        "0.00",
        "0.00",
        "0.00",
        discount,
        "0.00",
        "",
        "0.00",
        "0.00",
        refund_no,
        fee,
        "0.00",
        "",
    ]
    return "".join(f"{value}\t," for value in values[:-1]) + values[-1]


ALIPAY_LINES = [
    "#支付宝交易记录明细查询",
    "#账号:[20881234567890120156]",
    "#起始日期:[2026年11月20日 00:00:00]   终止日期:[2026年11月21日 00:00:00]",
    "#-----------------------------------------业务明细列表----------------------------------------",
    ALIPAY_HEADER,
    # line 6: a plain payment
    alipay_row(
        "2026112022001412340000000001",
        "ORD-20261120-000001",
        "交易",
        "2026-11-20 10:01:02",
        "2026-11-20 10:01:05",
        "138****0000",
        "100.00",
        "100.00",
        "0.00",
        "",
        "-0.60",
    ),
    # line 7: completed just after local midnight (CST) = 16:00:03 UTC the day before
    alipay_row(
        "2026112022001412340000000002",
        "ORD-20261120-000005",
        "交易",
        "2026-11-20 23:59:58",
        "2026-11-21 00:00:03",
        "abc***@163.com",
        "63.80",
        "58.80",
        "5.00",
        "",
        "-0.35",
    ),
    # line 8: partial refund of the first payment; the fee comes back (positive)
    alipay_row(
        "2026112022001412340000000001",
        "ORD-20261120-000001",
        "退款",
        "2026-11-20 15:00:00",
        "2026-11-20 15:00:01",
        "138****0000",
        "-30.00",
        "-30.00",
        "0.00",
        "2026112000001",
        "0.18",
    ),
    "#-----------------------------------------业务明细列表结束------------------------------------",
    "#交易合计：2笔，商家实收共：158.80元，商家优惠共：5.00元",
    "#退款合计：1笔，商家实收退款共：-30.00元，商家优惠退款共：0.00元",
    "#导出时间：[2026年11月21日 09:12:33]",
]

WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)


def wechat_row(
    time, txn, order, status, settled, refund_id, refund_no, refunded, fee, order_amt, requested
):
    values = [
        time,
        "wx2421b1c4370ec43b",
        "10000100",
        "0",
        "",
        txn,
        order,
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "NATIVE",
        status,
        "CMB_CREDIT",
        "CNY",
        settled,
        "0.00",
        refund_id,
        refund_no,
        refunded,
        "0.00",
        "ORIGINAL" if refund_id else "",
        "SUCCESS" if refund_id else "",
        "商品",
        "",
        fee,
        "0.60%",
        order_amt,
        requested,
        "",
    ]
    return ",".join(f"`{value}" for value in values)


WECHAT_LINES = [
    WECHAT_HEADER,
    # line 2
    wechat_row(
        "2026-11-20 10:01:02",
        "4200001234202611200000000002",
        "ORD-20261120-000002",
        "SUCCESS",
        "100.00",
        "0",
        "0",
        "0.00",
        "0.60000",
        "100.00",
        "0.00",
    ),
    # line 3: fee 0.36300 rounds down to 0.36
    wechat_row(
        "2026-11-20 11:30:00",
        "4200001234202611200000000003",
        "ORD-20261120-000006",
        "SUCCESS",
        "60.50",
        "0",
        "0",
        "0.00",
        "0.36300",
        "60.50",
        "0.00",
    ),
    # line 4: fee 0.00500 rounds half-up to 0.01 (banker's rounding would give 0.00)
    wechat_row(
        "2026-11-20 23:59:59",
        "4200001234202611200000000004",
        "ORD-20261120-000009",
        "SUCCESS",
        "1.00",
        "0",
        "0",
        "0.00",
        "0.00500",
        "1.00",
        "0.00",
    ),
    # line 5: partial refund of line 2's order; the fee comes back (negative)
    wechat_row(
        "2026-11-20 16:00:00",
        "4200001234202611200000000002",
        "ORD-20261120-000002",
        "REFUND",
        "0.00",
        "50000000012026112000000001",
        "RF-ORD-20261120-000002",
        "20.00",
        "-0.12000",
        "0.00",
        "20.00",
    ),
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
    # line 7: rows' fees rounded: 60 + 36 + 1 - 12 = 85 fen; exact sum 0.84800
    "`4,`161.50,`20.00,`0.00,`0.84800,`161.50,`20.00",
]

UNIONPAY_HEADER = (
    "清算日期,交易日期,交易时间,商户号,终端号,卡号,交易类型,交易金额,手续费,清算金额,"
    "系统参考号,商户订单号"
)
UNIONPAY_LINES = [
    UNIONPAY_HEADER,
    "20261121,20261120,100102,898310048990001,01234567,622588******1234,消费,100.00,0.55,99.45,"
    "000123456789,ORD-20261120-000003",
    # line 3: 00:00:01 CST on the 21st = 16:00:01 UTC on the 20th
    "20261121,20261121,000001,898310048990001,01234567,621700******5678,消费,250.00,1.38,248.62,"
    "000123456790,ORD-20261121-000007",
    # line 4: refund (退货): amounts printed positive
    "20261122,20261121,093000,898310048990001,01234567,622588******1234,退货,50.00,0.28,49.72,"
    "000123456791,ORD-20261120-000003",
]

STRIPE_HEADER = (
    "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
    "reporting_category,source_id,description,payment_metadata[order_no]"
)
STRIPE_LINES = [
    STRIPE_HEADER,
    "txn_3PqR0000000000000000001,2026-11-20 02:01:02,2026-11-22 00:00:00,usd,100.00,3.20,96.80,"
    "charge,ch_3PqR0000000000000000001,Order ORD-20261120-000004,ORD-20261120-000004",
    # line 3: zero-decimal currency, quoted description containing a comma
    "txn_3PqR0000000000000000002,2026-11-20 16:30:00,2026-11-22 00:00:00,jpy,1000,66,934,"
    'charge,ch_3PqR0000000000000000002,"Order ORD-20261121-000008, gift",ORD-20261121-000008',
    # line 4: refund, gross and net negative
    "txn_3PqR0000000000000000003,2026-11-21 01:00:00,2026-11-23 00:00:00,usd,-25.00,0.00,-25.00,"
    "refund,re_3PqR0000000000000000001,Refund for ORD-20261120-000004,ORD-20261120-000004",
    # line 5: krw, no order number in the metadata
    "txn_3PqR0000000000000000004,2026-11-20 05:00:00,2026-11-22 00:00:00,krw,15000,540,14460,"
    "charge,ch_3PqR0000000000000000003,Walk-in,",
]


def replace_line(lines, number, old, new):
    """Copy of lines with one substitution on a 1-based line (which must contain old)."""
    copy = list(lines)
    assert old in copy[number - 1], (number, old)
    copy[number - 1] = copy[number - 1].replace(old, new, 1)
    return copy


def drop_column(lines, column, header_line=1, last_data_line=None):
    """Remove a column (by header name) from the header and every data row."""
    header = lines[header_line - 1].split(",")
    index = header.index(column)
    end = last_data_line or len(lines)
    copy = list(lines)
    for number in range(header_line, end + 1):
        cells = copy[number - 1].split(",")
        del cells[index]
        copy[number - 1] = ",".join(cells)
    return copy


def write(folder, name, lines, encoding, *, bom=False, newline="\r\n"):
    data = (newline.join(lines) + newline).encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    (folder / name).write_bytes(data)


def main(folder: Path = HERE) -> None:
    """Write every fixture into folder (the committed files live next to this script)."""
    write(folder, "alipay_20261120.csv", ALIPAY_LINES, "gbk")
    write(folder, "alipay_bad_amount.csv", replace_line(ALIPAY_LINES, 7, "58.80", "58.8O"), "gbk")
    write(
        folder,
        "alipay_footer_mismatch.csv",
        replace_line(ALIPAY_LINES, 10, "158.80", "158.90"),
        "gbk",
    )
    write(folder, "alipay_truncated.csv", ALIPAY_LINES[:8], "gbk")
    write(folder, "alipay_utf8.csv", ALIPAY_LINES, "utf-8")
    write(
        folder,
        "alipay_full_card.csv",
        replace_line(ALIPAY_LINES, 8, "138****0000", "4111111111111111"),
        "gbk",
    )
    write(
        folder,
        "alipay_missing_column.csv",
        replace_line(ALIPAY_LINES, 5, ",服务费（元）,", ",服务费,"),
        "gbk",
    )

    write(folder, "wechat_20261120_bom.csv", WECHAT_LINES, "utf-8", bom=True)
    write(folder, "wechat_20261120.csv", WECHAT_LINES, "utf-8", newline="\n")
    write(folder, "wechat_gbk.csv", WECHAT_LINES, "gbk")
    write(
        folder,
        "wechat_bad_amount.csv",
        replace_line(WECHAT_LINES, 3, "`60.50", "`60.5x"),
        "utf-8",
        bom=True,
    )
    write(
        folder,
        "wechat_fee_total_mismatch.csv",
        replace_line(WECHAT_LINES, 7, "`0.84800", "`0.86000"),
        "utf-8",
        bom=True,
    )
    write(
        folder,
        "wechat_missing_column.csv",
        drop_column(WECHAT_LINES, "手续费", last_data_line=5),
        "utf-8",
        bom=True,
    )
    write(folder, "wechat_no_summary.csv", WECHAT_LINES[:5], "utf-8", bom=True)

    write(folder, "unionpay_20261121.csv", UNIONPAY_LINES, "utf-8")
    write(
        folder,
        "unionpay_full_card.csv",
        replace_line(UNIONPAY_LINES, 3, "621700******5678", "6011111111111117"),
        "utf-8",
    )
    write(
        folder, "unionpay_bad_net.csv", replace_line(UNIONPAY_LINES, 2, "99.45", "99.46"), "utf-8"
    )
    write(
        folder,
        "unionpay_bad_time.csv",
        replace_line(UNIONPAY_LINES, 4, ",093000,", ",0930,"),
        "utf-8",
    )

    write(folder, "stripe_20261120.csv", STRIPE_LINES, "utf-8", newline="\n")
    write(
        folder,
        "stripe_jpy_decimals.csv",
        replace_line(STRIPE_LINES, 3, "jpy,1000,66,934", "jpy,1000.50,66,934.50"),
        "utf-8",
    )
    write(
        folder,
        "stripe_net_mismatch.csv",
        replace_line(STRIPE_LINES, 2, ",96.80,", ",96.70,"),
        "utf-8",
    )
    write(folder, "stripe_missing_column.csv", drop_column(STRIPE_LINES, "source_id"), "utf-8")


if __name__ == "__main__":
    main()
