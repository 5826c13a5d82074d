from rest_framework.request import Request
from rest_framework.response import Response

from api import cursors
from api.examples import example
from api.params import QueryParams
from api.schema import (
    FROM,
    LIMIT,
    PATH_ID,
    SCENARIO_ID,
    TO,
    UPDATED_SINCE,
    USER_ID,
    api_operation,
    enum_query,
    envelope_of,
    query,
)
from api.viewsets import one, page
from sessions_api import views as sessions_views
from tenants.viewsets import TenantScopedViewSet

from . import selectors
from .models import Scorecard
from .shapes import SCORECARD, SCORECARD_EXPANSION, scorecard_example, scorecard_page_example

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


SESSION_WITH_SCORECARD = sessions_views.SESSION_LISTED.extend("Session", SCORECARD_EXPANSION)


class SessionViewSet(sessions_views.SessionViewSet):
    """GET /sessions as served: the sessions app's list, which can also inline each session's
    scorecard (``expand=scorecard``). It is declared here because the scorecard is this app's:
    sessions_api, the layer below, cannot know it (pyproject.toml, [tool.importlinter])."""

    expansions = {**sessions_views.SessionViewSet.expansions, "scorecard": "scorecards:read"}
    listed = SESSION_WITH_SCORECARD

    @sessions_views.session_list_operation(SESSION_WITH_SCORECARD, ("transcript", "scorecard"))
    def list(self, request: Request) -> Response:
        return super().list(request)
