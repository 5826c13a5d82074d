"""Query-parameter parsing by the contract's rules (shared/api-v1.md, Formats).

A view builds a :class:`QueryParams` over ``request.query_params``, reads each parameter through
one of its methods, and calls :meth:`QueryParams.validate`: every bad parameter is reported in a
single 400 ``invalid_parameter`` whose ``details`` maps each name to its messages. Parameters
the contract does not name are ignored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Literal

from .errors import InvalidParameter

# ISO 8601 as integrations send it: date alone, or date + time with optional fraction and offset.
# The offset may start with a space: an unencoded "+" in a URL arrives as one.
TIMESTAMP_RE = re.compile(
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ](?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.(?P<fraction>[0-9]{1,9}))?)?)"
    r"(?P<offset>[Zz]|[+\- ][0-9]{2}(?::?[0-9]{2})?)?)?\Z"
)
# \Z, not $: $ also matches before a trailing newline, and uuid.UUID() refuses what follows.
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
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


def before(instant: datetime, span: timedelta) -> datetime:
    """``instant - span``, held at the earliest instant where that would be before year 1."""
    try:
        return instant - span
    except OverflowError:
        return EARLIEST


class QueryParams:
    def __init__(self, query: Mapping[str, str]):
        self.query = query
        self.errors: dict[str, list[str]] = {}

    def _raw(self, name: str) -> str | None:
        values = self.query.getlist(name) if hasattr(self.query, "getlist") else None
        if values is not None and len(values) > 1:
            self.error(name, "must be given at most once")
            return None
        return self.query.get(name)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def limit(self, default: int = 50, maximum: int = 100) -> int:
        raw = self._raw("limit")
        if raw is None:
            return default
        if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= maximum:
            self.error("limit", f"must be an integer from 1 to {maximum}")
            return default
        return int(raw)

    def timestamp(self, name: str, *, date_means: Edge = "start") -> datetime | None:
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            return parse_timestamp(raw, date_means=date_means)
        except ValueError as exc:
            self.error(name, str(exc))
            return None

    def uuid(self, name: str) -> uuid.UUID | None:
        raw = self._raw(name)
        if raw is None:
            return None
        if not UUID_RE.match(raw):
            self.error(name, "must be a UUID such as 30000000-0000-0000-0000-000000000001")
            return None
        return uuid.UUID(raw)

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        raw = self._raw(name)
        if raw is None:
            return None
        if raw not in choices:
            self.error(name, f"must be one of {', '.join(choices)}")
            return None
        return raw

    def opaque_cursor(self, size: int) -> tuple | None:
        from .cursors import decode_opaque  # cursors builds on this module

        raw = self._raw("cursor")
        if raw is None:
            return None
        try:
            return decode_opaque(raw, size)
        except ValueError as exc:
            self.error("cursor", f"{exc}; pass the next_cursor of the previous page")
            return None

    def raw(self, name: str) -> str | None:
        return self._raw(name)

    def period(self) -> tuple[datetime | None, datetime | None]:
        """``from``/``to``: inclusive bounds; a date alone spans its whole day."""
        start = self.timestamp("from", date_means="start")
        end = self.timestamp("to", date_means="end")
        if start is not None and end is not None and start > end:
            self.error("from", "must not be later than to")
        return start, end

    def validate(self) -> None:
        if self.errors:
            raise InvalidParameter(self.errors)
