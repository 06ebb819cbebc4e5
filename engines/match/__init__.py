"""Reconciliation engine: channel bill parsers, the ledger/channel matcher, vouchers.

Pure: standard library only (no Flask, no app_platform, no pandas). The platform
parses a bill with ``open_bill``, reconciles it against ledger rows with ``reconcile``
and books the matched lines with ``vouchers_for_batch``.
"""

from engines.match.bills import (
    BillReader,
    SettlementLine,
    detect_format,
    file_fingerprint,
    open_bill,
    parse_bill,
)
from engines.match.errors import BillFormatError, MatchError, MatchInputError, VoucherError
from engines.match.matcher import MatchConfig, reconcile
from engines.match.results import STATUSES, MatchBatch, MatchItem, MatchSummary
from engines.match.vouchers import (
    Account,
    Voucher,
    VoucherAccounts,
    build_vouchers,
    voucher_csv_rows,
    vouchers_for_batch,
    write_vouchers_csv,
)

__all__ = [
    "STATUSES",
    "Account",
    "BillFormatError",
    "BillReader",
    "MatchBatch",
    "MatchConfig",
    "MatchError",
    "MatchInputError",
    "MatchItem",
    "MatchSummary",
    "SettlementLine",
    "Voucher",
    "VoucherAccounts",
    "VoucherError",
    "build_vouchers",
    "detect_format",
    "file_fingerprint",
    "open_bill",
    "parse_bill",
    "reconcile",
    "voucher_csv_rows",
    "vouchers_for_batch",
    "write_vouchers_csv",
]
