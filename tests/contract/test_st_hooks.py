"""The schemathesis hooks accept exactly the periods and cursors the server accepts."""

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from analytics.views import DEFAULT_PERIOD
from core import cursors
from core.formats import rfc3339
from tests.contract.st_hooks import SUMMARY_PERIOD, _cursor_ok, _period_ok

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


_AT = datetime(2026, 5, 6, 17, 0, tzinfo=UTC)
_ID = "30000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    ("path", "kind", "query", "valid"),
    [
        ("/api/v1/scorecards", cursors.SCORECARDS, {}, True),
        ("/api/v1/scorecards", cursors.SCORECARDS_UPDATED, {"updated_since": "2026-01-01"}, True),
        ("/api/v1/scorecards", cursors.SCORECARDS_UPDATED, {}, False),
        ("/api/v1/scorecards", cursors.DELETIONS, {}, False),
        ("/api/v1/deletions", cursors.DELETIONS, {}, True),
        ("/api/v1/deletions", cursors.SCORECARDS, {}, False),
        ("/api/v1/sessions", cursors.SESSIONS_UPDATED, {"updated_since": "2026-01-01"}, True),
        ("/api/v1/sessions", cursors.SESSIONS_UPDATED, {}, False),
        ("/api/v1/users", cursors.USERS_UPDATED, {"updated_since": "2026-01-01"}, True),
        # A position in the live data, which no generated cursor knows: negative cases only.
        ("/api/v1/users", cursors.USERS, {}, False),
        ("/api/v1/scenarios", cursors.SCENARIOS, {}, False),
    ],
)
def test_cursor_rule(path, kind, query, valid):
    """A positive case carries a cursor of the list and kind it is sent to, as the server
    requires (tests/core/test_cursors.py)."""
    assert _cursor_ok(path, cursors.encode_opaque(kind, _AT, _ID), query) is valid


def test_plain_sessions_cursors_only_at_plain_sessions():
    plain = rfc3339(_AT)
    assert _cursor_ok("/api/v1/sessions", plain, {}) is True
    assert _cursor_ok("/api/v1/sessions", f"{plain}~{_ID}", {}) is True
    assert _cursor_ok("/api/v1/sessions", plain, {"updated_since": "2026-01-01"}) is False
    assert _cursor_ok("/api/v1/scorecards", plain, {}) is False
