"""Cursors of the list endpoints.

Plain ``/sessions`` (the contract, docs/api-guide.md): ``next_cursor`` is the page's last
``started_at`` in RFC 3339. Only when the next session shares that instant does the server append
``~<id>`` of the page's last session, so that a page boundary inside a run of equal timestamps
loses and repeats nothing. A plain ISO 8601 timestamp is accepted too and means "strictly before
this instant".

Every other list, and ``/sessions`` with ``updated_since``: opaque, the URL-safe base64 of the
JSON array ``[kind, instant, id]``:

- ``kind`` names the list that issued it, and which kind of that list (with ``updated_since`` or
  without): one of :data:`KINDS`. A cursor is valid only there; any other list answers 400
  ``invalid_parameter`` naming ``cursor`` (:func:`decode_opaque` raises ``ValueError``), never
  another page of its own and never /deletions' 410.
- ``instant`` (RFC 3339, full precision) and ``id`` (a UUID) are the position of the page's
  last row, and nothing else: no name or other text of the data, which would be copied into
  access logs and proxies' logs with every URL.

Scenarios and users are ordered by name (then id), yet their cursors hold no name: the position
is the last row's ``(updated_at, id)``, and the next page's single query reads that row's sort
key in a subquery (:class:`RowAfter`, roleplay/selectors.py): same index bound, same cost on
page 10,000 as on page 1. Should that row be changed or deleted before the next page is asked
for, its place in the order is lost: :class:`StaleCursor`, a 400 that tells the client to start
again from the first page (a sync by ``updated_since`` is never affected: its position is its own).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db.models import BooleanField, Expression, F, Field, Func, QuerySet, Subquery
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan

from .formats import UUID_RE, parse_timestamp, rfc3339

TIE_BREAK_SEPARATOR = "~"

# The kinds of list, as each opaque cursor names its issuer.
SESSIONS = "sessions"  # the plain /sessions cursor: not opaque, named here for messages only
SESSIONS_UPDATED = "sessions.updated"
SCORECARDS = "scorecards"
SCORECARDS_UPDATED = "scorecards.updated"
SCENARIOS = "scenarios"
SCENARIOS_UPDATED = "scenarios.updated"
USERS = "users"
USERS_UPDATED = "users.updated"
DELETIONS = "deletions"
ISSUERS = {
    SESSIONS: "/sessions",
    SESSIONS_UPDATED: "/sessions with updated_since",
    SCORECARDS: "/scorecards",
    SCORECARDS_UPDATED: "/scorecards with updated_since",
    SCENARIOS: "/scenarios",
    SCENARIOS_UPDATED: "/scenarios with updated_since",
    USERS: "/users",
    USERS_UPDATED: "/users with updated_since",
    DELETIONS: "/deletions",
}
KINDS = frozenset(ISSUERS) - {SESSIONS}  # the kinds of opaque cursor

NOT_A_CURSOR = "is not a cursor returned by this endpoint"
STALE = (
    "points at a row that was changed or deleted after this cursor was issued, so its place "
    "in the order is lost; list again from the first page (without cursor)"
)

Position = tuple[datetime, uuid.UUID]  # the last row's (instant, id)


def _another_list(kind: str) -> str:
    return (
        f"was issued by {ISSUERS[kind]}; a cursor is valid only for the list (with or without "
        "updated_since) that issued it"
    )


@dataclass(frozen=True)
class SessionCursor:
    """Sessions strictly after this position in (started_at DESC, id DESC) order."""

    started_at: datetime
    id: uuid.UUID | None = None  # None: every session of that instant is already behind

    def encode(self) -> str:
        text = rfc3339(self.started_at)
        if self.id is not None:
            text += f"{TIE_BREAK_SEPARATOR}{self.id}"
        return text

    @classmethod
    def decode(cls, raw: str) -> SessionCursor:
        text, separator, tie = raw.strip().partition(TIE_BREAK_SEPARATOR)
        try:
            started_at = parse_timestamp(text)
        except ValueError:
            issuer = opaque_kind(raw)
            if issuer is not None:
                raise ValueError(_another_list(issuer)) from None
            raise
        if not separator:
            return cls(started_at)
        if not UUID_RE.match(tie):
            raise ValueError("has a malformed tie-break: expected <timestamp>~<session id>")
        return cls(started_at, uuid.UUID(tie))


def session_cursor(started_at: str, tie_id: str | None) -> str:
    """``next_cursor`` from wire-format text: the RFC 3339 instant, ``~id`` only on a tie."""
    return started_at if tie_id is None else f"{started_at}{TIE_BREAK_SEPARATOR}{tie_id}"


def encode_opaque(kind: str, at: str | datetime, row_id: str | uuid.UUID) -> str:
    """The opaque cursor of ``kind`` after the row at ``(at, row_id)``; ``at`` is RFC 3339 text
    (the wire rendering, full precision) or a datetime."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of cursor: {kind!r}")
    text = at if isinstance(at, str) else rfc3339(at)
    return dump_opaque([kind, text, str(row_id)])


