from collections.abc import Iterator
from contextlib import contextmanager

from rest_framework.request import Request
from rest_framework.response import Response

from core import cursors
from core.cursors import SessionCursor, StaleCursor
from core.errors import InvalidParameter
from core.examples import example
from core.params import QueryParams
from core.schema import (
    FROM,
    LIMIT,
    PATH_ID,
    SCENARIO_CURSOR,
    SCENARIO_ID,
    SESSION_CURSOR,
    TO,
    UPDATED_SINCE,
    USER_CURSOR,
    USER_ID,
    api_operation,
    enum_query,
    envelope_of,
    query,
)
from core.viewsets import one, page
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

SESSION_STATUSES = tuple(Session.Status.values)
USER_ROLES = tuple(Rep.Role.values)
EMAIL = frozenset({"email"})
INCLUDE_EMAIL = enum_query(
    "include",
    ("email",),
    "`email` adds each user's email; needs the `users:email` scope (else 403).",
)


def expand_query(expansions: tuple[str, ...]):
    return query(
        "expand",
        {
            "type": "string",
            "pattern": "^(" + "|".join(expansions) + ")(,(" + "|".join(expansions) + "))*$",
        },
        "Comma-separated: "
        + "; ".join(EXPANSION_HELP[name] for name in expansions)
        + ". A page still costs a constant number of queries.",
    )


EXPANSION_HELP = {
    "transcript": "`transcript` inlines each session's transcript as the detail returns it",
    "scorecard": "`scorecard` inlines each session's scorecard object (null when it has none); "
    "needs `scorecards:read` as well (else 403)",
}


def session_list_operation(shape, expansions: tuple[str, ...]):
    """The schema of GET /sessions for the expansions a view offers (roleplay/views.py adds
    the scorecard's)."""
    return api_operation(
        operation_id="list_sessions",
        examples=example(session_page_example),
        summary="List sessions, newest first (or oldest change first with updated_since)",
        response=envelope_of("SessionPage", shape, paginated=True),
        parameters=[
            LIMIT,
            FROM,
            TO,
            USER_ID,
            SCENARIO_ID,
            enum_query("status", SESSION_STATUSES, "Only sessions in this status."),
            UPDATED_SINCE,
            expand_query(expansions),
            SESSION_CURSOR,
        ],
        errors=[400, 403],
    )


@contextmanager
def _stale_cursor_is_invalid() -> Iterator[None]:
    """A name-ordered list's cursor whose row was changed or deleted since (core/cursors.py):
    a 400 naming ``cursor``, like any cursor this list cannot resume from."""
    try:
        yield
    except StaleCursor as exc:
        raise InvalidParameter({"cursor": [str(exc)]}) from None


