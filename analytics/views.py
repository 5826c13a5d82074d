from dataclasses import asdict
from datetime import timedelta

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import InvalidParameter
from core.examples import example
from core.params import LATER_THAN_TO, SCENARIO_ID, USER_ID, Period, Query, before
from core.schema import api_operation, envelope_of
from core.viewsets import envelope
from tenants.viewsets import TenantScopedViewSet

from . import selectors
from .shapes import SUMMARY, summary_example

SUMMARY_ONE = envelope_of("SummaryEnvelope", SUMMARY)

DEFAULT_PERIOD = timedelta(days=30)

SUMMARY_QUERY = Query(
    Period(
        from_description="Inclusive; defaults to 30 days before `to`. A date alone is the start "
        "of that day (UTC).",
        to_description="Inclusive; defaults to now. A date alone is the end of that day (UTC).",
    ),
    USER_ID,
    SCENARIO_ID,
)


class SummaryViewSet(TenantScopedViewSet):
    required_scope = "analytics:read"

    @api_operation(
        operation_id="get_analytics_summary",
        summary="Sessions, scores and active reps over a period",
        response=SUMMARY_ONE,
        query=SUMMARY_QUERY,
        errors=[400, 403],
        examples=example(summary_example),
    )
    def list(self, request: Request) -> Response:
        q = SUMMARY_QUERY.parse(request)
        started_from, started_to = q.period
        if started_to is None:
            started_to = timezone.now()
        if started_from is None:
            started_from = before(started_to, DEFAULT_PERIOD)
        if started_from > started_to:  # only a defaulted bound can still be out of order
            raise InvalidParameter({"from": [LATER_THAN_TO]})

        result = selectors.summary(
            tenant=self.tenant,
            started_from=started_from,
            started_to=started_to,
            user_id=q.user_id,
            scenario_id=q.scenario_id,
        )
        return envelope(
            SUMMARY.from_values({"from": started_from, "to": started_to, **asdict(result)})
        )
