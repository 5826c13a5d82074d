"""The delivery worker's jobs (procrastinate, on PostgreSQL): found by procrastinate's Django app,
which autodiscovers each installed app's ``tasks`` module. webhooks/queue.py defers them."""

from __future__ import annotations

from django.db import close_old_connections
from procrastinate.contrib.django import app

from . import delivery

QUEUE = "webhooks"


@app.task(queue=QUEUE, name="webhooks.deliver_endpoint")
def deliver_endpoint(endpoint_id: str) -> None:
    """Delivers what the endpoint has due (webhooks/delivery.py); a job per endpoint, so that
    one endpoint's slowness stays in its own job."""
    close_old_connections()
    try:
        delivery.drain(endpoint_id, stopping=delivery.STOPPING.is_set)
    finally:
        close_old_connections()


@app.periodic(cron="* * * * *")
@app.task(queue=QUEUE, queueing_lock="webhooks-sweep", name="webhooks.sweep")
def sweep(timestamp: int) -> None:
    """Every minute, a job for every endpoint with a delivery due: what a job lost with a
    killed worker, or a retry whose job was not deferred, is delivered within a minute."""
    close_old_connections()
    try:
        delivery.wake_due()
    finally:
        close_old_connections()
