"""Waking the delivery worker: on PostgreSQL through procrastinate (webhooks/tasks.py), whose job
is deferred inside the caller's transaction, so that it exists exactly when the deliveries it is
for have committed, and whose worker LISTENs for it (no polling). On SQLite (the demo), which
procrastinate does not support, the worker polls the deliveries table instead
(``webhook_worker``, README "Webhooks").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.apps import apps
from django.db import connection, transaction

WAKE_LOCK = "webhooks:{}"  # at most one waiting job per endpoint
RETRY_LOCK = "webhooks-retry:{}"  # and at most one scheduled for its next retry


def uses_procrastinate() -> bool:
    return apps.is_installed("procrastinate.contrib.django")


def _defer(endpoint_id: uuid.UUID, lock: str, schedule_at: datetime | None = None) -> None:
    from procrastinate import manager
    from procrastinate.contrib.django.django_connector import DjangoConnector
    from procrastinate.exceptions import AlreadyEnqueued

    from .tasks import deliver_endpoint

    deferrer = deliver_endpoint.configure(queueing_lock=lock, schedule_at=schedule_at)
    # Through Django's connection of this thread, whatever connector the app runs on (the
    # worker's is its own pool): the job is part of the caller's transaction.
    deferrer.job_manager = manager.JobManager(DjangoConnector(connection.alias))
    try:
        with transaction.atomic():  # a savepoint: a refused defer leaves the caller's intact
            deferrer.defer(endpoint_id=str(endpoint_id))
    except AlreadyEnqueued:
        pass  # a job waits already: it will see these deliveries too


def wake(endpoint_ids: Iterable[uuid.UUID]) -> None:
    """The endpoints have deliveries due now: a job for each, in the current transaction."""
    if not uses_procrastinate():
        return
    for endpoint_id in sorted(set(endpoint_ids)):
        _defer(endpoint_id, WAKE_LOCK.format(endpoint_id))


def wake_at(endpoint_id: uuid.UUID, when: datetime) -> None:
    """The endpoint's next retry is due at ``when``: one scheduled job per endpoint, moved
    earlier when an earlier retry comes due."""
    if not uses_procrastinate():
        return
    lock = RETRY_LOCK.format(endpoint_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = LEAST(scheduled_at, %s)"
            " WHERE queueing_lock = %s AND status = 'todo'",
            [when, lock],
        )
        if cursor.rowcount:
            return
    _defer(endpoint_id, lock, schedule_at=when)
