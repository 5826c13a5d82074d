"""The analytics summary, computed from the same rows the list endpoints return.

``summary`` reads whole UTC days from the rollups (analytics/models.py) and only the partial
days at the ends of the period from the sessions; ``summary_plain`` is the plain aggregate over
the sessions, the definition it must always equal (a property test compares them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce

from sessions_api.models import Session
from tenants.models import Rep, Tenant

from .models import ScenarioDay, TenantDay
from .rollups import day_of, start_of


@dataclass(frozen=True)
class Summary:
    sessions: int
    scored: int
    avg_score: int | None
    unique_reps: int


def round_half_up(total: int, count: int) -> int:
    """Integer mean rounded to nearest, halves up, without floating point."""
    return (2 * total + count) // (2 * count)


def summary_plain(
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


def _full_days(started_from: datetime, started_to: datetime) -> tuple[date, date]:
    """The whole UTC days inside [started_from, started_to] (first > last when none)."""
    first = day_of(started_from)
    if started_from != start_of(first):
        first += timedelta(days=1)
    last = day_of(started_to)
    if started_to.astimezone(UTC).time() != time.max:
        last -= timedelta(days=1)
    return first, last


def summary(
    *,
    tenant: Tenant,
    started_from: datetime,
    started_to: datetime,
    user_id: uuid.UUID | None = None,
    scenario_id: uuid.UUID | None = None,
) -> Summary:
    first, last = _full_days(started_from, started_to)
    if user_id is not None or first > last:
        # One rep's sessions (session_user_idx) or under two days: small enough as they are.
        return summary_plain(
            tenant=tenant,
            started_from=started_from,
            started_to=started_to,
            user_id=user_id,
            scenario_id=scenario_id,
        )
    sessions = Session.objects.for_tenant(tenant)
    rollup = TenantDay.objects.filter(tenant=tenant)
    if scenario_id is not None:
        sessions = sessions.filter(scenario_id=scenario_id)
        rollup = ScenarioDay.objects.filter(tenant=tenant, scenario_id=scenario_id)

    edges = Q(started_at__gte=started_from, started_at__lt=start_of(first))
    if last < date.max:
        edges |= Q(started_at__gte=start_of(last + timedelta(days=1)), started_at__lte=started_to)
    raw = sessions.filter(edges).aggregate(
        sessions=Count("id"),
        scored=Count("scorecard__id"),
        score_total=Coalesce(Sum("scorecard__overall_score"), 0),
    )
    rolled = rollup.filter(day__range=(first, last)).aggregate(
        sessions=Coalesce(Sum("sessions"), 0),
        scored=Coalesce(Sum("scored"), 0),
        score_total=Coalesce(Sum("score_total"), 0),
    )
    # Distinct reps do not add up over days: one index probe per rep of the tenant instead.
    in_period = sessions.filter(
        user_id=OuterRef("id"), started_at__gte=started_from, started_at__lte=started_to
    )
    unique_reps = Rep.objects.for_tenant(tenant).filter(Exists(in_period)).count()

    scored = raw["scored"] + rolled["scored"]
    total = raw["score_total"] + rolled["score_total"]
    return Summary(
        sessions=raw["sessions"] + rolled["sessions"],
        scored=scored,
        avg_score=round_half_up(total, scored) if scored else None,
        unique_reps=unique_reps,
    )
