"""Every write of scorecards: admin, tests' factories and the importer (``scorecard_bulk_upsert``)
go through these, never through ``save()`` or ``delete()`` of their own.

In the writer's transaction they keep a session scored exactly when it has a scorecard (adding
one scores its session, deleting it leaves the session completed), the rollups of the session's
day exact (a scorecard's score counts on its session's day), and a scorecard with its tenant and
its session, which never change.
"""

from __future__ import annotations

import uuid
from collections.abc import Container
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from sessions_api.models import Session
from sessions_api.rollups import Touched
from sessions_api.services import session_bulk_score, session_bulk_unscore
from tenants.bulk import bulk_upsert
from tenants.models import Deletion
from tenants.services import (
    deletions_forget,
    deletions_record,
    owned_row_check,
    stamp_if_changed,
    stored_values,
)
from tenants.sync import change_stamp

from .models import Scorecard

# Columns a batch upsert overwrites on a stored row; created_at only when the row states it.
SCORECARD_UPDATE_FIELDS = ["overall_score", "verdict", "headline", "categories", "callouts"]
# On PostgreSQL, scorecards go through COPY (tenants/bulk.py): field names are the column names.
SCORECARD_COPY_FIELDS = (
    "id",
    "tenant_id",
    "session_id",
    "overall_score",
    "verdict",
    "headline",
    "categories",
    "callouts",
    "created_at",
)


def scorecard_upsert(*, scorecard: Scorecard) -> Scorecard:
    with transaction.atomic():
        stored = stored_values(row=scorecard, fields=("tenant_id", "session_id"))
        owned_row_check(row=scorecard, stored=stored, fixed=("tenant_id", "session_id"))
        stamp_if_changed(row=scorecard, fields=(*SCORECARD_UPDATE_FIELDS, "created_at"))
        scorecard.save()
        touched = Touched()
        new = [scorecard.session_id] if stored is None else []
        if stored is None:
            deletions_forget(
                kind=Deletion.Kind.SCORECARD, owners=[(scorecard.tenant_id, scorecard.pk)]
            )
        session_bulk_score(
            session_ids=[scorecard.session_id], new_card_session_ids=new, touched=touched
        )
        touched.recompute()
    if Scorecard.session.is_cached(scorecard):
        scorecard.session.status = Session.Status.SCORED
    return scorecard


def scorecard_delete(*, scorecard: Scorecard) -> None:
    scorecard_bulk_delete(scorecards=Scorecard.unscoped.filter(pk=scorecard.pk))


def scorecard_bulk_delete(*, scorecards: QuerySet[Scorecard]) -> None:
    """Deletes these scorecards; their sessions are left completed."""
    with transaction.atomic():
        found = list(scorecards.values_list("tenant_id", "id", "session_id"))
        scorecards.delete()
        deletions_record(
            kind=Deletion.Kind.SCORECARD,
            owners=[(tenant_id, card_id) for tenant_id, card_id, _ in found],
            stamp=change_stamp(),
        )
        touched = Touched()
        session_bulk_unscore(session_ids=[s for _, _, s in found], touched=touched)
        touched.recompute()


def scorecard_bulk_upsert(
    *,
    rows: list[dict[str, Any]],
    stored_ids: Container[uuid.UUID],
    now: datetime,
    touched: Touched,
) -> None:
    """Rows of ``Scorecard`` fields by id (one per id; the caller has checked that each session
    has no other scorecard and that a stored scorecard keeps its session); ``stored_ids``: which
    are stored already. A row without ``created_at`` (None) gets ``now`` when it is new and keeps
    its stored one otherwise. Scores their sessions; adds their days to ``touched``."""
    stamp = change_stamp()
    stated = [r for r in rows if r["created_at"] is not None]
    defaulted = [{**r, "created_at": now} for r in rows if r["created_at"] is None]
    for part, update_fields in (
        (stated, [*SCORECARD_UPDATE_FIELDS, "created_at"]),
        (defaulted, SCORECARD_UPDATE_FIELDS),
    ):
        bulk_upsert(
            model=Scorecard,
            rows=part,
            update_fields=update_fields,
            stored_ids=stored_ids,
            copy_fields=SCORECARD_COPY_FIELDS,
            stamp=stamp,
        )
    new = [r for r in rows if r["id"] not in stored_ids]
    if new:
        deletions_forget(
            kind=Deletion.Kind.SCORECARD, owners=[(r["tenant_id"], r["id"]) for r in new]
        )
    session_bulk_score(
        session_ids=[r["session_id"] for r in rows],
        new_card_session_ids=[r["session_id"] for r in new],
        touched=touched,
    )
