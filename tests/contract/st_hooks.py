"""Schemathesis hooks: constraints of valid input that OpenAPI 3.0 cannot express.

Loaded with ``SCHEMATHESIS_HOOKS=tests.contract.st_hooks``. They narrow *positive* generation
to requests the contract calls valid, and nothing else:

- ``cursor`` must be a ``next_cursor`` the server issued (or, for sessions, any ISO 8601
  instant); a random string is a malformed cursor, which the contract makes a 400.
- ``from`` must not be later than ``to`` (a cross-parameter rule); the defaulted bounds of the
  summary follow the same rule.

Negative generation and every check stay as schemathesis ships them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import schemathesis
from hypothesis import strategies as st

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from api.cursors import SessionCursor, decode_opaque, encode_opaque
from api.formats import rfc3339
from api.params import before, parse_timestamp

OPAQUE_SIZES = {"/scenarios": 3, "/users": 2}
# analytics.views.DEFAULT_PERIOD, which cannot be imported here: schemathesis loads this module
# before Django is set up.
SUMMARY_PERIOD = timedelta(days=30)


def _cursor_ok(path: str, raw: str) -> bool:
    try:
        if path.endswith("/sessions"):
            SessionCursor.decode(raw)
        else:
            size = next((n for suffix, n in OPAQUE_SIZES.items() if path.endswith(suffix)), None)
            if size is None:
                return True
            decode_opaque(raw, size)
    except ValueError:
        return False
    return True


def _period_ok(path: str, query: dict) -> bool:
    raw_from, raw_to = query.get("from"), query.get("to")
    if not isinstance(raw_from, str | None) or not isinstance(raw_to, str | None):
        return True  # a negative case (wrong type): kept as generated
    try:
        start = parse_timestamp(raw_from) if raw_from is not None else None
        end = parse_timestamp(raw_to, date_means="end") if raw_to is not None else None
    except ValueError:
        return True  # malformed values are negative cases, kept as generated
    if path.endswith("/analytics/summary"):
        end = end or datetime.now(UTC)
        start = start or before(end, SUMMARY_PERIOD)
    return start is None or end is None or start <= end


@schemathesis.hook
def filter_query(ctx, query):
    if not query:
        return True
    path = ctx.operation.path
    cursor = query.get("cursor")
    if isinstance(cursor, str) and not _cursor_ok(path, cursor):
        return False
    return _period_ok(path, query)


# The cursor formats of the schema, as generators of cursors this server could have issued.
_uuids = st.uuids().map(str)
_instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
schemathesis.openapi.format(
    "session-cursor",
    st.one_of(
        _instants.map(rfc3339),
        st.tuples(_instants.map(rfc3339), _uuids).map("~".join),
    ),
)
schemathesis.openapi.format(
    "scenario-cursor",
    st.tuples(st.sampled_from(["active", "archived"]), st.text(max_size=30), _uuids).map(
        lambda key: encode_opaque(list(key))
    ),
)
schemathesis.openapi.format(
    "user-cursor",
    st.tuples(st.text(max_size=30), _uuids).map(lambda key: encode_opaque(list(key))),
)
