"""Writing one checked batch: the batch services of each app, in reference order.

Runs on the pipeline's writer thread, on the pipeline's connection and transaction. The
services keep the invariants (a scorecard scores its session, a session with a scorecard stays
scored); the rollups of what they touched are recomputed by the pipeline, once per import.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from roleplay.rollups import Touched
from roleplay.scoring import scorecard_bulk_upsert
from roleplay.services import rep_bulk_upsert, scenario_bulk_upsert, session_bulk_upsert
from tenants.services import tenant_bulk_upsert

from .references import Pending


def write_batch(
    *,
    accepted: list[Pending],
    stored_ids: dict[str, dict[uuid.UUID, Any]],
    now: datetime,
    touched: Touched,
) -> bool:
    """``stored_ids``: by kind, the batch's ids that were stored before it (Stored.owners).
    Returns whether a stored tenant changed (the importer then tells the servers' token caches,
    once per import, after its commit)."""
    by_kind: dict[str, dict[uuid.UUID, dict[str, Any]]] = defaultdict(dict)
    for pending in accepted:
        by_kind[pending.kind][pending.row["id"]] = pending.row  # the last line wins

    def rows(kind: str) -> list[dict[str, Any]]:
        return list(by_kind[kind].values())

    tenants_changed = False
    if by_kind["tenant"]:
        changes = tenant_bulk_upsert(rows=rows("tenant"))
        tenants_changed = bool(changes)
        touched.zones.update(i for i, fields in changes.items() if "time_zone" in fields)
    if by_kind["user"]:
        rep_bulk_upsert(rows=rows("user"))
    if by_kind["scenario"]:
        scenario_bulk_upsert(rows=rows("scenario"), now=now)
    if by_kind["session"]:
        session_bulk_upsert(
            rows=rows("session"), stored_ids=stored_ids.get("session", {}), touched=touched
        )
    if by_kind["scorecard"]:
        scorecard_bulk_upsert(
            rows=rows("scorecard"),
            stored_ids=stored_ids.get("scorecard", {}),
            now=now,
            touched=touched,
        )
    return tenants_changed
