from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from rest_framework.request import Request
from rest_framework.response import Response

from core import cursors, export
from core.cursors import SessionCursor, StaleCursor, decode_opaque
from core.errors import InvalidParameter
from core.examples import example
from core.params import (
    FORMAT,
    LIMIT,
    PERIOD,
    SCENARIO_ID,
    UPDATED_SINCE,
    USER_ID,
    Choice,
    ChoiceSet,
    Cursor,
    Query,
)
from core.schema import PATH_ID, api_operation, envelope_of
from core.viewsets import one, page, wants_csv
from tenants.viewsets import TenantScopedViewSet

from . import selectors
from .models import Rep, Scorecard, Session
from .shapes import (
    SCENARIO,
    SCORECARD,
    SESSION_DETAIL,
    SESSION_LISTED,
    USER,
    scenario_example,
    scenario_page_example,
    scorecard_example,
    scorecard_page_example,
    session_example,
    session_page_example,
    user_example,
    user_page_example,
)

EMAIL = frozenset({"email"})
INCLUDE_EMAIL = Choice(
    "include",
    ("email",),
    "`email` adds each user's email; needs the `users:email` scope (else 403).",
)

# expand=<name> of /sessions: the extra scope it needs (None: none beyond sessions:read), and
# what it does.
EXPANSIONS: dict[str, str | None] = {"transcript": None, "scorecard": "scorecards:read"}
EXPANSION_HELP = {
    "transcript": "`transcript` inlines each session's transcript as the detail returns it",
    "scorecard": "`scorecard` inlines each session's scorecard object (null when it has none); "
    "needs `scorecards:read` as well (else 403)",
}

# Each list's query parameters, declared once: its schema and its parser (core/params.py). In
# the order they are read, which is the order a 400 names them in.
SESSION_QUERY = Query(
    LIMIT,
    PERIOD,
    USER_ID,
    SCENARIO_ID,
    Choice("status", tuple(Session.Status.values), "Only sessions in this status."),
    ChoiceSet(
        "expand",
        tuple(EXPANSIONS),
        "Comma-separated: "
        + "; ".join(EXPANSION_HELP[name] for name in EXPANSIONS)
        + ". A page still costs a constant number of queries.",
    ),
    UPDATED_SINCE,
    Cursor(
        # No example value: Swagger UI's "Try it out" would send it, and the first page a
        # visitor sees would start in the past instead of at the newest session.
        "session-cursor",
        cursors.SESSIONS,
        changes_kind=cursors.SESSIONS_UPDATED,
        description="The previous page's `next_cursor`: the RFC 3339 `started_at` of its last "
        "session (sessions strictly before it follow), with `~<session id>` appended only when "
        "the next page starts at that same instant, e.g. `2026-05-06T17:00:00Z~30000000-0000-"
        "0000-0000-000000000004`. Any ISO 8601 timestamp is accepted and means 'strictly "
        "before'.",
    ),
    FORMAT,
)
SCENARIO_QUERY = Query(
    LIMIT,
    UPDATED_SINCE,
    Cursor("scenario-cursor", cursors.SCENARIOS, changes_kind=cursors.SCENARIOS_UPDATED),
    FORMAT,
)
USER_QUERY = Query(
    LIMIT,
    Choice("role", tuple(Rep.Role.values), "Only users with this role."),
    INCLUDE_EMAIL,
    UPDATED_SINCE,
    Cursor("user-cursor", cursors.USERS, changes_kind=cursors.USERS_UPDATED),
    FORMAT,
)
USER_GET_QUERY = Query(INCLUDE_EMAIL)
SCORECARD_QUERY = Query(
    LIMIT,
    PERIOD,
    USER_ID,
    SCENARIO_ID,
    Choice("verdict", tuple(Scorecard.Verdict.values), "Only scorecards with this verdict."),
    UPDATED_SINCE,
    # (started_at, id), or with updated_since (updated_at, id): each list's own kind.
    Cursor("scorecard-cursor", cursors.SCORECARDS, changes_kind=cursors.SCORECARDS_UPDATED),
    FORMAT,
)

# Each list as CSV (core/export.py), keeping beside each row's line the columns its selector
# pages on: the list's order, or (updated_at, id) with updated_since.
SESSION_CSV = export.CSVShape(SESSION_LISTED, keep=("started_at", "id"))
SESSION_CHANGES_CSV = export.CSVShape(SESSION_LISTED, keep=("updated_at", "id"))
SCORECARD_CSV = export.CSVShape(SCORECARD, keep=("id",))
SCORECARD_CHANGES_CSV = export.CSVShape(SCORECARD, keep=("updated_at", "id"))
SCENARIO_CSV = export.CSVShape(SCENARIO, keep=())
SCENARIO_CHANGES_CSV = export.CSVShape(SCENARIO, keep=("updated_at", "id"))
USER_CSV = export.CSVShape(USER, keep=())
USER_CHANGES_CSV = export.CSVShape(USER, keep=("updated_at", "id"))


