"""Every write of reps, scenarios and sessions: admin, tests' factories and the importer (its
``*_bulk_*`` batches) go through these, never through ``save()`` or ``delete()`` of their own.

The invariants are kept here, in the writer's transaction:

- a session points only at a rep and a scenario of its own tenant, which never changes
  (``tenants.services.owned_row_check``);
- a session that has a scorecard is scored, whatever is saved: roleplay/scoring.py owns that
  rule, and adding or deleting a scorecard goes through it;
- the daily rollups and the reps' spans (roleplay/rollups.py) follow every change: the
  (tenant, day) pairs and reps a write touches, before and after it, are recomputed. Single
  writes recompute at once; batch writes add to the caller's ``Touched``, which must be
  recomputed (``batches_finish``) before the transaction commits: the importer does
  it once per import.
"""

from __future__ import annotations

import uuid
from collections.abc import Container
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from core.bulk import Written, bulk_upsert
from sync.clock import change_stamp
from sync.models import Deletion
from sync.services import deletions_forget, deletions_record, stamp_if_changed
from tenants.models import Tenant
from tenants.services import owned_row_check, stored_values, tenant_upsert

from . import events, rollups
from .models import Rep, Scenario, Session
from .rollups import Touched
from .scoring import session_has_scorecard, sessions_keep_scored

# Columns a batch upsert overwrites on a stored row. The tenant of a row never changes (the
# caller has checked it), and created_at only when the row states it.
REP_UPDATE_FIELDS = ["full_name", "email", "role"]
SCENARIO_UPDATE_FIELDS = ["name", "call_type", "status"]
SESSION_UPDATE_FIELDS = [
    "user",
    "scenario",
    "status",
    "started_at",
    "ended_at",
    "duration_seconds",
    "created_at",
    "transcript",
]
# On PostgreSQL, sessions go through COPY (core/bulk.py): field names are the column names.
SESSION_COPY_FIELDS = (
    "id",
    "tenant_id",
    "user_id",
    "scenario_id",
    "status",
    "started_at",
    "ended_at",
    "duration_seconds",
    "created_at",
    "transcript",
)


# -- reps -------------------------------------------------------------------------------------


def rep_upsert(*, rep: Rep) -> Rep:
    with transaction.atomic():
        adding = rep._state.adding
        owned_row_check(row=rep, stored=stored_values(row=rep, fields=("tenant_id",)))
        changed = stamp_if_changed(row=rep, fields=tuple(REP_UPDATE_FIELDS))
        rep.save()
        if adding:
            deletions_forget(kind=Deletion.Kind.USER, owners=[(rep.tenant_id, rep.pk)])
        if changed:
            events.changed(
                object="user", **{"created" if adding else "updated": [(rep.tenant_id, rep.pk)]}
            )
        events.finish()
    return rep


def rep_delete(*, rep: Rep) -> None:
    rep_bulk_delete(reps=Rep.unscoped.filter(pk=rep.pk))


def rep_bulk_delete(*, reps: QuerySet[Rep]) -> None:
    """A rep with sessions is protected by them (ProtectedError); without sessions it has no
    rollup rows. Each deletion is listed (tombstone) in the same transaction."""
    with transaction.atomic():
        owners = list(reps.values_list("tenant_id", "id"))
        reps.delete()
        stamp = change_stamp()
        deletions_record(kind=Deletion.Kind.USER, owners=owners, stamp=stamp)
        events.deleted(object="user", owners=owners, deleted_at=stamp)


def rep_bulk_upsert(*, rows: list[dict[str, Any]]) -> None:
    written = bulk_upsert(
        model=Rep, rows=rows, update_fields=REP_UPDATE_FIELDS, stamp=change_stamp()
    )
    deletions_forget(kind=Deletion.Kind.USER, owners=[(r["tenant_id"], r["id"]) for r in rows])
    _tell(object="user", rows=rows, written=[written])


# -- scenarios --------------------------------------------------------------------------------


def scenario_upsert(*, scenario: Scenario) -> Scenario:
    with transaction.atomic():
        adding = scenario._state.adding
        owned_row_check(row=scenario, stored=stored_values(row=scenario, fields=("tenant_id",)))
        changed = stamp_if_changed(row=scenario, fields=(*SCENARIO_UPDATE_FIELDS, "created_at"))
        scenario.save()
        if adding:
            deletions_forget(
                kind=Deletion.Kind.SCENARIO, owners=[(scenario.tenant_id, scenario.pk)]
            )
        if changed:
            owner = [(scenario.tenant_id, scenario.pk)]
            events.changed(object="scenario", **{"created" if adding else "updated": owner})
        events.finish()
    return scenario


def scenario_delete(*, scenario: Scenario) -> None:
    scenario_bulk_delete(scenarios=Scenario.unscoped.filter(pk=scenario.pk))


def scenario_bulk_delete(*, scenarios: QuerySet[Scenario]) -> None:
    """Their sessions protect them (ProtectedError); without sessions they have no rollup rows.
    Each deletion is listed (tombstone) in the same transaction."""
    with transaction.atomic():
        owners = list(scenarios.values_list("tenant_id", "id"))
        scenarios.delete()
        stamp = change_stamp()
        deletions_record(kind=Deletion.Kind.SCENARIO, owners=owners, stamp=stamp)
        events.deleted(object="scenario", owners=owners, deleted_at=stamp)


