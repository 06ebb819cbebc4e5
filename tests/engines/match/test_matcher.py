"""Matcher statuses on a hand-built ledger/channel pair with expected rows written out."""

from datetime import UTC, datetime, timedelta

import pytest

from engines.match.bills import CHINA_STANDARD_TIME, SettlementLine
from engines.match.errors import MatchInputError
from engines.match.matcher import MatchConfig, reconcile
from engines.match.results import MatchItem

CST = CHINA_STANDARD_TIME
PAID = datetime(2026, 11, 20, 10, 0, tzinfo=CST)  # 02:00 UTC


def ledger(ref, txn, order, amount, *, kind="payment", currency="CNY", paid_at=PAID):
    return {
        "id": ref,
        "kind": kind,
        "gateway_txn_id": txn,
        "order_no": order,
        "amount": amount,
        "currency": currency,
        "paid_at": paid_at,
    }


def line(
    line_no, txn, order, amount, *, kind="payment", currency="CNY", at=PAID + timedelta(seconds=5)
):
    return SettlementLine(
        channel="alipay",
        kind=kind,
        gateway_txn_id=txn,
        order_no=order,
        amount_minor=amount,
        fee_minor=0,
        net_minor=amount,
        currency=currency,
        occurred_at=at.astimezone(UTC),
        settle_date=None,
        masked_card=None,
        line_no=line_no,
    )


LEFT = [
    ledger(1, "T1", "O1", 10000),
    ledger(2, "T2", "O2", 5000),
    ledger(3, "T3", "O3", 700),
    ledger(4, None, "O4", 1200),  # the callback never stored the gateway id
    ledger(5, "T1", "O1", 3000, kind="refund"),  # stored positive, compared as -3000
    ledger(6, "T6", "O6", 800),
    ledger(7, "T6", "O6", 800),  # booked twice
    ledger(8, "T8", "O8", 900),
    ledger(9, "T9", "O9", 2500, currency="USD"),
    ledger(12, None, "O12", 100),  # its order no appears twice in the channel file
    ledger(13, "T13", "O13", 300),
]
RIGHT = [
    line(2, "T1", "O1", 10000),
    line(3, "T2", "O2", 5001),
    line(4, "T4", "O4", 1200),
    line(5, "T1", "O1", -3000, kind="refund"),
    line(6, "T6", "O6", 800),
    line(7, "T8", "O8", 900, at=PAID + timedelta(days=2)),
    line(8, "T9", "O9", 2500),
    line(9, "T10", "O10", 4200),
    line(10, "T1", "O1", 10000),  # line 2 again
    line(11, "T12a", "O12", 100),
    line(12, "T12b", "O12", 100),
    line(13, "T13X", "O13", 300),  # same order no, different gateway id: not the same txn
]
P, R = "payment", "refund"
EXPECTED = [
    ("matched", P, "CNY", 1, 2, 10000, 10000, 0, "primary", "T1", None),
    ("amount_mismatch", P, "CNY", 2, 3, 5000, 5001, 1, "primary", "T2", None),
    ("missing_in_channel", P, "CNY", 3, None, 700, None, -700, None, "T3", None),
    ("matched", P, "CNY", 4, 4, 1200, 1200, 0, "fallback", "O4", None),
    ("matched", R, "CNY", 5, 5, -3000, -3000, 0, "primary", "T1", None),
    ("matched", P, "CNY", 6, 6, 800, 800, 0, "primary", "T6", None),
    ("duplicate", P, "CNY", 7, None, 800, None, -800, None, "T6", 6),
    ("out_of_window", P, "CNY", 8, 7, 900, 900, 0, "primary", "T8", None),
    ("amount_mismatch", P, "USD", 9, 8, 2500, 2500, None, "primary", "T9", None),
    ("missing_in_channel", P, "CNY", 12, None, 100, None, -100, None, "O12", None),
    ("missing_in_channel", P, "CNY", 13, None, 300, None, -300, None, "T13", None),
    ("missing_in_ledger", P, "CNY", None, 9, None, 4200, 4200, None, "T10", None),
    ("duplicate", P, "CNY", None, 10, None, 10000, 10000, None, "T1", 2),
    ("missing_in_ledger", P, "CNY", None, 11, None, 100, 100, None, "T12a", None),
    ("missing_in_ledger", P, "CNY", None, 12, None, 100, 100, None, "T12b", None),
    ("missing_in_ledger", P, "CNY", None, 13, None, 300, 300, None, "T13X", None),
]


