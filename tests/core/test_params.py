"""The contract's timestamp rules for query parameters, one case each."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.params import parse_timestamp


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "date_means", "expected"),
    [
        ("2026-05-06T17:00:00Z", "start", utc(2026, 5, 6, 17)),  # Z honoured
        ("2026-05-06T17:00:00z", "start", utc(2026, 5, 6, 17)),
        ("2026-05-06T19:00:00+02:00", "start", utc(2026, 5, 6, 17)),  # offset honoured
        ("2026-05-06T12:00:00-05:00", "start", utc(2026, 5, 6, 17)),
        ("2026-05-06T19:00:00+0200", "start", utc(2026, 5, 6, 17)),
        ("2026-05-06T17:00:00", "start", utc(2026, 5, 6, 17)),  # none means UTC
        ("2026-05-06T19:00:00 02:00", "start", utc(2026, 5, 6, 17)),  # space where + stood
        ("2026-05-06 17:00:00Z", "start", utc(2026, 5, 6, 17)),  # space as separator
        ("2026-05-06 19:00 02:00", "start", utc(2026, 5, 6, 17)),
        ("2026-05-06T17:00Z", "start", utc(2026, 5, 6, 17)),  # minutes precision
        ("2026-05-06T17:00:00.25Z", "start", utc(2026, 5, 6, 17, 0, 0, 250000)),
        ("2026-05-06T17:00:00.123456789Z", "start", utc(2026, 5, 6, 17, 0, 0, 123456)),
        ("2026-05-06", "start", utc(2026, 5, 6)),  # date alone: start of day for from
        ("2026-05-06", "end", utc(2026, 5, 6, 23, 59, 59, 999999)),  # end of day for to
        ("2026-05-06T00:00:00Z", "end", utc(2026, 5, 6)),  # a time is taken as given
        ("2026-12-31T23:30:00-01:00", "start", utc(2027, 1, 1, 0, 30)),
        # Instants Python cannot hold are clamped, not refused: they are valid input.
        ("9999-12-31T23:59:59-10:00", "start", datetime.max.replace(tzinfo=UTC)),
        ("0001-01-01T00:00:00+01:00", "start", datetime.min.replace(tzinfo=UTC)),
        ("9999-12-31", "end", datetime.max.replace(tzinfo=UTC)),
        ("0000-01-01T00:00:00Z", "start", datetime.min.replace(tzinfo=UTC)),  # RFC 3339 year 0
        ("0000-02-29", "end", datetime.min.replace(tzinfo=UTC)),  # year 0 is a leap year
        ("0000-12-31T23:30:00-01:00", "start", utc(1, 1, 1, 0, 30)),  # year 1 in UTC
    ],
)
def test_timestamp_rules(raw, date_means, expected):
    assert parse_timestamp(raw, date_means=date_means) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "2026-05-06T25:00:00Z",
        "2026-05-06T17:00:00+25:00",
        "2026-05-06T17:00:00ZZ",
        "20260506",
        "2026-05-06T",
        "٢٠٢٦-05-06",
        "2026-05-06T17:00:00+02:00~zz",
        # Year 0 is valid, but its dates and times are checked like any other year's.
        "0000-99-99",
        "0000-02-30",
        "0000-01-01T99:00:00Z",
        "0000-01-01T00:00:00+25:00",
        " 2026-05-06",
        "2026-05-06\n",
    ],
)
def test_malformed_timestamps_are_refused(raw):
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_timestamp(raw)


@given(st.text(max_size=40), st.sampled_from(["start", "end"]))
def test_any_text_parses_or_is_a_value_error(text, date_means):
    try:
        parsed = parse_timestamp(text, date_means=date_means)
    except ValueError:
        return
    assert parsed.tzinfo is UTC


# ISO 8601 offsets are whole minutes (Python's historical zones have seconds, e.g. LMT).
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(timezones=offsets), st.sampled_from(["start", "end"]))
def test_every_iso_timestamp_is_accepted(moment, date_means):
    assert parse_timestamp(moment.isoformat(), date_means=date_means).tzinfo is UTC
