from __future__ import annotations

import uuid
from typing import Any

from django.db.models import F

from api import compiled
from api.dbfunctions import RFC3339, JSONText, UUIDText
from tenants.models import Tenant

from .models import Scorecard


def scorecard_get(*, tenant: Tenant, scorecard_id: uuid.UUID) -> dict[str, Any] | None:
    """One scorecard in wire format (see api/dbfunctions.py), with its session's rep and
    scenario from the same query."""
    field = Scorecard._meta.get_field
    found = compiled.rows(
        "scorecard_get",
        lambda v: (
            Scorecard.objects.for_tenant(v["tenant"])
            .filter(id=v["id"])
            .values(
                w_id=UUIDText("id"),
                w_session_id=UUIDText("session_id"),
                w_user_id=UUIDText("session__user_id"),
                w_scenario_id=UUIDText("session__scenario_id"),
                w_overall_score=F("overall_score"),
                w_verdict=F("verdict"),
                w_headline=F("headline"),
                w_categories=JSONText("categories"),
                w_callouts=JSONText("callouts"),
                w_created_at=RFC3339("created_at"),
            )[:1]
        ),
        {"tenant": (field("tenant"), tenant.pk), "id": (field("id"), scorecard_id)},
    )
    return found[0] if found else None
