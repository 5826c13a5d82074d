from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.cursors import SessionCursor
from api.examples import example
from api.params import QueryParams
from api.schema import (
    FROM,
    LIMIT,
    PATH_ID,
    SCENARIO_CURSOR,
    SCENARIO_ID,
    SCENARIO_PAGE,
    SESSION_CURSOR,
    SESSION_ONE,
    SESSION_PAGE,
    TO,
    USER_ID,
    api_operation,
    enum_query,
)
from api.viewsets import TenantScopedViewSet, envelope

from . import selectors
from .models import Session
from .serializers import scenario_data, session_data, session_detail_data

SESSION_STATUSES = tuple(Session.Status.values)


class SessionViewSet(TenantScopedViewSet):
    required_scope = "sessions:read"

    @api_operation(
        operation_id="list_sessions",
        examples=example("session_page"),
        summary="List sessions, newest first",
        response=SESSION_PAGE,
        parameters=[
            LIMIT,
            FROM,
            TO,
            USER_ID,
            SCENARIO_ID,
            enum_query("status", SESSION_STATUSES, "Only sessions in this status."),
            SESSION_CURSOR,
        ],
        errors=[400, 403],
    )
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
        cursor = None
        if (raw_cursor := params.raw("cursor")) is not None:
            try:
                cursor = SessionCursor.decode(raw_cursor)
            except ValueError as exc:
                params.error("cursor", f"{exc}; pass the next_cursor of the previous page")
        params.validate()

        rows, next_cursor = selectors.session_list(
            tenant=self.tenant, filters=filters, cursor=cursor, limit=limit
        )
        return envelope([session_data(row) for row in rows], next_cursor=next_cursor)

    @api_operation(
        operation_id="get_session",
        examples=example("session"),
        summary="One session with its transcript",
        response=SESSION_ONE,
        parameters=[PATH_ID],
        errors=[403, 404],
    )
    def retrieve(self, request: Request, id: str) -> Response:
        row = selectors.session_get(tenant=self.tenant, session_id=self.path_id())
        if row is None:
            raise NotFound()
        return envelope(session_detail_data(row))


class ScenarioViewSet(TenantScopedViewSet):
    required_scope = "scenarios:read"

    @api_operation(
        operation_id="list_scenarios",
        examples=example("scenario_page"),
        summary="List scenarios: active first, then archived; by name",
        response=SCENARIO_PAGE,
        parameters=[LIMIT, SCENARIO_CURSOR],
        errors=[400, 403],
    )
    def list(self, request: Request) -> Response:
        params = QueryParams(request.query_params)
        limit = params.limit()
        after = params.opaque_cursor(size=3)
        params.validate()
        rows, next_cursor = selectors.scenario_list(tenant=self.tenant, after=after, limit=limit)
        return envelope([scenario_data(row) for row in rows], next_cursor=next_cursor)
