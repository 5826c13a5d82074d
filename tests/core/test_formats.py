from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.formats import rfc3339


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 5, 6, 17, tzinfo=UTC), "2026-05-06T17:00:00Z"),
        (datetime(2026, 5, 6, 17, 0, 0, 250000, tzinfo=UTC), "2026-05-06T17:00:00.25Z"),
        (datetime(2026, 5, 6, 17, 0, 0, 1, tzinfo=UTC), "2026-05-06T17:00:00.000001Z"),
        (datetime(2026, 5, 6, 19, tzinfo=timezone(timedelta(hours=2))), "2026-05-06T17:00:00Z"),
        (datetime(21, 7, 22, 21, 49, 51, tzinfo=UTC), "0021-07-22T21:49:51Z"),  # schemathesis
        (None, None),
    ],
)
def test_rfc3339(value, expected):
    assert rfc3339(value) == expected
