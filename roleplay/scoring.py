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
from django.db.models import Q, QuerySet

from core.bulk import bulk_upsert
from sync.clock import TransactionStart, change_stamp
from sync.models import Deletion
from sync.services import deletions_forget, deletions_record, stamp_if_changed
from tenants.services import owned_row_check, stored_values

from . import events
from .models import Scorecard, Session
from .rollups import Touched

# Columns a batch upsert overwrites on a stored row; created_at only when the row states it.
SCORECARD_UPDATE_FIELDS = ["overall_score", "verdict", "headline", "categories", "callouts"]
# On PostgreSQL, scorecards go through COPY (core/bulk.py): field names are the column names.
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
        changed = stamp_if_changed(row=scorecard, fields=(*SCORECARD_UPDATE_FIELDS, "created_at"))
        scorecard.save()
        if changed:
            owner = [(scorecard.tenant_id, scorecard.pk)]
            events.changed(
                object="scorecard", **{"created" if stored is None else "updated": owner}
            )
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
        events.finish()
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
        owners = [(tenant_id, card_id) for tenant_id, card_id, _ in found]
        stamp = change_stamp()
        deletions_record(kind=Deletion.Kind.SCORECARD, owners=owners, stamp=stamp)
        events.deleted(object="scorecard", owners=owners, deleted_at=stamp)
        touched = Touched()
        session_bulk_unscore(session_ids=[s for _, _, s in found], touched=touched)
        touched.recompute()
        events.finish()


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
    created: list[tuple[uuid.UUID, uuid.UUID]] = []
    updated: list[tuple[uuid.UUID, uuid.UUID]] = []
    tenant_of = {r["id"]: r["tenant_id"] for r in rows}
    for part, update_fields in (
        (stated, [*SCORECARD_UPDATE_FIELDS, "created_at"]),
        (defaulted, SCORECARD_UPDATE_FIELDS),
    ):
        written = bulk_upsert(
            model=Scorecard,
            rows=part,
            update_fields=update_fields,
            stored_ids=stored_ids,
            copy_fields=SCORECARD_COPY_FIELDS,
            stamp=stamp,
        )
        created += [(tenant_of[i], i) for i in written.created]
        updated += [(tenant_of[i], i) for i in written.updated]
    events.changed(object="scorecard", created=created, updated=updated)
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


# -- the rule: a session is scored exactly when it has a scorecard ------------------------


def session_has_scorecard(session_id: uuid.UUID) -> bool:
    return Session.unscoped.filter(id=session_id, scorecard__isnull=False).exists()


def _update(sessions: QuerySet[Session], **values: Any) -> list[uuid.UUID]:
    """``sessions.update(**values)``, returning the ids it changed."""
    ids = list(sessions.values_list("id", flat=True))
    if ids:
        Session.unscoped.filter(id__any_of=ids).update(**values)
    return ids


def sessions_keep_scored(session_ids: list[uuid.UUID], stamp: datetime) -> list[uuid.UUID]:
    """A session that already has a scorecard stays scored, whatever its row says. Returns
    those it had to change."""
    return _update(
        Session.unscoped.filter(id__any_of=session_ids, scorecard__isnull=False).exclude(
            status=Session.Status.SCORED
        ),
        status=Session.Status.SCORED,
        updated_at=stamp,
    )


def session_bulk_score(
    *, session_ids: list[uuid.UUID], new_card_session_ids: list[uuid.UUID], touched: Touched
) -> None:
    """These sessions' scorecards were just written: they are scored. Those whose scorecard is
    new (``new_card_session_ids``: their scorecard_id changed) have changed, unless this
    transaction stamped them already: no sync read has seen that stamp (the horizon stays at or
    below this transaction's start until it ends), so it serves the scorecard with it. An import
    of new scored sessions so rewrites none of them (on PostgreSQL; SQLite has no transaction
    start, and stamps them again)."""
    stamp = change_stamp()
    ids = _update(
        Session.unscoped.filter(
            Q(id__any_of=new_card_session_ids, updated_at__lt=TransactionStart())
            | Q(id__any_of=session_ids) & ~Q(status=Session.Status.SCORED)
        ),
        status=Session.Status.SCORED,
        updated_at=stamp,
    )
    _tell_sessions(ids)
    # Those this transaction wrote already (and did not rewrite): their events show the card.
    events.refreshed(object="session", ids=new_card_session_ids)
    touched.add_days_of(session_ids)


def _tell_sessions(ids: list[uuid.UUID]) -> None:
    if ids:
        owners = Session.unscoped.filter(id__any_of=ids).values_list("tenant_id", "id")
        events.changed(object="session", updated=list(owners))


def session_bulk_unscore(*, session_ids: list[uuid.UUID], touched: Touched) -> None:
    """These sessions' scorecards were just deleted. A scored call was completed; without its
    scorecard it is completed, not scored yet."""
    Session.unscoped.filter(id__any_of=session_ids).update(
        status=Session.Status.COMPLETED, updated_at=change_stamp()
    )
    _tell_sessions(session_ids)
    touched.add_days_of(session_ids)
