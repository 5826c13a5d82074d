from dataclasses import asdict
from datetime import timedelta

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core.examples import example
from core.params import QueryParams, before
from core.schema import SCENARIO_ID, USER_ID, api_operation, envelope_of, query
from core.viewsets import envelope
from tenants.viewsets import TenantScopedViewSet

from . import selectors
from .shapes import SUMMARY, summary_example

SUMMARY_ONE = envelope_of("SummaryEnvelope", SUMMARY)

DEFAULT_PERIOD = timedelta(days=30)


class SummaryViewSet(TenantScopedViewSet):
    required_scope = "analytics:read"

    @api_operation(
        operation_id="get_analytics_summary",
        summary="Sessions, scores and active reps over a period",
        response=SUMMARY_ONE,
        parameters=[
            query(
                "from",
                {"type": "string", "format": "date-time"},
                "Inclusive; defaults to 30 days before `to`. A date alone is the start of "
                "that day (UTC).",
            ),
            query(
                "to",
                {"type": "string", "format": "date-time"},
                "Inclusive; defaults to now. A date alone is the end of that day (UTC).",
            ),
            USER_ID,
            SCENARIO_ID,
        ],
        errors=[400, 403],
        examples=example(summary_example),
    )
    def list(self, request: Request) -> Response:
        params = QueryParams(request.query_params)
        started_from, started_to = params.period()
        user_id = params.uuid("user_id")
        scenario_id = params.uuid("scenario_id")
        params.validate()
        if started_to is None:
            started_to = timezone.now()
        if started_from is None:
            started_from = before(started_to, DEFAULT_PERIOD)
        if started_from > started_to:  # only a defaulted bound can still be out of order
            params.error("from", "must not be later than to")
            params.validate()

        result = selectors.summary(
            tenant=self.tenant,
            started_from=started_from,
            started_to=started_to,
            user_id=user_id,
            scenario_id=scenario_id,
        )
        return envelope(
            SUMMARY.from_values({"from": started_from, "to": started_to, **asdict(result)})
        )
