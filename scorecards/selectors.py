"""Reads of scorecards, through the tenant guard (tenants/scoping.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan

from api import compiled, cursors
from api.cursors import Position, encode_opaque
from tenants.models import Tenant
from tenants.sync import changed_page

from .models import Scorecard
from .shapes import SCORECARD

SCORECARD_COLUMNS = SCORECARD.columns()


@dataclass(frozen=True)
class ScorecardFilters:
    started_from: datetime | None = None  # bounds on the session's started_at
    started_to: datetime | None = None
    user_id: uuid.UUID | None = None
    scenario_id: uuid.UUID | None = None
    verdict: str | None = None


def _scorecards(tenant: Tenant, filters: ScorecardFilters):
    cards = Scorecard.objects.for_tenant(tenant)
    if filters.started_from is not None:
        cards = cards.filter(session__started_at__gte=filters.started_from)
    if filters.started_to is not None:
        cards = cards.filter(session__started_at__lte=filters.started_to)
    if filters.user_id is not None:
        cards = cards.filter(session__user_id=filters.user_id)
    if filters.scenario_id is not None:
        cards = cards.filter(session__scenario_id=filters.scenario_id)
    if filters.verdict is not None:
        cards = cards.filter(verdict=filters.verdict)
    return cards


def scorecard_list(
    *,
    tenant: Tenant,
    filters: ScorecardFilters,
    after: Position | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Ordered like sessions: by the session's started_at, newest first, ties by scorecard id
    descending; keyset-paged on that pair (opaque cursor)."""
    cards = _scorecards(tenant, filters)
    if after is not None:
        cards = cards.filter(TupleLessThan(Tuple(F("session__started_at"), F("id")), after))
    rows = list(
        cards.order_by("-session__started_at", "-id").values(
            **SCORECARD_COLUMNS, k_started_at=F("session__started_at")
        )[: limit + 1]
    )
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_opaque(cursors.SCORECARDS, last["k_started_at"], last["w_id"])


def scorecard_changes(
    *,
    tenant: Tenant,
    filters: ScorecardFilters,
    since: datetime,
    after: Position | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """``updated_since``: oldest change first (tenants/sync.py holds the guarantee)."""
    return changed_page(
        _scorecards(tenant, filters),
        kind=cursors.SCORECARDS_UPDATED,
        since=since,
        after=after,
        limit=limit,
        columns=SCORECARD_COLUMNS,
    )


def scorecard_get(*, tenant: Tenant, scorecard_id: uuid.UUID) -> dict[str, Any] | None:
    """One scorecard in wire format (see api/dbfunctions.py), with its session's rep and
    scenario from the same query."""
    field = Scorecard._meta.get_field
    found = compiled.rows(
        lambda v: (
            Scorecard.objects.for_tenant(v["tenant"])
            .filter(id=v["id"])
            .values(**SCORECARD_COLUMNS)[:1]
        ),
        {"tenant": (field("tenant"), tenant.pk), "id": (field("id"), scorecard_id)},
    )
    return found[0] if found else None
