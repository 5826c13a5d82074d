"""Reads of the deletions (tombstones) of GET /api/v1/deletions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from core.cursors import DELETIONS
from core.export import CSVShape
from core.shapes import Shape
from tenants.models import Tenant

from .clock import changed_page
from .models import Deletion
from .shapes import DELETION

AnyShape = Shape | CSVShape  # the wire shape, or as CSV (core/export.py)


def deletion_list(
    *,
    tenant: Tenant,
    kinds: list[str],
    since: datetime,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    shape: AnyShape = DELETION,
) -> tuple[list[dict[str, Any]], str | None]:
    """The tenant's deletions of these kinds since then, oldest first by (deleted_at, id); the
    same guarantee as updated_since (sync/clock.py)."""
    return changed_page(
        Deletion.objects.for_tenant(tenant).filter(object__in=kinds),
        kind=DELETIONS,
        since=since,
        after=after,
        limit=limit,
        columns=shape.columns(),
        field="deleted_at",
        tiebreak="object_id",
    )
