"""Wire formats of the contract (docs/api-guide.md, Formats): timestamps and UUIDs, out and in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Literal

# \Z, not $: $ also matches before a trailing newline, and uuid.UUID() refuses what follows.
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)


def rfc3339(value: datetime | None) -> str | None:
    """UTC with a ``Z``; fractional seconds only when non-zero (trailing zeros trimmed)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    # Not strftime: its %Y drops leading zeros of years before 1000 on glibc.
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


# ISO 8601 as integrations send it: date alone, or date + time with optional fraction and offset.
# The offset may start with a space: an unencoded "+" in a URL arrives as one.
TIMESTAMP_RE = re.compile(
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ](?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.(?P<fraction>[0-9]{1,9}))?)?)"
    r"(?P<offset>[Zz]|[+\- ][0-9]{2}(?::?[0-9]{2})?)?)?\Z"
)
TIMESTAMP_HELP = "must be an ISO 8601 timestamp such as 2026-05-06T17:00:00Z or a date 2026-05-06"

Edge = Literal["start", "end"]
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def parse_timestamp(raw: str, *, date_means: Edge = "start") -> datetime:
    """ISO 8601 -> aware UTC datetime. A date alone is the start (or end) of that UTC day."""
    match = TIMESTAMP_RE.match(raw)
    if not match:
        raise ValueError(TIMESTAMP_HELP)
    # RFC 3339 allows year 0; Python's calendar starts at year 1. Year 0 is read as 2000, a
    # leap year too (so the same dates are valid), and moved back once it is an instant.
    year_zero = match["date"].startswith("0000-")
    date_text = "2000" + match["date"][4:] if year_zero else match["date"]
    try:
        day = datetime.strptime(date_text, "%Y-%m-%d").replace(tzinfo=UTC)
        if match["time"] is None:
            if date_means == "end":
                day = day.replace(hour=23, minute=59, second=59, microsecond=999999)
            return EARLIEST if year_zero else day
        clock = match["time"]
        if match["fraction"]:  # Python keeps microseconds; finer digits are dropped
            clock = clock[: clock.index(".") + 1] + match["fraction"][:6].ljust(6, "0")
        parsed_time = time.fromisoformat(clock)
        offset = match["offset"] or "Z"
        if offset[0] == " ":
            offset = "+" + offset[1:]
        zone = datetime.fromisoformat(f"2000-01-01T00:00:00{offset.upper()}").tzinfo
        local = datetime.combine(day.date(), parsed_time, tzinfo=zone)
    except ValueError:
        raise ValueError(TIMESTAMP_HELP) from None
    if year_zero:  # before year 1, unless its offset carries it into 0001-01-01 UTC
        instant = local.astimezone(UTC)
        return instant.replace(year=1) if instant.year == 2001 else EARLIEST
    try:
        return local.astimezone(UTC)
    except OverflowError:
        # A real instant just outside what Python can hold (0001-01-01T00:00+01:00): nothing
        # happened before or after it, so the nearest representable instant means the same.
        return EARLIEST if local.year == 1 else LATEST
