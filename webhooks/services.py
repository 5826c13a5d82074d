"""Every write of webhooks: endpoints (admin and commands), the outbox (``events_record``, called by
the domain's services in their own transactions), re-sends and pruning.

The outbox: a write that creates, changes or deletes sessions, scorecards, scenarios or users
hands its changes here, and as it ends (``events_render``) the payloads are rendered by the
database from the API's own shapes, as the objects then are. An event is recorded once per
object per transaction, in its final state: a later change of the same object in the same
transaction (a session created, then scored by its scorecard's line) leaves one ``created``
event showing the scorecard; created and deleted in one transaction, it was never seen and
nothing is told. Events are recorded only for tenants that have an endpoint wanting the type (a
disabled one included, so that a re-enabled endpoint can be re-sent what it missed), and each
enabled endpoint wanting it gets a pending delivery, in the same transaction; the worker is woken
when it commits (webhooks/queue.py).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core.formats import rfc3339
from sync.shapes import DELETION

from . import addresses, queue
from .models import (
    ACTIONS,
    EVENT_TYPES,
    OBJECTS,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
ROTATION_OVERLAP = timedelta(hours=24)
CHUNK = 900  # ids per query: within SQLite's parameter limit


@dataclass(frozen=True)
class Change:
    """One object's change as a write hands it over: ``data`` is its wire object as JSON text
    (None for a deletion, whose data is its /deletions entry)."""

    tenant_id: uuid.UUID
    object_id: uuid.UUID
    action: str  # created, updated, deleted
    data: str | None = None


# -- endpoints ----------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def event_types_clean(types: Iterable[str]) -> list[str]:
    """The event types asked for, checked; empty means every type."""
    chosen = sorted({t.strip() for t in types if t.strip()})
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            {
                "event_types": f"Unknown event type(s): {', '.join(unknown)}. "
                f"Known: {', '.join(EVENT_TYPES)}."
            }
        )
    return chosen


def url_check(url: str) -> None:
    """The endpoint's URL as the contract allows it (https, public addresses), else a
    ValidationError naming why."""
    try:
        addresses.check_url(
            url,
            allow_http=settings.WEBHOOK_ALLOW_HTTP,
            allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
        )
    except addresses.RefusedURL as exc:
        raise ValidationError({"url": str(exc)}) from exc


def endpoint_save(*, endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str | None]:
    """Creates or updates an endpoint; returns it and, for a new one, its secret (shown once)."""
    endpoint.event_types = event_types_clean(endpoint.event_types or [])
    url_check(endpoint.url)
    created = None
    if endpoint._state.adding and not endpoint.secret:
        endpoint.secret = created = new_secret()
    if endpoint.enabled:
        endpoint.disabled_reason = ""
    endpoint.full_clean(exclude=["secret", "previous_secret"])
    endpoint.save()
    return endpoint, created


def endpoint_create(
    *, tenant_id: uuid.UUID, url: str, event_types: Iterable[str] = (), description: str = ""
) -> tuple[WebhookEndpoint, str]:
    endpoint, secret = endpoint_save(
        endpoint=WebhookEndpoint(
            tenant_id=tenant_id, url=url, event_types=list(event_types), description=description
        )
    )
    assert secret is not None
    return endpoint, secret


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new secret; the current one stays valid (both signatures sent) for 24 hours."""
    with transaction.atomic():
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint.secret


def live_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    live = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        live.append(endpoint.previous_secret)
    return live


def endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    with transaction.atomic():
        WebhookEndpoint.unscoped.filter(pk=endpoint.pk).update(enabled=True, disabled_reason="")
        queue.wake([endpoint.pk])