def test_every_status_on_a_hand_built_case() -> None:
    batch = reconcile(iter(LEFT), iter(RIGHT))
    assert [tuple(item) for item in batch.items] == EXPECTED
    assert batch.summary.counts == {
        "matched": 4,
        "amount_mismatch": 2,
        "out_of_window": 1,
        "missing_in_channel": 3,
        "missing_in_ledger": 4,
        "duplicate": 2,
    }
    # left CNY: 10000+5000+700+1200-3000+800+800+900+100+300; right CNY includes the
    # 2500 of line 8 (booked in USD by the ledger) and the duplicate line 10.
    cny, usd = batch.summary.currencies["CNY"], batch.summary.currencies["USD"]
    assert (cny.left_total, cny.right_total, cny.difference) == (16800, 32101, 15301)
    assert (usd.left_total, usd.right_total, usd.difference) == (2500, 0, -2500)
    assert batch.summary.as_dict()["currencies"]["CNY"]["difference"] == "153.01"
    assert (batch.summary.left_records, batch.summary.right_records) == (11, 12)
    assert batch.matched_right_refs() == {2, 4, 5, 6}
    assert [item.left_ref for item in batch.by_status("duplicate")] == [7, None]


def test_tuple_records_with_positions_and_refs_by_position() -> None:
    config = MatchConfig(
        kind=(0, 0),
        primary_key=(1, 1),
        fallback_key=None,
        amount=(2, 2),
        currency=(None, None),
        instant=None,
        ref=(None, None),
    )
    left = [("payment", "A", 100), ("payment", "B", 200)]
    right = [("payment", "B", 200), ("payment", "C", 300)]
    items = reconcile(left, right, config).items
    assert [(i.status, i.left_ref, i.right_ref) for i in items] == [
        ("missing_in_channel", 0, None),
        ("matched", 1, 0),
        ("missing_in_ledger", None, 1),
    ]
    assert {i.currency for i in items} == {"CNY"}


def test_kind_must_match() -> None:
    config = MatchConfig(fallback_key=None, instant=None, normalize_refund_sign=False)
    left = [ledger(1, "T1", None, 500)]
    right = [line(2, "T1", None, 500, kind="refund")]
    statuses = [item.status for item in reconcile(left, right, config).items]
    assert statuses == ["missing_in_channel", "missing_in_ledger"]


def test_empty_inputs() -> None:
    batch = reconcile([], [])
    assert batch.items == []
    assert sum(batch.summary.counts.values()) == 0


@pytest.mark.parametrize(
    ("record", "words"),
    [
        ({**ledger(1, "T", "O", 100), "amount": 1.0}, "integer minor units"),
        ({**ledger(1, "T", "O", 100), "amount": "1.00"}, "integer minor units"),
        ({k: v for k, v in ledger(1, "T", "O", 100).items() if k != "paid_at"}, "paid_at"),
        ({**ledger(1, "T", "O", 100), "paid_at": "2026-11-20"}, "must be a datetime"),
        ({**ledger(1, "T", "O", 100), "paid_at": None}, "must be a datetime"),
        ({**ledger(1, "T", "O", 100), "paid_at": datetime(2026, 11, 20)}, "naive"),
    ],
)
def test_unusable_records_are_refused(record: dict, words: str) -> None:
    with pytest.raises(MatchInputError, match=words) as caught:
        reconcile([ledger(0, "X", "Y", 1), record], [])
    assert caught.value.detail["record"] == 1
    assert caught.value.detail["element"] == "left"


def test_negative_window_is_refused() -> None:
    with pytest.raises(MatchInputError):
        MatchConfig(window=timedelta(days=-1))


def test_gc_state_is_restored() -> None:
    import gc

    reconcile(LEFT, RIGHT)
    assert gc.isenabled()
    gc.disable()
    try:
        reconcile(LEFT, RIGHT)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_items_are_named() -> None:
    item = reconcile(LEFT[:1], RIGHT[:1]).items[0]
    assert isinstance(item, MatchItem)
    assert (item.status, item.left_ref, item.right_ref) == ("matched", 1, 2)
