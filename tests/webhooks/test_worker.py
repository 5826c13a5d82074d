"""The delivery worker as it runs in production (``manage.py webhook_worker``, procrastinate on
PostgreSQL), against real receivers: woken by the commit, never losing an event to SIGKILL,
finishing what it sends on SIGTERM, no endpoint holding up another, and two workers never
sending one delivery twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import ScenarioFactory, TenantFactory
from tests.live import ROOT, server_env
from webhooks.models import WebhookAttempt, WebhookDelivery

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="procrastinate's worker: PostgreSQL"
    ),
]


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextmanager
def worker(*args: str) -> Iterator[subprocess.Popen]:
    """A webhook worker process on the test database, started and ready."""
    env = server_env(DATABASE_URL=_database_url(), WEBHOOK_TIMEOUT_SECONDS="10")
    with tempfile.NamedTemporaryFile("w+b") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "webhook_worker", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while b"webhook worker started" not in Path(log.name).read_bytes():
                assert process.poll() is None, Path(log.name).read_bytes().decode()[-3000:]
                assert time.monotonic() < deadline, "the worker did not start"
                time.sleep(0.1)
            process.log = log.name  # type: ignore[attr-defined]
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_commit_wakes_the_worker_at_once(subscribe, receiver):
    acme = TenantFactory()
    subscribe(acme, types=["scenario.created"])
    with worker():
        time.sleep(1)  # the worker idle, listening
        started = time.monotonic()
        ScenarioFactory(tenant=acme)
        [request] = receiver.wait_for(1, timeout=10)
        assert request.at - started < 2.0, "woken by the commit's NOTIFY, not by a poll"
        _wait(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 1)


def test_a_worker_killed_mid_delivery_delivers_again_when_it_comes_back(subscribe, receiver):
    acme = TenantFactory()
    subscribe(acme, types=["scenario.created"])
    receiver.answer = lambda _: (200, b"", 60.0) if len(receiver.received) == 1 else (200, b"", 0)
    with worker() as first:
        ScenarioFactory(tenant=acme)
        receiver.wait_for(1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert WebhookDelivery.objects.get().status == "pending"
    with worker():
        second = receiver.wait_for(2, timeout=30)[1]
        assert second.headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
        _wait(lambda: WebhookDelivery.objects.get().status == "delivered")
    assert WebhookAttempt.objects.count() == 1, "the killed attempt left no trace but its retry"


def test_sigterm_finishes_the_post_in_flight(subscribe, receiver):
    acme = TenantFactory()
    subscribe(acme, types=["scenario.created"])
    receiver.answer = lambda _: (200, b"", 2.0)
    with worker() as process:
        ScenarioFactory(tenant=acme)
        receiver.wait_for(1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_a_dead_endpoint_does_not_hold_up_another(subscribe, make_receiver):
    acme = TenantFactory()
    dead, alive = make_receiver(), make_receiver()
    dead.answer = lambda _: (200, b"", 8.0)
    subscribe(acme, types=["scenario.created"], url=dead.url)
    subscribe(acme, types=["scenario.created"], url=alive.url)
    with worker():
        for _ in range(3):
            ScenarioFactory(tenant=acme)
        dead.wait_for(1)
        started = time.monotonic()
        alive.wait_for(3, timeout=5)
        assert time.monotonic() - started < 5
        assert len(dead.received) <= 3


def test_two_workers_never_send_one_delivery_twice(subscribe, receiver):
    acme = TenantFactory()
    subscribe(acme, types=["scenario.created"])
    receiver.answer = lambda _: (200, b"", 0.05)
    with worker(), worker():
        for _ in range(40):
            ScenarioFactory(tenant=acme)
        got = receiver.wait_for(40, timeout=30)
        _wait(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 40)
        time.sleep(1)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 40, len(got)


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_the_worker_exits_cleanly_on_sigint(subscribe, receiver):
    with worker() as process:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