def dump_opaque(key: list[Any]) -> str:
    """A cursor's JSON array as the URL-safe base64 every opaque cursor is (the breakdown's
    too, analytics/breakdown.py)."""
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def load_opaque(raw: str) -> Any:
    """What :func:`dump_opaque` made of it, or None if ``raw`` is not base64 of JSON."""
    text = raw.strip()
    try:
        padded = text + "=" * (-len(text) % 4)
        return orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return None


def opaque_kind(raw: str) -> str | None:
    """The kind named by an opaque cursor, or None if ``raw`` is not one."""
    key = load_opaque(raw)
    if isinstance(key, list) and len(key) == 3 and isinstance(key[0], str) and key[0] in KINDS:
        return key[0]
    return None


def decode_opaque(raw: str, kind: str) -> Position:
    """The position held by an opaque cursor of ``kind``; ValueError if it is malformed or was
    issued by another kind of list (the plain /sessions cursor included)."""
    key = load_opaque(raw)
    if not isinstance(key, list) or len(key) != 3 or not all(isinstance(k, str) for k in key):
        try:  # a plain /sessions cursor: say so
            SessionCursor.decode(raw)
        except ValueError:
            raise ValueError(NOT_A_CURSOR) from None
        raise ValueError(_another_list(SESSIONS))
    issuer, at, row_id = key
    if issuer not in KINDS:
        raise ValueError(NOT_A_CURSOR)
    if issuer != kind:
        raise ValueError(_another_list(issuer))
    if not UUID_RE.match(row_id):
        raise ValueError(NOT_A_CURSOR)
    try:
        return parse_timestamp(at), uuid.UUID(row_id)
    except ValueError:
        raise ValueError(NOT_A_CURSOR) from None


def opaque_page(
    found: list[dict[str, Any]], *, limit: int, kind: str, at: str
) -> tuple[list[dict[str, Any]], str | None]:
    """``found``: up to ``limit + 1`` rows fetched in the list's order (the one more tells that
    another page exists). The page, and the opaque cursor of its last row (its ``at`` column
    and ``w_id``) when another page follows."""
    if len(found) <= limit:
        return found, None
    last = found[limit - 1]
    return found[:limit], encode_opaque(kind, last[at], last["w_id"])


class StaleCursor(ValueError):
    """The row a name-ordered list's cursor points at was changed or deleted since."""

    def __init__(self) -> None:
        super().__init__(STALE)


class RowAfter(Func):
    """``(a, b, ..., id) > (SELECT a, b, ..., id FROM <the anchor row>)``: one row comparison
    with a row subquery. PostgreSQL runs the subquery once (an InitPlan) and takes the comparison
    as an index bound, as it does for ``(a, id) > (%s, %s)``; SQLite reads row values (3.15+).
    No anchor row: the comparison is NULL, and no row matches."""

    output_field = BooleanField()

    def __init__(self, order: Sequence[str], anchor: QuerySet):
        super().__init__(
            Tuple(*(F(name) for name in order)),
            Subquery(anchor.values(*order), output_field=Field()),
        )

    def as_sql(self, compiler, connection, **extra_context):
        row, anchor = self.get_source_expressions()
        row_sql, row_params = compiler.compile(row)
        anchor_sql, anchor_params = compiler.compile(anchor)
        return f"{row_sql} > {anchor_sql}", (*row_params, *anchor_params)


def keyset_page(
    rows: QuerySet,
    *,
    order: Sequence[str],
    after: tuple[Any, ...] | None,
    limit: int,
    columns: Mapping[str, Expression],
) -> tuple[list[dict[str, Any]], tuple[Any, ...] | None]:
    """One page of ``rows`` in ``order`` (ascending, ending in ``id``) strictly after the sort
    key ``after`` (its values), and the sort key of its last row when another page follows.

    For a reader that keeps its position itself (a CSV export, core/export.py), never in a URL:
    the key holds the row's names. Unlike the lists' cursors, the position is the key, not a
    row to look up, so an edit to the row it came from cannot lose it: the list goes on from
    where that row was."""
    if after is not None:
        rows = rows.filter(TupleGreaterThan(Tuple(*(F(name) for name in order)), after))
    keys = {f"k_{name}": F(name) for name in order}
    found = list(rows.order_by(*order).values(**columns, **keys)[: limit + 1])
    if len(found) <= limit:
        return found, None
    last = found[limit - 1]
    return found[:limit], tuple(last[key] for key in keys)