class SessionViewSet(TenantScopedViewSet):
    required_scope = "sessions:read"
    # expand=<name>: the extra scope it needs (None: none beyond sessions:read).
    expansions: dict[str, str | None] = {"transcript": None, "scorecard": "scorecards:read"}

    @session_list_operation(SESSION_LISTED, ("transcript", "scorecard"))
    def list(self, request: Request) -> Response:
        params = QueryParams(request.query_params)
        limit = params.limit()
        started_from, started_to = params.period()
        filters = selectors.SessionFilters(
            started_from=started_from,
            started_to=started_to,
            user_id=params.uuid("user_id"),
            scenario_id=params.uuid("scenario_id"),
            status=params.choice("status", SESSION_STATUSES),
        )
        expand = params.choice_set("expand", tuple(self.expansions))
        since = params.timestamp("updated_since")
        after = params.cursor(cursors.SESSIONS_UPDATED) if since is not None else None
        cursor = None
        if since is None and (raw_cursor := params.raw("cursor")) is not None:
            try:
                cursor = SessionCursor.decode(raw_cursor)
            except ValueError as exc:
                params.error("cursor", f"{exc}; pass the next_cursor of the previous page")
        params.validate()
        for name in sorted(expand):
            if self.expansions[name] is not None:
                self.require_scope(self.expansions[name])

        read = dict(tenant=self.tenant, filters=filters, limit=limit, include=expand)
        if since is not None:
            found = selectors.session_changes(
                **read, since=since, after=after, shape=SESSION_LISTED
            )
        else:
            found = selectors.session_list(**read, cursor=cursor)
        return page(found, SESSION_LISTED, expand)

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
        parameters=[LIMIT, UPDATED_SINCE, SCENARIO_CURSOR],
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        params = QueryParams(request.query_params)
        limit = params.limit()
        since = params.timestamp("updated_since")
        after = params.cursor(cursors.SCENARIOS if since is None else cursors.SCENARIOS_UPDATED)
        params.validate()
        if since is not None:
            return page(
                selectors.scenario_changes(
                    tenant=self.tenant, since=since, after=after, limit=limit
                ),
                SCENARIO,
            )
        with _stale_cursor_is_invalid():
            found = selectors.scenario_list(tenant=self.tenant, after=after, limit=limit)
        return page(found, SCENARIO)

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
        parameters=[
            LIMIT,
            enum_query("role", USER_ROLES, "Only users with this role."),
            INCLUDE_EMAIL,
            UPDATED_SINCE,
            USER_CURSOR,
        ],
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        params = QueryParams(request.query_params)
        limit = params.limit()
        role = params.choice("role", USER_ROLES)
        include = params.choice("include", ("email",))
        since = params.timestamp("updated_since")
        after = params.cursor(cursors.USERS if since is None else cursors.USERS_UPDATED)
        params.validate()
        if include == "email":
            self.require_scope("users:email")

        included = EMAIL if include == "email" else frozenset()
        read = dict(tenant=self.tenant, role=role, limit=limit)
        if since is not None:
            return page(selectors.user_changes(**read, since=since, after=after), USER, included)
        with _stale_cursor_is_invalid():
            found = selectors.user_list(**read, after=after)
        return page(found, USER, included)

    @api_operation(
        operation_id="get_user",
        examples=example(user_example),
        summary="One user (rep)",
        response=envelope_of("UserEnvelope", USER),
        parameters=[PATH_ID, INCLUDE_EMAIL],
        errors=[400, 403, 404],
    )
    def retrieve(self, request: Request, id: str) -> Response:
        params = QueryParams(request.query_params)
        include = params.choice("include", ("email",))
        params.validate()
        if include == "email":
            self.require_scope("users:email")
        included = EMAIL if include == "email" else frozenset()
        return one(selectors.user_get(tenant=self.tenant, user_id=self.path_id()), USER, included)


VERDICTS = tuple(Scorecard.Verdict.values)


class ScorecardViewSet(TenantScopedViewSet):
    required_scope = "scorecards:read"

    @api_operation(
        operation_id="list_scorecards",
        examples=example(scorecard_page_example),
        summary="List scorecards, by their session's start, newest first",
        response=envelope_of("ScorecardPage", SCORECARD, paginated=True),
        parameters=[
            LIMIT,
            FROM,
            TO,
            USER_ID,
            SCENARIO_ID,
            enum_query("verdict", VERDICTS, "Only scorecards with this verdict."),
            UPDATED_SINCE,
            query(
                "cursor",
                {"type": "string", "format": "scorecard-cursor"},
                "The previous page's `next_cursor` (opaque).",
            ),
        ],
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        params = QueryParams(request.query_params)
        limit = params.limit()
        started_from, started_to = params.period()
        filters = selectors.ScorecardFilters(
            started_from=started_from,
            started_to=started_to,
            user_id=params.uuid("user_id"),
            scenario_id=params.uuid("scenario_id"),
            verdict=params.choice("verdict", VERDICTS),
        )
        since = params.timestamp("updated_since")
        # (started_at, id), or with updated_since (updated_at, id): each list's own kind.
        after = params.cursor(cursors.SCORECARDS if since is None else cursors.SCORECARDS_UPDATED)
        params.validate()
        read = dict(tenant=self.tenant, filters=filters, after=after, limit=limit)
        if since is not None:
            return page(selectors.scorecard_changes(**read, since=since), SCORECARD)
        return page(selectors.scorecard_list(**read), SCORECARD)

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
