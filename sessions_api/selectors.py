"""Reads of sessions and scenarios. Views parse input, call one function here, and render."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q

from api.cursors import OpaqueKey, SessionCursor, encode_opaque
from tenants.models import Tenant

from .models import Scenario, Session

SESSION_FIELDS = (
    "id",
    "user_id",
    "scenario_id",
    "status",
    "started_at",
    "ended_at",
    "duration_seconds",
    "created_at",
)


@dataclass(frozen=True)
class SessionFilters:
    started_from: datetime | None = None
    started_to: datetime | None = None
    user_id: uuid.UUID | None = None
    scenario_id: uuid.UUID | None = None
    status: str | None = None


def _filtered_sessions(*, tenant: Tenant, filters: SessionFilters):
    sessions = Session.objects.for_tenant(tenant)
    if filters.started_from is not None:
        sessions = sessions.filter(started_at__gte=filters.started_from)
    if filters.started_to is not None:
        sessions = sessions.filter(started_at__lte=filters.started_to)
    if filters.user_id is not None:
        sessions = sessions.filter(user_id=filters.user_id)
    if filters.scenario_id is not None:
        sessions = sessions.filter(scenario_id=filters.scenario_id)
    if filters.status is not None:
        sessions = sessions.filter(status=filters.status)
    return sessions


def session_list(
    *, tenant: Tenant, filters: SessionFilters, cursor: SessionCursor | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page, newest first, and the cursor of the next page (``None`` on the last).

    Keyset pagination on (started_at, id): the cursor becomes a WHERE clause that the
    (tenant, [filter,] started_at DESC, id DESC) indexes serve, so page 10,000 costs what page 1
    costs. ``limit + 1`` rows are fetched to learn whether another page exists and whether it
    starts at the same instant (only then is a tie-break id needed in the cursor).
    """
    sessions = _filtered_sessions(tenant=tenant, filters=filters)
    if cursor is not None:
        before = Q(started_at__lt=cursor.started_at)
        if cursor.id is not None:
            before |= Q(started_at=cursor.started_at, id__lt=cursor.id)
        sessions = sessions.filter(before)
    rows = list(
        sessions.order_by("-started_at", "-id").values(
            *SESSION_FIELDS, scorecard_id=F("scorecard__id")
        )[: limit + 1]
    )
    if len(rows) <= limit:
        return rows, None
    last, following = rows[limit - 1], rows[limit]
    tie = last["id"] if following["started_at"] == last["started_at"] else None
    return rows[:limit], SessionCursor(last["started_at"], tie).encode()


def session_get(*, tenant: Tenant, session_id: uuid.UUID) -> dict[str, Any] | None:
    return (
        Session.objects.for_tenant(tenant)
        .filter(id=session_id)
        .values(*SESSION_FIELDS, "transcript", scorecard_id=F("scorecard__id"))
        .first()
    )


def scenario_list(
    *, tenant: Tenant, after: OpaqueKey | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Active first, then archived ('active' < 'archived'); by name, then id, within each."""
    scenarios = Scenario.objects.for_tenant(tenant)
    if after is not None:
        status, name, last_id = after
        scenarios = scenarios.filter(
            Q(status__gt=status)
            | Q(status=status, name__gt=name)
            | Q(status=status, name=name, id__gt=last_id)
        )
    rows = list(
        scenarios.order_by("status", "name", "id").values(
            "id", "name", "call_type", "status", "created_at"
        )[: limit + 1]
    )
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_opaque([last["status"], last["name"], str(last["id"])])
