"""Schemathesis hooks: constraints of valid input that OpenAPI 3.0 cannot express.

Loaded with ``SCHEMATHESIS_HOOKS=tests.contract.st_hooks``. They narrow *positive* cases, in
every phase, to requests the contract calls valid, and nothing else:

- ``cursor`` must be a ``next_cursor`` the server issued (or, for sessions, any ISO 8601
  instant), by the same list and kind of list (with ``updated_since`` or without); a random
  string, or another list's cursor, is one the contract makes a 400. A ``/scenarios`` or
  ``/users`` cursor (without ``updated_since``) names a row of the live data by its id and
  ``updated_at``, which no generator here knows: such cases are left to negative generation.
- ``from`` must not be later than ``to`` (a cross-parameter rule); the defaulted bounds of the
  summary follow the same rule.
- ``/analytics/breakdown``: ``tz`` must be an IANA name (the schema's ``time-zone`` format
  generates them) and its ``cursor`` one issued for the same ``by`` (``breakdown-cursor``
  generates them, for any ``by``); ``from``/``to`` are read in ``tz`` as the server reads
  them.
- ``/deletions`` resumes (``since`` or its cursor) within the retention window; an older
  start is the documented 410 ``resync_required``, not a valid request.

Negative generation and every check stay as schemathesis ships them.
"""

from __future__ import annotations

import base64
import os
from datetime import UTC, date, datetime, timedelta

import orjson
import schemathesis
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from core import cursors, zones
from core.cursors import SessionCursor, decode_opaque, encode_opaque, load_opaque
from core.formats import rfc3339
from core.params import before, parse_timestamp

# The list's path -> its kind of cursor without updated_since and with it (core/cursors.py).
KINDS = {
    "/sessions": (None, cursors.SESSIONS_UPDATED),  # None: the plain <instant>[~<id>] form
    "/scorecards": (cursors.SCORECARDS, cursors.SCORECARDS_UPDATED),
    "/scenarios": (cursors.SCENARIOS, cursors.SCENARIOS_UPDATED),
    "/users": (cursors.USERS, cursors.USERS_UPDATED),
    "/deletions": (cursors.DELETIONS, cursors.DELETIONS),
}
# Kinds whose position is a row of the data (its id and updated_at), not an instant.
ANCHORED = {cursors.SCENARIOS, cursors.USERS}
# analytics.views.DEFAULT_PERIOD, which cannot be imported here: schemathesis loads this module
# before Django is set up.
SUMMARY_PERIOD = timedelta(days=30)
# settings.DELETIONS_RETENTION_DAYS (default 90) less a day, for the same reason.
DELETIONS_KEPT = timedelta(days=89)


def _cursor_ok(path: str, raw: str, query: dict) -> bool:
    kinds = next((k for suffix, k in KINDS.items() if path.endswith(suffix)), None)
    if kinds is None:
        return True
    kind = kinds[1] if "updated_since" in query else kinds[0]
    if kind in ANCHORED:
        return False
    try:
        if kind is None:
            SessionCursor.decode(raw)
        else:
            decode_opaque(raw, kind)
    except ValueError:
        return False
    return True


def _breakdown_ok(path: str, query: dict) -> bool:
    if not path.endswith("/analytics/breakdown"):
        return True
    tz, cursor, by = query.get("tz"), query.get("cursor"), query.get("by")
    if isinstance(tz, str) and tz not in zones.names():
        return False
    if isinstance(cursor, str):
        try:
            kind, named, _key = load_opaque(cursor)
        except (ValueError, TypeError):
            return False
        return kind == "breakdown" and named == by
    return True


def _local(raw: str, edge: str, tz_name: object):
    """``from``/``to`` of the breakdown as the server reads them: a date alone in ``tz``."""
    instant = parse_timestamp(raw, date_means=edge)
    if "T" in raw or " " in raw or not isinstance(tz_name, str) or tz_name not in zones.names():
        return instant
    day = date.fromisoformat(raw[:10])
    tz = zones.zone(tz_name)
    if edge == "start":
        return zones.day_start(day, tz)
    return zones.day_start(day + timedelta(days=1), tz) - timedelta(microseconds=1)


