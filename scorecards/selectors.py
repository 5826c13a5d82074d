from __future__ import annotations

import uuid
from typing import Any

from django.db.models import F

from tenants.models import Tenant

from .models import Scorecard


def scorecard_get(*, tenant: Tenant, scorecard_id: uuid.UUID) -> dict[str, Any] | None:
    return (
        Scorecard.objects.for_tenant(tenant)
        .filter(id=scorecard_id)
        .values(
            "id",
            "session_id",
            "overall_score",
            "verdict",
            "headline",
            "categories",
            "callouts",
            "created_at",
            user_id=F("session__user_id"),
            scenario_id=F("session__scenario_id"),
        )
        .first()
    )
