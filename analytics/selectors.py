"""The analytics summary, computed from the same rows the list endpoints return."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Sum

from sessions_api.models import Session
from tenants.models import Tenant


@dataclass(frozen=True)
class Summary:
    sessions: int
    scored: int
    avg_score: int | None
    unique_reps: int


def round_half_up(total: int, count: int) -> int:
    """Integer mean rounded to nearest, halves up, without floating point."""
    return (2 * total + count) // (2 * count)


def summary(
    *,
    tenant: Tenant,
    started_from: datetime,
    started_to: datetime,
    user_id: uuid.UUID | None = None,
    scenario_id: uuid.UUID | None = None,
) -> Summary:
    sessions = Session.objects.for_tenant(tenant).filter(
        started_at__gte=started_from, started_at__lte=started_to
    )
    if user_id is not None:
        sessions = sessions.filter(user_id=user_id)
    if scenario_id is not None:
        sessions = sessions.filter(scenario_id=scenario_id)
    figures = sessions.aggregate(
        sessions=Count("id"),
        scored=Count("scorecard__id"),
        score_total=Sum("scorecard__overall_score"),
        unique_reps=Count("user_id", distinct=True),
    )
    scored = figures["scored"]
    return Summary(
        sessions=figures["sessions"],
        scored=scored,
        avg_score=round_half_up(figures["score_total"], scored) if scored else None,
        unique_reps=figures["unique_reps"],
    )
