"""What the domain's writes tell the webhooks (webhooks/services.py): which objects they created,
changed and deleted, and each one's payload: the API's own shape and columns (a session without
its transcript, a user without ``email``) rendered as JSON by the database when the write ends
(``finish``), so that a payload always equals the API's object in its final state."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from django.db.models import Expression, F, OuterRef, QuerySet

from core.export import json_object
from webhooks.services import (
    Change,
    deletion_events_record,
    events_record,
    events_refresh,
    events_render,
)

from .models import Rep, Scenario, Scorecard, Session
from .selectors import user_columns
from .shapes import SCENARIO, SCORECARD, SESSION, USER

Owner = tuple[uuid.UUID, uuid.UUID]  # (tenant_id, id)


def _payload(model, build: Callable[[], Expression]) -> Callable[[QuerySet], QuerySet]:
    def render(ids: QuerySet) -> QuerySet:
        return model.unscoped.filter(id__in=ids).values(w_key=F("id"), w_json=build())

    return render


PAYLOADS = {
    "session": _payload(Session, lambda: json_object(SESSION)),
    "scorecard": _payload(Scorecard, lambda: json_object(SCORECARD)),
    "scenario": _payload(Scenario, lambda: json_object(SCENARIO)),
    # last_session_at: among the user's own tenant's sessions, as the API reads it.
    "user": _payload(
        Rep,
        lambda: json_object(
            USER,
            computed={"last_session_at": user_columns(OuterRef("tenant_id"))["w_last_session_at"]},
        ),
    ),
}


def changed(
    *,
    object: str,
    created: Iterable[Owner] = (),
    updated: Iterable[Owner] = (),
) -> None:
    """These objects of one kind were created or changed in the current transaction."""
    changes = [Change(t, i, "created") for t, i in created]
    changes += [Change(t, i, "updated") for t, i in updated]
    events_record(object=object, changes=changes)


def deleted(*, object: str, owners: Iterable[Owner], deleted_at: datetime) -> None:
    deletion_events_record(object=object, owners=owners, deleted_at=deleted_at)


def refreshed(*, object: str, ids: Iterable[uuid.UUID]) -> None:
    """Rows these objects' wire form reads changed: an event this transaction recorded for one
    of them shows it (a session's scorecard, a user's sessions)."""
    events_refresh(object=object, object_ids=ids)


def finish() -> None:
    """The payloads of what this transaction told, rendered as the objects now are: every write
    service calls this as it ends (an import once, after its batches)."""
    events_render(payloads=PAYLOADS)
