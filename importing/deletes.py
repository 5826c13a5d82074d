"""Delete lines of an import (``docs/import-format.md``, Deletions): checked against the
stored rows and carried out by the apps' services, which list each deletion (a tombstone) in the
import's transaction. The pipeline writes everything before a delete line first, so the line
meets exactly the state the lines above it left."""

from __future__ import annotations

import uuid

from roleplay.models import Rep, Scenario, Scorecard, Session
from roleplay.scoring import scorecard_bulk_delete
from roleplay.services import rep_bulk_delete, scenario_bulk_delete, session_bulk_delete
from sync.models import Deletion

MODELS = {"session": Session, "scorecard": Scorecard, "scenario": Scenario, "user": Rep}
_DELETE = {
    "session": lambda rows: session_bulk_delete(sessions=rows),
    "scorecard": lambda rows: scorecard_bulk_delete(scorecards=rows),
    "scenario": lambda rows: scenario_bulk_delete(scenarios=rows),
    "user": lambda rows: rep_bulk_delete(reps=rows),
}
# A user or scenario its sessions point at cannot go (they are PROTECTed).
_SESSIONS_OF = {"user": "user_id", "scenario": "scenario_id"}


def delete_record(*, kind: str, tenant_id: uuid.UUID, record_id: uuid.UUID) -> str | None:
    """Deletes the record; returns what stands in the way instead, if anything."""
    model = MODELS[kind]
    owner = model.unscoped.filter(id=record_id).values_list("tenant_id", flat=True).first()
    if owner is None:
        if Deletion.unscoped.filter(object=kind, object_id=record_id, tenant_id=tenant_id).exists():
            return None  # deleted before: re-importing the file changes nothing
        return f"id: unknown {kind} {record_id}"
    if owner != tenant_id:
        return f"id: {kind} {record_id} belongs to another tenant"
    if kind in _SESSIONS_OF:
        count = Session.unscoped.filter(**{_SESSIONS_OF[kind]: record_id}).count()
        if count:
            sessions = "session" if count == 1 else "sessions"
            return (
                f"id: {kind} {record_id} still has {count} {sessions}; delete those first "
                "(delete lines above this one)"
            )
    _DELETE[kind](model.unscoped.filter(id=record_id))
    return None
