"""Delivering an endpoint's due events: claim, POST signed, record, schedule the retry.

``drain`` claims up to WEBHOOK_ENDPOINT_CONCURRENCY due deliveries of one endpoint with ``FOR
UPDATE SKIP LOCKED`` and keeps that transaction open through their POSTs: a worker killed
mid-delivery leaves the rows unclaimed and pending (its connection's end rolls the claim back),
and another worker can never claim them while one is sending. Only one drain of an endpoint
sends at a time (a transaction-scoped advisory lock, released with the claim), which is the
endpoint's concurrency limit; different endpoints drain in parallel in the worker's job slots,
so a slow or dead endpoint holds one slot, never another endpoint's deliveries.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min
from django.utils import timezone
from standardwebhooks import Webhook

from core.dbfunctions import try_xact_lock

from . import addresses, queue
from .models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .services import endpoint_disable, event_body, live_secrets

ENDPOINT_LOCK = 0x57484B53  # b"WHKS": the advisory lock namespace of endpoints' drains
ANSWER_KEPT = 1024  # bytes of an answer kept with its attempt
USER_AGENT = "roleplay-api-webhooks/1"
CLAIM_ROUNDS = 8  # a claim holds this many POSTs per slot of the endpoint's concurrency
# Set on SIGTERM (webhook_worker): every drain ends after the batch it is sending.
STOPPING = threading.Event()


@dataclass
class Outcome:
    ok: bool
    status_code: int | None
    duration_ms: int
    response: str
    error: str
    kind: str


def retry_schedule() -> list[int]:
    return [int(s) for s in str(settings.WEBHOOK_RETRY_SCHEDULE).split(",") if s.strip()]


def next_delay(failures: int) -> timedelta | None:
    """After the ``failures``-th failure in a row: the wait before the next attempt (up to 10%
    jitter, so that a recovered endpoint is not hit by every retry at once), None when the
    schedule is spent."""
    schedule = retry_schedule()
    if failures > len(schedule):
        return None
    base = schedule[failures - 1]
    return timedelta(seconds=base * (1 + random.uniform(0, 0.1)))


def signed_headers(
    endpoint: WebhookEndpoint, event_id: uuid.UUID, body: bytes, now: datetime
) -> dict[str, str]:
    msg_id = str(event_id)
    signatures = " ".join(
        Webhook(secret).sign(msg_id, now, body) for secret in live_secrets(endpoint, now)
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def http_client() -> httpx.Client:
    return addresses.client(
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
    )


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    started = time.perf_counter()
    try:
        answer = client.post(url, content=body, headers=headers)
    except Exception as exc:  # any failure to get an answer is the attempt's outcome
        took = int((time.perf_counter() - started) * 1000)
        kind = _kind(exc)
        return Outcome(False, None, took, "", f"{kind}: {exc}"[:1000], kind)
    took = int((time.perf_counter() - started) * 1000)
    text = answer.content[:ANSWER_KEPT].decode("utf-8", "replace")
    ok = 200 <= answer.status_code < 300
    kind = WebhookAttempt.Outcome.SUCCESS if ok else WebhookAttempt.Outcome.HTTP_ERROR
    return Outcome(ok, answer.status_code, took, text, "", kind)


def _kind(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return WebhookAttempt.Outcome.TIMEOUT
    if isinstance(exc, addresses.RefusedConnection):
        return WebhookAttempt.Outcome.REFUSED
    return WebhookAttempt.Outcome.CONNECTION_ERROR


def _claim(endpoint_id: uuid.UUID, limit: int) -> list[WebhookDelivery]:
    return list(
        WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("event")
        .filter(
            endpoint_id=endpoint_id,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("next_attempt_at", "id")[:limit]
    )


def _exclusive(endpoint_id: uuid.UUID) -> bool:
    """This transaction alone sends to the endpoint (PostgreSQL; SQLite's worker is one)."""
    return try_xact_lock(connection, ENDPOINT_LOCK, str(endpoint_id))


def drain(
    endpoint_id: uuid.UUID | str,
    *,
    client: httpx.Client | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Delivers the endpoint's due deliveries until none is due (or ``stopping()``); returns
    how many attempts it made. Returns at once when another drain of it is sending."""
    endpoint_id = uuid.UUID(str(endpoint_id))
    own_client = client is None
    client = client or http_client()
    concurrency = settings.WEBHOOK_ENDPOINT_CONCURRENCY
    attempted = 0
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            while not stopping():
                with transaction.atomic():
                    if not _exclusive(endpoint_id):
                        return attempted
                    endpoint = WebhookEndpoint.unscoped.filter(pk=endpoint_id, enabled=True).first()
                    if endpoint is None:
                        return attempted
                    # A claim of several rounds of POSTs: the database's share per event stays
                    # small, while at most ``concurrency`` POSTs are in flight.
                    batch = _claim(endpoint_id, concurrency * CLAIM_ROUNDS)
                    if not batch:
                        break
                    attempted += _send(endpoint, batch, client, pool, stopping)
        _schedule_next(endpoint_id)
    finally:
        if own_client:
            client.close()
    return attempted


def _send(
    endpoint: WebhookEndpoint,
    batch: list[WebhookDelivery],
    client: httpx.Client,
    pool: ThreadPoolExecutor,
    stopping: Callable[[], bool],
) -> int:
    """POSTs the batch, records each attempt; returns how many it sent. Once ``stopping()``,
    the rest are left as they were (pending, released with the claim)."""
    now = timezone.now()

    def attempt(delivery: WebhookDelivery) -> Outcome | None:
        if stopping():
            return None
        body = event_body(delivery.event)
        return post(
            client, endpoint.url, body, signed_headers(endpoint, delivery.event_id, body, now)
        )

    results = list(pool.map(attempt, batch))
    sent = [(d, o) for d, o in zip(batch, results, strict=True) if o is not None]
    if not sent:
        return 0
    done = timezone.now()
    gone = False
    delivered: list[int] = []
    failed: list[WebhookDelivery] = []
    for delivery, outcome in sent:
        delivery.attempts += 1
        delivery.last_attempt_at = done
        if outcome.ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.failures = 0
            delivered.append(delivery.pk)
            continue
        delivery.failures += 1
        wait = next_delay(delivery.failures)
        if wait is None:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = done + wait
        gone = gone or outcome.status_code == 410
        failed.append(delivery)
    # Successes, the usual case, in one statement; each failure has its own retry time.
    WebhookDelivery.objects.filter(pk__in=delivered).update(
        status=DeliveryStatus.DELIVERED,
        attempts=F("attempts") + 1,
        failures=0,
        last_attempt_at=done,
    )
    if failed:
        WebhookDelivery.objects.bulk_update(
            failed, ["status", "attempts", "failures", "next_attempt_at", "last_attempt_at"]
        )
    WebhookAttempt.objects.bulk_create(
        [
            WebhookAttempt(
                delivery=delivery,
                endpoint_id=endpoint.pk,
                at=now,
                status_code=outcome.status_code,
                duration_ms=outcome.duration_ms,
                response=outcome.response,
                error=outcome.error,
                ok=outcome.ok,
                outcome=outcome.kind,
            )
            for delivery, outcome in sent
        ]
    )
    if gone:
        endpoint_disable(endpoint_id=endpoint.pk, reason="The endpoint answered 410 Gone.")
    elif not any(o.ok for _, o in sent):
        _disable_if_failing(endpoint, done)
    return len(sent)


def _disable_if_failing(endpoint: WebhookEndpoint, now: datetime) -> None:
    """Every attempt for WEBHOOK_DISABLE_AFTER_HOURS has failed: the endpoint is disabled."""
    since = now - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    attempts = WebhookAttempt.objects.filter(endpoint=endpoint)
    first = attempts.filter(at__gte=since).order_by("at").values_list("at", "ok").first()
    if first is None or first[0] - since > timedelta(hours=1):
        return  # it has not been failing that long (or it is new)
    if not attempts.filter(at__gte=since, ok=True).exists():
        endpoint_disable(
            endpoint_id=endpoint.pk,
            reason=f"Every delivery failed for {settings.WEBHOOK_DISABLE_AFTER_HOURS} hours.",
        )


def _schedule_next(endpoint_id: uuid.UUID) -> None:
    """A job for the endpoint's next retry, when one is pending."""
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id, status=DeliveryStatus.PENDING
        ).aggregate(at=Min("next_attempt_at"))["at"]
        if due is not None:
            queue.wake_at(endpoint_id, due)


def wake_due() -> None:
    """A job for every endpoint with a delivery due: the PostgreSQL worker's sweep, at its
    start (what a killed worker was sending is due again) and every minute."""
    with transaction.atomic():
        queue.wake(due_endpoints())


def due_endpoints() -> list[uuid.UUID]:
    """Endpoints with a delivery due now (the SQLite worker's poll, the PostgreSQL worker's
    sweep after a restart)."""
    return list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=timezone.now(),
            endpoint__enabled=True,
        )
        .values_list("endpoint_id", flat=True)
        .distinct()
        .order_by()
    )