def _sort_key(key: tuple) -> tuple:
    """A name-ordered export resumes from its last row's sort key as it is (core.cursors
    .keyset_page): it has no cursor to decode."""
    return key


def _opaque(kind: str):
    """Reads an opaque cursor of ``kind`` back as the position its selector takes."""
    return partial(decode_opaque, kind=kind)


@contextmanager
def _stale_cursor_is_invalid() -> Iterator[None]:
    """A name-ordered list's cursor whose row was changed or deleted since (core/cursors.py):
    a 400 naming ``cursor``, like any cursor this list cannot resume from."""
    try:
        yield
    except StaleCursor as exc:
        raise InvalidParameter({"cursor": [str(exc)]}) from None


class SessionViewSet(TenantScopedViewSet):
    """Sessions: one per role-play call, with its transcript; `expand=scorecard` inlines each
    session's scorecard."""

    required_scope = "sessions:read"

    @api_operation(
        operation_id="list_sessions",
        examples=example(session_page_example),
        summary="List sessions, newest first (or oldest change first with updated_since)",
        response=envelope_of("SessionPage", SESSION_LISTED, paginated=True),
        query=SESSION_QUERY,
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        q = SESSION_QUERY.parse(request)
        for name in sorted(q.expand):
            if EXPANSIONS[name] is not None:
                self.require_scope(EXPANSIONS[name])

        started_from, started_to = q.period
        filters = selectors.SessionFilters(
            started_from=started_from,
            started_to=started_to,
            user_id=q.user_id,
            scenario_id=q.scenario_id,
            status=q.status,
        )
        if wants_csv(request, q.format):
            return self._export(filters, q)
        read = dict(tenant=self.tenant, filters=filters, limit=q.limit, include=q.expand)
        if q.updated_since is not None:  # the cursor is then an opaque position
            found = selectors.session_changes(
                **read, since=q.updated_since, after=q.cursor, shape=SESSION_LISTED
            )
        else:  # a SessionCursor
            found = selectors.session_list(**read, cursor=q.cursor)
        return page(found, SESSION_LISTED, q.expand)

    def _export(self, filters: selectors.SessionFilters, q):
        """Every session that matches, as CSV: paged as a client would page the list."""
        read = dict(tenant=self.tenant, filters=filters, include=q.expand)
        if q.updated_since is not None:
            shape = SESSION_CHANGES_CSV
            fetch = export.paged(
                lambda after, limit: selectors.session_changes(
                    **read, since=q.updated_since, after=after, limit=limit, shape=shape
                ),
                _opaque(cursors.SESSIONS_UPDATED),
            )
        else:
            shape = SESSION_CSV
            fetch = export.paged(
                lambda after, limit: selectors.session_list(
                    **read, cursor=after, limit=limit, shape=shape
                ),
                SessionCursor.decode,
            )
        return export.csv_response(
            self.request, filename="sessions", table=shape, include=q.expand, fetch=fetch
        )

    @api_operation(
        operation_id="get_session",
        examples=example(session_example),
        summary="One session with its transcript",
        response=envelope_of("SessionDetailEnvelope", SESSION_DETAIL),
        parameters=[PATH_ID],
        errors=[403, 404],
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return one(
            selectors.session_get(tenant=self.tenant, session_id=self.path_id()), SESSION_DETAIL
        )


class ScenarioViewSet(TenantScopedViewSet):
    required_scope = "scenarios:read"

    @api_operation(
        operation_id="list_scenarios",
        examples=example(scenario_page_example),
        summary="List scenarios: active first, then archived; by name",
        response=envelope_of("ScenarioPage", SCENARIO, paginated=True),
        query=SCENARIO_QUERY,
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        q = SCENARIO_QUERY.parse(request)
        if wants_csv(request, q.format):
            return self._export(q)
        if q.updated_since is not None:
            return page(
                selectors.scenario_changes(
                    tenant=self.tenant, since=q.updated_since, after=q.cursor, limit=q.limit
                ),
                SCENARIO,
            )
        with _stale_cursor_is_invalid():
            found = selectors.scenario_list(tenant=self.tenant, after=q.cursor, limit=q.limit)
        return page(found, SCENARIO)

    def _export(self, q):
        if q.updated_since is not None:
            shape = SCENARIO_CHANGES_CSV
            fetch = export.paged(
                lambda after, limit: selectors.scenario_changes(
                    tenant=self.tenant, since=q.updated_since, after=after, limit=limit, shape=shape
                ),
                _opaque(cursors.SCENARIOS_UPDATED),
            )
        else:
            shape = SCENARIO_CSV
            fetch = export.paged(
                lambda after, limit: selectors.scenario_keyset(
                    tenant=self.tenant, after=after, limit=limit, shape=shape
                ),
                _sort_key,
            )
        return export.csv_response(self.request, filename="scenarios", table=shape, fetch=fetch)

    @api_operation(
        operation_id="get_scenario",
        examples=example(scenario_example),
        summary="One scenario",
        response=envelope_of("ScenarioEnvelope", SCENARIO),
        parameters=[PATH_ID],
        errors=[403, 404],
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return one(selectors.scenario_get(tenant=self.tenant, scenario_id=self.path_id()), SCENARIO)


class UserViewSet(TenantScopedViewSet):
    required_scope = "users:read"

    @api_operation(
        operation_id="list_users",
        examples=example(user_page_example),
        summary="List users (reps) by name",
        response=envelope_of("UserPage", USER, paginated=True),
        query=USER_QUERY,
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        q = USER_QUERY.parse(request)
        if q.include == "email":
            self.require_scope("users:email")

        included = EMAIL if q.include == "email" else frozenset()
        if wants_csv(request, q.format):
            return self._export(q, included)
        read = dict(tenant=self.tenant, role=q.role, limit=q.limit)
        if q.updated_since is not None:
            found = selectors.user_changes(**read, since=q.updated_since, after=q.cursor)
            return page(found, USER, included)
        with _stale_cursor_is_invalid():
            found = selectors.user_list(**read, after=q.cursor)
        return page(found, USER, included)

    def _export(self, q, included: frozenset[str]):
        read = dict(tenant=self.tenant, role=q.role, include=included)
        if q.updated_since is not None:
            shape = USER_CHANGES_CSV
            fetch = export.paged(
                lambda after, limit: selectors.user_changes(
                    **read, since=q.updated_since, after=after, limit=limit, shape=shape
                ),
                _opaque(cursors.USERS_UPDATED),
            )
        else:
            shape = USER_CSV
            fetch = export.paged(
                lambda after, limit: selectors.user_keyset(
                    **read, after=after, limit=limit, shape=shape
                ),
                _sort_key,
            )
        return export.csv_response(
            self.request, filename="users", table=shape, include=included, fetch=fetch
        )

    @api_operation(
        operation_id="get_user",
        examples=example(user_example),
        summary="One user (rep)",
        response=envelope_of("UserEnvelope", USER),
        parameters=[PATH_ID],
        query=USER_GET_QUERY,
        errors=[400, 403, 404],
    )
    def retrieve(self, request: Request, id: str) -> Response:
        q = USER_GET_QUERY.parse(request)
        if q.include == "email":
            self.require_scope("users:email")
        included = EMAIL if q.include == "email" else frozenset()
        return one(selectors.user_get(tenant=self.tenant, user_id=self.path_id()), USER, included)


class ScorecardViewSet(TenantScopedViewSet):
    required_scope = "scorecards:read"

    @api_operation(
        operation_id="list_scorecards",
        examples=example(scorecard_page_example),
        summary="List scorecards, by their session's start, newest first",
        response=envelope_of("ScorecardPage", SCORECARD, paginated=True),
        query=SCORECARD_QUERY,
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        q = SCORECARD_QUERY.parse(request)
        started_from, started_to = q.period
        filters = selectors.ScorecardFilters(
            started_from=started_from,
            started_to=started_to,
            user_id=q.user_id,
            scenario_id=q.scenario_id,
            verdict=q.verdict,
        )
        if wants_csv(request, q.format):
            return self._export(filters, q)
        read = dict(tenant=self.tenant, filters=filters, after=q.cursor, limit=q.limit)
        if q.updated_since is not None:
            return page(selectors.scorecard_changes(**read, since=q.updated_since), SCORECARD)
        return page(selectors.scorecard_list(**read), SCORECARD)

    def _export(self, filters: selectors.ScorecardFilters, q):
        read = dict(tenant=self.tenant, filters=filters)
        if q.updated_since is not None:
            shape = SCORECARD_CHANGES_CSV
            fetch = export.paged(
                lambda after, limit: selectors.scorecard_changes(
                    **read, since=q.updated_since, after=after, limit=limit, shape=shape
                ),
                _opaque(cursors.SCORECARDS_UPDATED),
            )
        else:
            shape = SCORECARD_CSV
            fetch = export.paged(
                lambda after, limit: selectors.scorecard_list(
                    **read, after=after, limit=limit, shape=shape
                ),
                _opaque(cursors.SCORECARDS),
            )
        return export.csv_response(self.request, filename="scorecards", table=shape, fetch=fetch)

    @api_operation(
        operation_id="get_scorecard",
        examples=example(scorecard_example),
        summary="One scorecard",
        response=envelope_of("ScorecardEnvelope", SCORECARD),
        parameters=[PATH_ID],
        errors=[403, 404],
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return one(
            selectors.scorecard_get(tenant=self.tenant, scorecard_id=self.path_id()), SCORECARD
        )
