"""Reads of a tenant's reps (the API's users)."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, F, OuterRef, Q, Subquery

from api.cursors import OpaqueKey, encode_opaque
from api.dbfunctions import RFC3339, UUIDText
from sessions_api.models import Session

from .models import Rep, Tenant


def user_list(
    *, tenant: Tenant, role: str | None, after: OpaqueKey | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """By full_name, then id. ``last_session_at`` is one index probe per row of the page
    (session_user_idx), inside the same query: no N+1, and no column to keep in sync."""
    reps = Rep.objects.for_tenant(tenant)
    if role is not None:
        reps = reps.filter(role=role)
    if after is not None:
        name, last_id = after
        reps = reps.filter(Q(full_name__gt=name) | Q(full_name=name, id__gt=last_id))
    latest = (
        Session.objects.for_tenant(tenant)
        .filter(user_id=OuterRef("id"))
        .order_by("-started_at")
        .values(w=RFC3339("started_at"))[:1]
    )
    rows = list(
        reps.order_by("full_name", "id").values(
            w_id=UUIDText("id"),
            w_full_name=F("full_name"),
            w_email=F("email"),
            w_role=F("role"),
            w_last_session_at=Subquery(latest, output_field=CharField()),
        )[: limit + 1]
    )
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_opaque([last["w_full_name"], last["w_id"]])