def endpoint_disable(*, endpoint_id: uuid.UUID, reason: str) -> None:
    """Disabled: nothing more is delivered to it, its pending deliveries are failed (a re-send
    after enabling it delivers them)."""
    with transaction.atomic():
        WebhookEndpoint.unscoped.filter(pk=endpoint_id).update(
            enabled=False, disabled_reason=reason[:200]
        )
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id, status=DeliveryStatus.PENDING
        ).update(status=DeliveryStatus.FAILED)


# -- the outbox ---------------------------------------------------------------------------------


def _txn() -> int:
    """An id of the current transaction, the same for every statement of it."""
    if not connection.in_atomic_block:
        raise RuntimeError("events_record() runs in the transaction of the write it tells")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            return cursor.fetchone()[0]
    # SQLite has no transaction id: one drawn for the transaction and forgotten when it commits;
    # a token whose forgetting is not pending in this transaction is an ended one's (rolled back).
    token = getattr(connection, "_webhook_txn", None)
    if token is None or not any(f is _forget_token for _, f, _ in connection.run_on_commit):
        token = connection._webhook_txn = secrets.randbits(62)
        transaction.on_commit(_forget_token)
    return token


def _forget_token() -> None:
    connection._webhook_txn = None


def _wanting(tenant_ids: set[uuid.UUID], types: set[str]) -> list[WebhookEndpoint]:
    """The endpoints of these tenants that want any of these types, enabled or not."""
    found = WebhookEndpoint.unscoped.filter(tenant_id__in=tenant_ids).only(
        "id", "tenant_id", "event_types", "enabled"
    )
    return [e for e in found if not e.event_types or types & set(e.event_types)]


def _final(before: str | None, now: str) -> str | None:
    """The action an object's event tells after ``now`` follows ``before`` in one transaction;
    None: nothing to tell."""
    if before is None:
        return now
    if before == "created":
        return None if now == "deleted" else "created"
    if before == "deleted":
        return "deleted" if now == "deleted" else "updated"
    return now  # updated, then updated or deleted


def events_record(*, object: str, changes: Sequence[Change]) -> None:
    """Records these changes of objects of one kind in the current transaction (see the module's
    docstring). A created or updated object's payload is rendered when the write ends
    (``events_render``), so that it shows the object's final state. Cheap when no endpoint of
    their tenants wants the kind: one query."""
    if not changes:
        return
    assert object in OBJECTS
    types = {f"{object}.{action}" for action in ACTIONS}
    endpoints = _wanting({c.tenant_id for c in changes}, types)
    if not endpoints:
        return
    by_tenant: dict[uuid.UUID, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        by_tenant[endpoint.tenant_id].append(endpoint)
    last = {c.object_id: c for c in changes if c.tenant_id in by_tenant}  # the last one wins
    if connection.vendor == "postgresql" and all(c.action != "deleted" for c in last.values()):
        _pend(object, list(last.values()))
        return
    txn = _txn()
    now = timezone.now()
    earlier: dict[uuid.UUID, WebhookEvent] = {}
    ids = list(last)
    for start in range(0, len(ids), CHUNK):
        for event in WebhookEvent.unscoped.filter(
            txn=txn, object=object, object_id__in=ids[start : start + CHUNK]
        ).only("id", "type", "object_id"):
            earlier[event.object_id] = event
    pending = _unpend(object, ids)
    new: list[WebhookEvent] = []
    rewritten: list[WebhookEvent] = []
    cancelled: list[uuid.UUID] = []
    for object_id, change in last.items():
        before = earlier.get(object_id)
        told = before.type.split(".")[1] if before else pending.get(object_id)
        action = _final(told, change.action)
        if action is None:
            if before is not None:
                cancelled.append(before.id)
            continue
        event_type = f"{object}.{action}"
        if before is not None:
            before.type, before.data = event_type, change.data
            rewritten.append(before)
            continue
        new.append(
            WebhookEvent(
                id=uuid.uuid4(),
                tenant_id=change.tenant_id,
                type=event_type,
                object=object,
                object_id=object_id,
                data=change.data,
                created_at=now,
                txn=txn,
            )
        )
    if cancelled:
        WebhookEvent.unscoped.filter(id__in=cancelled).delete()
    if rewritten:
        WebhookEvent.unscoped.bulk_update(rewritten, ["type", "data"], batch_size=CHUNK)
    # The rest of a transaction's changes wait in webhook_pending on PostgreSQL: these are a
    # write's deletions there, and everything on SQLite.
    WebhookEvent.unscoped.bulk_create(new, batch_size=500)
    owed = [
        WebhookDelivery(
            endpoint_id=endpoint.pk, event_id=event.id, next_attempt_at=now, created_at=now
        )
        for event in new
        for endpoint in by_tenant[event.tenant_id]
        if endpoint.enabled and endpoint.wants(event.type)
    ]
    WebhookDelivery.objects.bulk_create(owed, batch_size=500)
    if any(c.data is None for c in last.values()):
        connection._webhook_unrendered = True
    queue.wake({delivery.endpoint_id for delivery in owed})


# PostgreSQL: the creations and changes a transaction tells wait here, unrendered, until its
# write ends (``events_render``), which records each object's event once, rendered in its final
# state, with its deliveries: an import's batches only append to this table, without indexes.
_PENDING = (
    "CREATE TEMP TABLE IF NOT EXISTS webhook_pending (object text, tenant_id uuid,"
    " object_id uuid, action text) ON COMMIT DROP"
)


def _pend(object: str, changes: list[Change]) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(_PENDING)
        with raw.copy(
            "COPY webhook_pending (object, tenant_id, object_id, action) FROM STDIN"
        ) as copy:
            for c in changes:
                copy.write_row((object, c.tenant_id, c.object_id, c.action))
    connection._webhook_unrendered = True


def _unpend(object: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """These objects' pending creations and changes, taken back (a deletion follows them): by
    id, ``created`` if one was a creation, else ``updated``."""
    if connection.vendor != "postgresql" or not getattr(connection, "_webhook_unrendered", False):
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_PENDING)
        cursor.execute(
            "DELETE FROM webhook_pending WHERE object = %s AND object_id = ANY(%s)"
            " RETURNING object_id, action",
            [object, ids],
        )
        found: dict[uuid.UUID, str] = {}
        for object_id, action in cursor.fetchall():
            if found.get(object_id) != "created":
                found[object_id] = action
    return found


# A version 7 UUID (RFC 9562: 48 bits of Unix milliseconds, then random bits; PostgreSQL 15 has
# no function for it): ids that grow with time keep the inserts into the event's and the
# deliveries' indexes at their ends rather than all over them.
_UUID7 = (
    "(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7'"
    " || substr(replace(gen_random_uuid()::text, '-', ''), 14, 3)"
    " || substr(replace(gen_random_uuid()::text, '-', ''), 17, 16))::uuid"
)


def _record_pending(object: str, render: QuerySet, txn: int, now: datetime) -> list[uuid.UUID]:
    """PostgreSQL: the pending changes of one kind recorded as events, each object once and
    rendered by ``render`` (its ``w_key`` and ``w_json``), in one statement that also owes each
    new event to the enabled endpoints wanting it; a second change of an object this transaction
    told already updates its event (``created`` stays ``created``; after a deletion, it is
    ``updated``). Returns the endpoints owed something."""
    created, updated, deleted = (f"{object}.{a}" for a in ACTIONS)
    sql, params = render.query.sql_with_params()
    table, owed_table = WebhookEvent._meta.db_table, WebhookDelivery._meta.db_table
    with connection.cursor() as cursor:
        # Table names and the render's SQL are ours; every value is a parameter.
        cursor.execute(
            "WITH pending AS (SELECT object_id, tenant_id, bool_or(action = 'created') AS created"  # noqa: S608
            "  FROM webhook_pending WHERE object = %s GROUP BY object_id, tenant_id),"
            f" recorded AS (INSERT INTO {table} AS ev"
            "  (id, tenant_id, type, object, object_id, data, created_at, txn)"
            f"  SELECT {_UUID7}, p.tenant_id,"
            "   CASE WHEN p.created THEN %s ELSE %s END, %s, p.object_id, x.w_json, %s, %s"
            f"  FROM pending p JOIN ({sql}) x ON x.w_key = p.object_id"
            "  ON CONFLICT (txn, object, object_id) DO UPDATE SET data = EXCLUDED.data,"
            "   type = CASE WHEN ev.type = %s THEN ev.type WHEN ev.type = %s THEN %s"
            "   ELSE EXCLUDED.type END"
            "  RETURNING ev.id, ev.tenant_id, ev.type, (ev.xmax = 0) AS fresh),"  # xmax 0: new
            f" owed AS (INSERT INTO {owed_table}"
            "  (endpoint_id, event_id, status, attempts, failures, next_attempt_at, created_at)"
            "  SELECT e.id, r.id, 'pending', 0, 0, %s, %s FROM recorded r"
            f"  JOIN {WebhookEndpoint._meta.db_table} e ON e.tenant_id = r.tenant_id"
            "  AND e.enabled AND (e.event_types = '[]'::jsonb OR e.event_types ? r.type)"
            "  WHERE r.fresh RETURNING endpoint_id)"
            " SELECT DISTINCT endpoint_id FROM owed",
            [object, created, updated, object, now, txn, *params,
             created, deleted, updated, now, now],
        )  # fmt: skip
        return [row[0] for row in cursor.fetchall()]


def events_refresh(*, object: str, object_ids: Iterable[uuid.UUID]) -> None:
    """These objects' events recorded earlier in this transaction are rendered again when it
    ends: what the API shows of them depends on rows written since (a session's
    ``scorecard_id`` on its scorecard, a user's ``last_session_at`` on their sessions)."""
    ids = list(set(object_ids))
    if not ids or not WebhookEndpoint.unscoped.exists():
        return
    txn = _txn()
    rendered = WebhookEvent.unscoped.filter(txn=txn, object=object, data__isnull=False).exclude(
        type=f"{object}.deleted"
    )
    if connection.vendor == "postgresql":
        # Only events a write of this transaction has rendered already: what is pending is
        # rendered when the write ends anyway.
        told = list(rendered.filter(object_id__any_of=ids).values_list("tenant_id", "object_id"))
        if told:
            _pend(object, [Change(t, i, "updated") for t, i in told])
        return
    step = 10_000 if connection.vendor == "postgresql" else CHUNK  # any_of: one array parameter
    for start in range(0, len(ids), step):
        if rendered.filter(object_id__any_of=ids[start : start + step]).update(data=None):
            connection._webhook_unrendered = True


Rendering = Callable[[QuerySet], QuerySet]


def events_render(*, payloads: dict[str, Rendering]) -> None:
    """Renders the payloads of the events this transaction recorded (or refreshed) since the
    last call, from the objects as they now are: the domain's writes call this as they end.
    ``payloads``: by kind, ``render(ids)`` -> a queryset of the objects whose id is in the
    subquery ``ids``, with their id as ``w_key`` and their JSON text as ``w_json`` (the API's
    shape, rendered by the database). An event whose object is gone meanwhile is dropped (its
    deletion, recorded, tells)."""
    if not getattr(connection, "_webhook_unrendered", False):
        return
    txn = _txn()
    if connection.vendor == "postgresql":
        now, owed = timezone.now(), set()
        with connection.cursor() as cursor:
            cursor.execute(_PENDING)
        for object, render in payloads.items():
            ids = RawSQL("SELECT object_id FROM webhook_pending WHERE object = %s", [object])
            owed.update(_record_pending(object, render(ids), txn, now))
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE webhook_pending")
        connection._webhook_unrendered = False
        queue.wake(owed)
        return
    table = WebhookEvent._meta.db_table
    for object, render in payloads.items():
        pending = WebhookEvent.unscoped.filter(txn=txn, object=object, data__isnull=True)
        sql, params = render(pending.values("object_id")).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET data = x.w_json FROM ({sql}) x"  # noqa: S608 - our names
                f" WHERE {table}.txn = %s AND {table}.object = %s AND {table}.data IS NULL"
                f" AND {table}.object_id = x.w_key",
                [*params, txn, object],
            )
        pending.delete()
    connection._webhook_unrendered = False


def deletion_events_record(
    *,
    object: str,
    owners: Iterable[tuple[uuid.UUID, uuid.UUID]],
    deleted_at: datetime,
) -> None:
    """These (tenant_id, id) of one kind were deleted in the current transaction, at
    ``deleted_at`` (their tombstones' time): told with their /deletions entry."""
    events_record(
        object=object,
        changes=[
            Change(
                tenant_id=t,
                object_id=i,
                action="deleted",
                data=orjson.dumps(
                    DELETION.from_values({"object": object, "id": i, "deleted_at": deleted_at})
                ).decode(),
            )
            for t, i in owners
        ],
    )


# -- re-sends -----------------------------------------------------------------------------------


def deliveries_resend(
    *,
    endpoint: WebhookEndpoint,
    since: datetime | None = None,
    event_ids: Sequence[uuid.UUID] | None = None,
    failed_only: bool = False,
) -> int:
    """Makes the endpoint's events since ``since`` (or these ``event_ids``) due again, each
    with its own ``webhook-id``; with ``failed_only``, only those whose delivery failed. Events of
    its tenant and types recorded while it had no delivery of them (it was disabled, or created
    later) are owed to it too. Returns how many are due."""
    now = timezone.now()
    with transaction.atomic():
        events = WebhookEvent.unscoped.filter(tenant_id=endpoint.tenant_id)
        if since is not None:
            events = events.filter(created_at__gte=since)
        if event_ids is not None:
            events = events.filter(id__in=list(event_ids))
        if endpoint.event_types:
            events = events.filter(type__in=endpoint.event_types)
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint, event__in=events)
        if failed_only:
            deliveries = deliveries.filter(status=DeliveryStatus.FAILED)
        else:
            # Owed and never queued for it: queued now.
            missing = events.exclude(
                id__in=WebhookDelivery.objects.filter(endpoint=endpoint).values("event_id")
            ).values_list("id", flat=True)
            WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(
                        endpoint=endpoint, event_id=i, next_attempt_at=now, created_at=now
                    )
                    for i in missing.iterator()
                ],
                batch_size=1000,
                ignore_conflicts=True,
            )
        count = deliveries.update(status=DeliveryStatus.PENDING, failures=0, next_attempt_at=now)
        queue.wake([endpoint.pk])
    return count


# -- retention ----------------------------------------------------------------------------------


def prune(*, before: datetime) -> dict[str, int]:
    """Forgets events (with their deliveries) and attempts older than ``before``. An event still
    pending delivery somewhere is kept."""
    with transaction.atomic():
        attempts, _ = WebhookAttempt.objects.filter(at__lt=before).delete()
        pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).values("event_id")
        events = WebhookEvent.unscoped.filter(created_at__lt=before).exclude(id__in=pending)
        _removed, by_model = events.delete()
    return {
        "events": by_model.get(WebhookEvent._meta.label, 0),
        "deliveries": by_model.get(WebhookDelivery._meta.label, 0),
        "attempts": attempts,
    }


def event_body(event: WebhookEvent) -> bytes:
    """The POST body (Standard Webhooks): the same bytes on every attempt and re-send."""
    return orjson.dumps(
        {
            "type": event.type,
            "timestamp": rfc3339(event.created_at),
            "data": orjson.Fragment(event.data),
        }
    )
