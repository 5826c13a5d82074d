"""The webhooks' figures on ``GET /metrics``, read from the database at each scrape: the worker
runs apart from the web servers (and maybe on another machine), so its own counters would not
reach them; the tables hold the truth for every worker at once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .models import AttemptOutcome, DeliveryStatus, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)


class WebhookCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        # Read whole before yielding: a database that fails mid-way leaves out these figures
        # only, and /metrics still serves the process's own (the breaker's state above all).
        try:
            families = list(self._read())
        except Exception:
            log.warning("webhook metrics left out: the database did not answer", exc_info=True)
            return
        yield from families

    def _read(self) -> Iterator[GaugeMetricFamily]:
        deliveries = GaugeMetricFamily(
            "webhook_deliveries",
            "Deliveries kept (WEBHOOK_RETENTION_DAYS), by status.",
            labels=["status"],
        )
        counted = dict(
            WebhookDelivery.objects.values_list("status").annotate(n=Count("id")).order_by()
        )
        for status in DeliveryStatus.values:
            deliveries.add_metric([status], counted.get(status, 0))
        yield deliveries

        attempts = GaugeMetricFamily(
            "webhook_attempts_last_hour",
            "POSTs of the last hour, by outcome (success: a 2xx).",
            labels=["outcome"],
        )
        since = timezone.now() - timedelta(hours=1)
        by_outcome = dict(
            WebhookAttempt.objects.filter(at__gte=since)
            .values_list("outcome")
            .annotate(n=Count("id"))
            .order_by()
        )
        for outcome in AttemptOutcome.values:
            attempts.add_metric([outcome], by_outcome.get(outcome, 0))
        yield attempts

        oldest = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).aggregate(
            at=Min("created_at")
        )["at"]
        yield GaugeMetricFamily(
            "webhook_oldest_undelivered_seconds",
            "Age of the oldest event still owed to an endpoint (0: none).",
            value=0 if oldest is None else (timezone.now() - oldest).total_seconds(),
        )
