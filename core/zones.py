"""Calendar days, ISO weeks and months of an IANA time zone, as UTC instants and as SQL.

One source of truth for every zone: Python's ``zoneinfo`` with the pinned ``tzdata``. The
database is never asked to convert (PostgreSQL's ``AT TIME ZONE`` reads the host's own tzdata,
which may be older or newer, and SQLite has none): where SQL needs a local date, it gets
``started_at`` shifted by the zone's offset, one ``CASE`` branch per stretch of constant offset
(:func:`local_trunc`), with the stretches found here (:func:`offset_spans`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.db.models import Case, DateField, DateTimeField, ExpressionWrapper, F, Q, Value, When
from django.db.models.functions import Trunc

Unit = Literal["day", "week", "month"]
UNITS: tuple[Unit, ...] = ("day", "week", "month")
# The local dates rollups keep and buckets are listed for: every day, week and month holding
# one starts and ends at instants Python can hold, in every zone.
LATEST_INSTANT = datetime.max.replace(tzinfo=UTC)
FIRST_DAY = date(1, 2, 1)
LAST_DAY = date(9999, 11, 30)


@functools.cache
def names() -> frozenset[str]:
    """The IANA names this host's time zone data knows (the system's, else the ``tzdata``
    package), read once per process (40 ms) on first use. ``localtime`` is left out: a link to
    the host's own zone, not an IANA name."""
    return (frozenset(available_timezones()) - {"localtime"}) | {"UTC"}


def zone(name: str) -> ZoneInfo:
    """The zone of an IANA name; KeyError if unknown (``ZoneInfo`` would also load a path)."""
    if name.__class__ is not str or name not in names():
        raise KeyError(name)
    return _zone(name)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    if name == "UTC":
        return ZoneInfo("UTC") if "UTC" in available_timezones() else UTC  # type: ignore[return-value]
    try:
        return ZoneInfo(name)  # one of the known names only: never a path from the input
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise KeyError(name) from exc


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    try:
        return moment.astimezone(tz).date()
    except OverflowError:  # within hours of the calendar's ends
        return date.min if moment.year == 1 else date.max


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) of ``day`` in ``tz``. Where midnight does not exist (a DST gap at
    00:00) that is the transition; where it occurs twice, the first of them (fold 0)."""
    try:
        return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    except OverflowError:
        return (datetime.min if day.year == 1 else datetime.max).replace(tzinfo=UTC)


def bucket_of(day: date, unit: Unit) -> date:
    """The first local date of the day, ISO week (Monday) or month containing ``day``."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def next_bucket(first: date, unit: Unit) -> date:
    """The first date of the bucket after the one starting at ``first``."""
    if unit == "week":
        return first + timedelta(days=7)
    if unit == "month":
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first + timedelta(days=1)


def buckets(first: date, last: date, unit: Unit) -> Iterator[date]:
    """Every bucket overlapping the local dates ``first`` to ``last`` (inclusive), in order."""
    current = bucket_of(first, unit)
    while current <= last:
        yield current
        if current >= LAST_DAY:
            return
        current = next_bucket(current, unit)


# Offsets change at most a few times a year; probing every 12 hours finds each change (two
# changes less than 12 hours apart that cancel out would be missed: no zone has had one since
# 1970), and bisection places it to the second.
PROBE = timedelta(hours=12)
SECOND = timedelta(seconds=1)


def _offset(moment: datetime, tz: ZoneInfo) -> timedelta:
    try:
        return moment.astimezone(tz).utcoffset() or timedelta(0)
    except OverflowError:  # hours from the calendar's ends: the offset of a day inside it
        inside = moment + timedelta(days=1) if moment.year == 1 else moment - timedelta(days=1)
        return inside.astimezone(tz).utcoffset() or timedelta(0)


def offset_spans(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, timedelta]]:
    """The stretches of constant UTC offset of ``tz`` over ``[start, end]``: each is its first
    instant and offset (the first begins at ``start``), ascending."""
    spans = [(start, _offset(start, tz))]
    probe = start
    while probe < end:
        step = end if end - probe <= PROBE else probe + PROBE
        offset = _offset(step, tz)
        if offset != spans[-1][1]:
            low, high = probe, step  # the offset changes in (low, high]
            while high - low > SECOND:
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0) if middle.microsecond else middle
                if middle <= low:
                    break
                if _offset(middle, tz) == spans[-1][1]:
                    low = middle
                else:
                    high = middle
            spans.append((high, offset))
        probe = step
    return spans


def day_ranges(days: Iterable[date]) -> list[tuple[datetime, datetime]]:
    """The UTC days given as instant ranges, ascending, consecutive days merged: where
    :func:`local_trunc` must be exact when the instants between are known to hold nothing (a
    period of centuries with sessions on a few days of it)."""
    ranges: list[tuple[datetime, datetime]] = []
    for day in sorted(set(days)):
        start = datetime.combine(day, time.min, tzinfo=UTC)
        end = start + timedelta(days=1) if day < date.max else LATEST_INSTANT
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))
    return ranges


def local_trunc(
    field: str, unit: Unit, tz: ZoneInfo, ranges: list[tuple[datetime, datetime]]
) -> Case | Trunc:
    """SQL for the first local date of the ``unit`` holding ``field`` (a timestamp column) seen
    in ``tz``, exact for values inside the ``ranges`` (ascending ``(start, end)`` instants): the
    UTC timestamp shifted by the offset in force, then truncated in UTC."""

    def shifted(offset: timedelta) -> Trunc:
        moved = ExpressionWrapper(F(field) + Value(offset), output_field=DateTimeField())
        return Trunc(moved, unit, output_field=DateField(), tzinfo=UTC)

    spans = [span for start, end in ranges for span in offset_spans(start, end, tz)]
    spans = [span for i, span in enumerate(spans) if i == 0 or span[1] != spans[i - 1][1]]
    if not spans:  # nothing to be exact for
        return shifted(timedelta(0))
    if len(spans) == 1:
        return shifted(spans[0][1])
    branches = [
        When(Q(**{f"{field}__lt": spans[i + 1][0]}), then=shifted(offset))
        for i, (_, offset) in enumerate(spans[:-1])
    ]
    return Case(*branches, default=shifted(spans[-1][1]), output_field=DateField())
