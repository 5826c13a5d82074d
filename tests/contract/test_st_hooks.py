"""The schemathesis hooks accept exactly the periods the server accepts."""

import subprocess
import sys

import pytest

from analytics.views import DEFAULT_PERIOD
from tests.contract.st_hooks import SUMMARY_PERIOD, _period_ok

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


def test_the_summary_period_is_the_servers():
    assert SUMMARY_PERIOD == DEFAULT_PERIOD


def test_the_hooks_load_before_django_is_set_up():
    """As schemathesis loads them: a module that needs the app registry fails there."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import tests.contract.st_hooks"], capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr
