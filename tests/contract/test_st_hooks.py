"""The schemathesis hooks accept exactly the periods the server accepts."""

import pytest

from tests.contract.st_hooks import _period_ok

SUMMARY = "/api/v1/analytics/summary"


@pytest.mark.parametrize(
    ("path", "query", "valid"),
    [
        (SUMMARY, {"to": "0001-01-05"}, True),  # the defaulted from is held at year 1
        (SUMMARY, {"to": "0000-01-01T00:00:00Z"}, True),
        (SUMMARY, {"from": "2999-01-01"}, False),  # later than the defaulted to (now)
        (SUMMARY, {"from": "2026-05-02", "to": "2026-05-01"}, False),
        ("/api/v1/sessions", {"from": "2026-05-01"}, True),
        ("/api/v1/sessions", {"from": "not a date"}, True),  # a negative case, kept
    ],
)
def test_period_rule(path, query, valid):
    assert _period_ok(path, query) is valid