def _period_ok(path: str, query: dict) -> bool:
    raw_from, raw_to = query.get("from"), query.get("to")
    if not isinstance(raw_from, str | None) or not isinstance(raw_to, str | None):
        return True  # a negative case (wrong type): kept as generated
    tz = query.get("tz", "UTC")  # the demo tenant's zone
    try:
        if path.endswith("/analytics/breakdown"):
            start = _local(raw_from, "start", tz) if raw_from is not None else None
            end = _local(raw_to, "end", tz) if raw_to is not None else None
        else:
            start = parse_timestamp(raw_from) if raw_from is not None else None
            end = parse_timestamp(raw_to, date_means="end") if raw_to is not None else None
    except (ValueError, OverflowError):
        return True  # malformed values are negative cases, kept as generated
    if path.endswith(("/analytics/summary", "/analytics/breakdown")):
        end = end or datetime.now(UTC)
        start = start or before(end, SUMMARY_PERIOD)
    return start is None or end is None or start <= end


def _deletions_start_ok(path: str, query: dict) -> bool:
    if not path.endswith("/deletions"):
        return True
    starts = []
    try:
        if isinstance(query.get("since"), str):
            starts.append(parse_timestamp(query["since"]))
        if isinstance(query.get("cursor"), str):
            starts.append(decode_opaque(query["cursor"], cursors.DELETIONS)[0])
    except ValueError:
        return True  # malformed values are negative cases, kept as generated
    return not starts or max(starts) >= datetime.now(UTC) - DELETIONS_KEPT


@schemathesis.hook
def filter_case(ctx, case):
    # A case hook, not filter_query: schemathesis applies case hooks in every phase, coverage
    # included, whose combined examples otherwise pair a plain cursor with updated_since.
    meta = case.meta
    if meta is not None and meta.generation.mode == GenerationMode.NEGATIVE:
        return True
    query = case.query
    if not query:
        return True
    path = case.operation.path
    cursor = query.get("cursor")
    if (
        isinstance(cursor, str)
        and not path.endswith("/analytics/breakdown")
        and not _cursor_ok(path, cursor, query)
    ):
        return False
    return (
        _period_ok(path, query) and _deletions_start_ok(path, query) and _breakdown_ok(path, query)
    )


# The cursor formats of the schema, as generators of cursors this server could have issued.
_uuids = st.uuids().map(str)
_instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _opaque(*kinds: str):
    return st.tuples(st.sampled_from(kinds), _instants, _uuids).map(lambda key: encode_opaque(*key))


schemathesis.openapi.format(
    "session-cursor",
    st.one_of(
        _instants.map(rfc3339),
        st.tuples(_instants.map(rfc3339), _uuids).map("~".join),
        _opaque(cursors.SESSIONS_UPDATED),
    ),
)
schemathesis.openapi.format("scenario-cursor", _opaque(*KINDS["/scenarios"]))
schemathesis.openapi.format("user-cursor", _opaque(*KINDS["/users"]))
schemathesis.openapi.format("scorecard-cursor", _opaque(*KINDS["/scorecards"]))
schemathesis.openapi.format("deletion-cursor", _opaque(cursors.DELETIONS))
_bys = st.sampled_from(["user", "scenario", "day", "week", "month", "user,week", "week,user",
                        "scenario,month", "user,scenario", "scenario,day"])  # fmt: skip


def _breakdown_cursor(by: str) -> st.SearchStrategy[str]:
    key = [
        _uuids if name in ("user", "scenario") else st.dates().map(str) for name in by.split(",")
    ]
    return st.tuples(*key).map(
        lambda values: (
            base64.urlsafe_b64encode(orjson.dumps(["breakdown", by, list(values)]))
            .decode()
            .rstrip("=")
        )
    )


schemathesis.openapi.format("breakdown-cursor", _bys.flatmap(_breakdown_cursor))
schemathesis.openapi.format("time-zone", st.sampled_from(sorted(zones.names())))
