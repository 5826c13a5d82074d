"""What the domain's writes tell the webhooks (webhooks/services.py): each changed object's
payload rendered from the same shape and columns as the API's detail of it (a session without
its transcript, a user without ``email``), so that a payload always equals the API's object.
Called by the services in their own transactions, after the write."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

import orjson
from django.db.models import F

from core.shapes import Shape
from webhooks.services import Change, deletion_events_record, events_record, events_refresh

from .models import Rep, Scenario, Scorecard, Session
from .selectors import user_columns
from .shapes import SCENARIO, SCORECARD, SESSION, USER

CHUNK = 900
Owner = tuple[uuid.UUID, uuid.UUID]  # (tenant_id, id)


def _renderer(model, shape: Shape, columns: Callable[[uuid.UUID], dict]) -> Callable:
    def render(tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        out: dict[uuid.UUID, str] = {}
        for start in range(0, len(ids), CHUNK):
            rows = model.objects.for_tenant(tenant_id).filter(id__in=ids[start : start + CHUNK])
            for row in rows.values(w_key=F("id"), **columns(tenant_id)):
                out[row["w_key"]] = orjson.dumps(shape.render(row)).decode()
        return out

    return render


RENDER = {
    "session": _renderer(Session, SESSION, lambda _: SESSION.columns()),
    "scorecard": _renderer(Scorecard, SCORECARD, lambda _: SCORECARD.columns()),
    "scenario": _renderer(Scenario, SCENARIO, lambda _: SCENARIO.columns()),
    "user": _renderer(Rep, USER, user_columns),
}


def changed(*, object: str, created: Iterable[Owner] = (), updated: Iterable[Owner] = ()) -> None:
    """These objects of one kind were created or changed in the current transaction."""
    changes = [Change(t, i, "created") for t, i in created]
    changes += [Change(t, i, "updated") for t, i in updated]
    if changes:
        events_record(object=object, changes=changes, render=RENDER[object])


def deleted(*, object: str, owners: Iterable[Owner]) -> None:
    deletion_events_record(object=object, owners=owners)


def refreshed(*, object: str, ids: Iterable[uuid.UUID]) -> None:
    """Rows these objects' wire form reads changed: an event this transaction recorded for one
    of them shows it (a session's scorecard, a user's sessions)."""
    events_refresh(object=object, object_ids=ids, render=RENDER[object])
