import orjson
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.examples import example
from api.schema import PATH_ID, SCORECARD_ONE, api_operation
from api.viewsets import TenantScopedViewSet, envelope

from .selectors import scorecard_get


class ScorecardViewSet(TenantScopedViewSet):
    required_scope = "scorecards:read"

    @api_operation(
        operation_id="get_scorecard",
        examples=example("scorecard"),
        summary="One scorecard",
        response=SCORECARD_ONE,
        parameters=[PATH_ID],
        errors=[403, 404],
    )
    def retrieve(self, request: Request, id: str) -> Response:
        row = scorecard_get(tenant=self.tenant, scorecard_id=self.path_id())
        if row is None:
            raise NotFound()
        return envelope(
            {
                "id": row["w_id"],
                "session_id": row["w_session_id"],
                "user_id": row["w_user_id"],
                "scenario_id": row["w_scenario_id"],
                "overall_score": row["w_overall_score"],
                "verdict": row["w_verdict"],
                "headline": row["w_headline"],
                "categories": orjson.Fragment(row["w_categories"]),
                "callouts": orjson.Fragment(row["w_callouts"]),
                "created_at": row["w_created_at"],
            }
        )
