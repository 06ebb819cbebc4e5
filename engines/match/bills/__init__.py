"""Channel settlement bill parsers: one module per channel, one explicit registry.

``open_bill(source)`` streams ``SettlementLine`` objects out of a bill of any size;
footer/summary totals are checked when the iteration reaches the end, so a consumer
must exhaust the reader before trusting (committing) what it read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType

from engines.match.bills import alipay, stripe, unionpay, wechat
from engines.match.bills.model import (
    CHINA_STANDARD_TIME,
    PAYMENT,
    REFUND,
    BillTotals,
    SettlementLine,
)
from engines.match.bills.source import (
    UTF8_BOM,
    BillSource,
    decoded_lines,
    file_fingerprint,
    open_binary,
    read_head,
)
from engines.match.errors import BillFormatError, MatchError

__all__ = [
    "CHINA_STANDARD_TIME",
    "FORMATS",
    "PAYMENT",
    "REFUND",
    "BillFormat",
    "BillReader",
    "BillTotals",
    "SettlementLine",
    "detect_format",
    "file_fingerprint",
    "open_bill",
    "parse_bill",
    "register",
]

LineParser = Callable[[Iterator[tuple[int, str]], BillTotals], Iterator[SettlementLine]]


@dataclass(frozen=True)
class BillFormat:
    """How to read one channel's bill: its text encoding, a sniffer and a row parser."""

    channel: str
    encoding: str
    looks_like: Callable[[str], bool]
    parse: LineParser

    @classmethod
    def from_module(cls, module: ModuleType) -> BillFormat:
        """Build the format from a parser module's CHANNEL/ENCODING/looks_like/parse."""
        return cls(module.CHANNEL, module.ENCODING, module.looks_like, module.parse)


FORMATS: dict[str, BillFormat] = {}


def register(bill_format: BillFormat) -> None:
    """Add a channel format (the platform may register more channels at start-up)."""
    if bill_format.channel in FORMATS:
        raise ValueError(f"bill format {bill_format.channel!r} is already registered")
    FORMATS[bill_format.channel] = bill_format


for _module in (alipay, wechat, unionpay, stripe):
    register(BillFormat.from_module(_module))


class BillReader:
    """One pass over a bill: iterate for lines; afterwards totals and fingerprint are set.

    The footer check runs after the last line, so ``complete`` is True only when the
    whole file was read and its stated totals agreed with its rows.
    """

    def __init__(self, source: BillSource, channel: str | None = None) -> None:
        self.source = source
        self.channel = channel or detect_format(source)
        if self.channel not in FORMATS:
            raise BillFormatError(
                f"unknown channel {self.channel!r}; known: {', '.join(sorted(FORMATS))}"
            )
        self.totals = BillTotals()
        self.fingerprint: str | None = None
        self.complete = False
        self._started = False

    def __iter__(self) -> Iterator[SettlementLine]:
        if self._started:
            raise MatchError("a BillReader can be iterated only once; open the bill again")
        self._started = True
        return self._lines()

    def _lines(self) -> Iterator[SettlementLine]:
        bill_format = FORMATS[self.channel]
        digest = hashlib.sha256()
        with open_binary(self.source) as stream:
            lines = decoded_lines(stream, bill_format.encoding, self.channel, digest)
            yield from bill_format.parse(lines, self.totals)
        self.fingerprint = digest.hexdigest()
        self.complete = True


def open_bill(source: BillSource, channel: str | None = None) -> BillReader:
    """Open a bill (path, bytes or binary file) for streaming; the channel is sniffed
    when not given."""
    return BillReader(source, channel)


def parse_bill(source: BillSource, channel: str | None = None) -> list[SettlementLine]:
    """Read a whole bill into a list (small files, tests); big files: iterate open_bill."""
    return list(open_bill(source, channel))


def detect_format(source: BillSource) -> str:
    """Guess the channel from the first lines; raises BillFormatError when unknown.

    Both UTF-8 and GBK readings are tried so that a bill saved in the wrong encoding is
    still recognised and then refused with an encoding message rather than 'unknown'.
    """
    head = read_head(source)
    if head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]
    cut = head.rfind(b"\n")
    if cut > 0:
        head = head[:cut]
    readings = []
    for encoding in ("utf-8", "gbk"):
        try:
            readings.append(head.decode(encoding))
        except UnicodeDecodeError:
            continue
    for text in readings:
        for channel, bill_format in FORMATS.items():
            if bill_format.looks_like(text):
                return channel
    raise BillFormatError("unrecognised bill format: not a known channel's bill", line=1)
