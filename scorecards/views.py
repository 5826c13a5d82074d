from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.examples import example
from api.formats import rfc3339
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
                "id": str(row["id"]),
                "session_id": str(row["session_id"]),
                "user_id": str(row["user_id"]),
                "scenario_id": str(row["scenario_id"]),
                "overall_score": row["overall_score"],
                "verdict": row["verdict"],
                "headline": row["headline"],
                "categories": row["categories"],
                "callouts": row["callouts"],
                "created_at": rfc3339(row["created_at"]),
            }
        )