def scenario_bulk_upsert(*, rows: list[dict[str, Any]], now: datetime) -> None:
    """Rows of ``Scenario`` fields by id. A row without ``created_at`` (None) gets ``now`` when
    it is new and keeps its stored one otherwise."""
    stamp = change_stamp()
    stated = [r for r in rows if r["created_at"] is not None]
    defaulted = [{**r, "created_at": now} for r in rows if r["created_at"] is None]
    first = bulk_upsert(
        model=Scenario,
        rows=stated,
        update_fields=[*SCENARIO_UPDATE_FIELDS, "created_at"],
        stamp=stamp,
    )
    second = bulk_upsert(
        model=Scenario, rows=defaulted, update_fields=SCENARIO_UPDATE_FIELDS, stamp=stamp
    )
    deletions_forget(kind=Deletion.Kind.SCENARIO, owners=[(r["tenant_id"], r["id"]) for r in rows])
    _tell(object="scenario", rows=rows, written=[first, second])


def _tell(*, object: str, rows: list[dict[str, Any]], written: list[Written]) -> None:
    """The webhooks' events of a batch upsert: what it created and what it changed."""
    tenant_of = {r["id"]: r["tenant_id"] for r in rows}
    events.changed(
        object=object,
        created=[(tenant_of[i], i) for w in written for i in w.created],
        updated=[(tenant_of[i], i) for w in written for i in w.updated],
    )


# -- sessions ---------------------------------------------------------------------------------

_PLACE = ("tenant_id", "started_at", "user_id")  # what a session's rollups depend on


def tenant_save(*, tenant: Tenant) -> Tenant:
    """``tenants.services.tenant_upsert``, and when the tenant's time zone changed, its local
    rollups rebuilt in that zone in the same transaction (what its days are has changed): the
    Tenant admin saves through this."""
    with transaction.atomic():
        before = stored_values(row=tenant, fields=("time_zone",))
        tenant_upsert(tenant=tenant)
        if before is not None and before["time_zone"] != tenant.time_zone:
            rollups.recompute_tenant(tenant.pk)
    return tenant


def session_upsert(*, session: Session) -> Session:
    with transaction.atomic():
        stored = stored_values(row=session, fields=_PLACE)
        owned_row_check(row=session, stored=stored)
        if session.created_at is None:  # as in the import format: a session's is its start
            session.created_at = session.started_at
        if (
            stored is not None
            and session.status != Session.Status.SCORED
            and session_has_scorecard(session.pk)
        ):
            session.status = Session.Status.SCORED  # a session with a scorecard stays scored
        changed = stamp_if_changed(row=session, fields=tuple(SESSION_UPDATE_FIELDS))
        session.save()
        touched = Touched()
        if changed:
            owner = [(session.tenant_id, session.pk)]
            events.changed(object="session", **{"created" if stored is None else "updated": owner})
        if stored is None:
            deletions_forget(kind=Deletion.Kind.SESSION, owners=[(session.tenant_id, session.pk)])
        else:
            touched.add(stored["tenant_id"], stored["started_at"], stored["user_id"])
        touched.add(session.tenant_id, session.started_at, session.user_id)
        touched.recompute()
        events.refreshed(object="user", ids=[u for users in touched.reps.values() for u in users])
        events.finish()
    return session


def session_delete(*, session: Session) -> None:
    session_bulk_delete(sessions=Session.unscoped.filter(pk=session.pk))


def session_bulk_delete(*, sessions: QuerySet[Session]) -> None:
    """Deletes these sessions, their scorecards with them (admin's "delete selected", import's
    delete lines); both are listed (tombstones), in the same transaction."""
    with transaction.atomic():
        touched = Touched()
        owners = []
        for session_id, tenant_id, started_at, user_id in sessions.values_list("id", *_PLACE):
            touched.add(tenant_id, started_at, user_id)
            owners.append((tenant_id, session_id))
        cards = list(
            sessions.filter(scorecard__isnull=False).values_list("tenant_id", "scorecard__id")
        )
        sessions.delete()
        stamp = change_stamp()
        deletions_record(kind=Deletion.Kind.SESSION, owners=owners, stamp=stamp)
        deletions_record(kind=Deletion.Kind.SCORECARD, owners=cards, stamp=stamp)
        events.deleted(object="session", owners=owners, deleted_at=stamp)
        events.deleted(object="scorecard", owners=cards, deleted_at=stamp)
        touched.recompute()
        events.refreshed(object="user", ids=[u for users in touched.reps.values() for u in users])
        events.finish()


def session_bulk_upsert(
    *, rows: list[dict[str, Any]], stored_ids: Container[uuid.UUID], touched: Touched
) -> None:
    """Rows of ``Session`` fields by id (one per id); ``stored_ids``: which are stored already.
    Adds the days and reps they leave and reach to ``touched``."""
    stored = [r["id"] for r in rows if r["id"] in stored_ids]
    if stored:  # where they were: read before writing
        for tenant_id, started_at, user_id in Session.unscoped.filter(
            id__any_of=stored
        ).values_list(*_PLACE):
            touched.add(tenant_id, started_at, user_id)
    stamp = change_stamp()
    written = bulk_upsert(
        model=Session,
        rows=rows,
        update_fields=SESSION_UPDATE_FIELDS,
        stored_ids=stored_ids,
        copy_fields=SESSION_COPY_FIELDS,
        stamp=stamp,
    )
    if stored:  # only a stored session can have a scorecard
        written.updated += sessions_keep_scored(stored, stamp)
    _tell(object="session", rows=rows, written=[written])
    events.refreshed(object="user", ids=[r["user_id"] for r in rows])
    if len(stored) < len(rows):
        deletions_forget(
            kind=Deletion.Kind.SESSION,
            owners=[(r["tenant_id"], r["id"]) for r in rows if r["id"] not in stored_ids],
        )
    for row in rows:
        touched.add(row["tenant_id"], row["started_at"], row["user_id"])


def batches_finish(*, touched: Touched) -> None:
    """The rollups of everything the batches touched, and the payloads of the events they
    recorded: once, after the batches, before COMMIT."""
    touched.recompute()
    events.finish()
