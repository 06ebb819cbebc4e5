"""Calendar arithmetic for reports: the clock, relative periods and time buckets.

Reports are read by people in one timezone (Asia/Shanghai by default) while datetimes are
stored in UTC, so "today" and "March" are computed in the report timezone and turned into
UTC bounds only at the SQL edge. The clock is injectable so tests can pin "now".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"
BUCKETS = ("day", "week", "month", "quarter", "year")
RELATIVE_PERIODS = (
    "today",
    "yesterday",
    "last_7_days",
    "last_30_days",
    "this_week",
    "this_month",
    "last_month",
    "this_quarter",
    "this_year",
    "last_year",
)


@dataclass(frozen=True)
class ReportClock:
    """Where and when a report runs: ``now`` fixed for tests, else the wall clock."""

    timezone: str = DEFAULT_TIMEZONE
    now: datetime | None = None
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    def current(self) -> datetime:
        """The current instant in the report timezone."""
        if self.now is None:
            return datetime.now(self.zone)
        if self.now.tzinfo is None:
            return self.now.replace(tzinfo=self.zone)
        return self.now.astimezone(self.zone)

    def today(self) -> date:
        return self.current().date()

    def local_midnight(self, day: date) -> datetime:
        """The instant a local calendar day starts (aware, in the report timezone)."""
        return datetime.combine(day, time.min, tzinfo=self.zone)

    def fixed_utc_offset(self) -> timedelta | None:
        """The zone's UTC offset if it never changes over the sampled years, else None.

        SQLite has no timezone database, so it can only shift by a constant; Asia/Shanghai
        has had no DST since 1991, which is why this is good enough for the default.
        """
        offsets = {
            datetime(year, month, 1, tzinfo=self.zone).utcoffset()
            for year in range(self.today().year - 3, self.today().year + 2)
            for month in (1, 4, 7, 10)
        }
        return offsets.pop() if len(offsets) == 1 else None


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def relative_date_range(name: str, clock: ReportClock) -> tuple[date, date]:
    """A named period as local calendar days ``[start, end)``; periods include today."""
    today = clock.today()
    if name == "today":
        return today, today + timedelta(days=1)
    if name == "yesterday":
        return today - timedelta(days=1), today
    if name == "last_7_days":
        return today - timedelta(days=6), today + timedelta(days=1)
    if name == "last_30_days":
        return today - timedelta(days=29), today + timedelta(days=1)
    if name == "this_week":
        monday = today - timedelta(days=today.weekday())
        return monday, monday + timedelta(days=7)
    if name == "this_month":
        return _month_start(today), _month_start(today, -1)
    if name == "last_month":
        return _month_start(today, 1), _month_start(today)
    if name == "this_quarter":
        start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        return start, _month_start(start, -3)
    if name == "this_year":
        return date(today.year, 1, 1), date(today.year + 1, 1, 1)
    if name == "last_year":
        return date(today.year - 1, 1, 1), date(today.year, 1, 1)
    raise ValueError(f"unknown relative period '{name}'")


def bucket_start(day: date, bucket: str) -> date:
    """The first day of the bucket containing ``day`` (weeks start on Monday, ISO 8601)."""
    if bucket == "day":
        return day
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    if bucket == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if bucket == "year":
        return date(day.year, 1, 1)
    raise ValueError(f"unknown bucket '{bucket}'")


def next_bucket_start(start: date, bucket: str) -> date:
    """The first day after the bucket that starts on ``start``."""
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(days=7)
    if bucket == "month":
        return _month_start(start, -1)
    if bucket == "quarter":
        return _month_start(start, -3)
    return date(start.year + 1, 1, 1)


def bucket_label(start: date, bucket: str) -> str:
    """The display/output key of a bucket; labels sort in time order as plain strings."""
    if bucket == "day":
        return start.isoformat()
    if bucket == "week":
        iso_year, iso_week, _ = start.isocalendar()
        return f"{iso_year}-W{iso_week:02d}"
    if bucket == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if bucket == "quarter":
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year:04d}"


def parse_bucket_label(label: str, bucket: str) -> tuple[date, date]:
    """Inverse of :func:`bucket_label`: the bucket's local days ``[start, end)``."""
    if bucket == "day":
        start = date.fromisoformat(label)
    elif bucket == "week":
        year, week = label.split("-W")
        start = date.fromisocalendar(int(year), int(week), 1)
    elif bucket == "month":
        year, month = label.split("-")
        start = date(int(year), int(month), 1)
    elif bucket == "quarter":
        year, quarter = label.split("-Q")
        start = date(int(year), (int(quarter) - 1) * 3 + 1, 1)
    elif bucket == "year":
        start = date(int(label), 1, 1)
    else:
        raise ValueError(f"unknown bucket '{bucket}'")
    return start, next_bucket_start(start, bucket)


def bucket_labels_between(start: date, end: date, bucket: str) -> list[str]:
    """Every bucket label touching local days ``[start, end)``, in order (for gap filling)."""
    labels = []
    cursor = bucket_start(start, bucket)
    while cursor < end:
        labels.append(bucket_label(cursor, bucket))
        cursor = next_bucket_start(cursor, bucket)
    return labels
