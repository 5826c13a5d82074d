"""core/replicas.py's decisions: how stale the replica may be, and where a request reads. The
replica itself, streaming from a primary, is exercised by tests/topology/."""

from __future__ import annotations

import math
from collections import deque

from django.db import DEFAULT_DB_ALIAS
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from core import replicas


def brute_staleness(samples, replayed, now):
    """The definition: the replica holds the primary's state as of every sample whose
    position it has replayed; it is at most as stale as the newest such sample is old."""
    held = [seen for seen, position in samples if position <= replayed]
    if samples and replayed >= max(position for _, position in samples):
        return 0.0
    return now - max(held) if held else math.inf


@given(
    st.lists(st.integers(0, 1_000), min_size=0, max_size=20),
    st.integers(0, 1_100),
    st.floats(0.01, 1.0),
)
def test_staleness_is_the_age_of_the_newest_sample_replayed(steps, replayed, interval):
    # The primary's WAL position only grows; samples are taken every ``interval`` seconds.
    position, samples = 0, deque()
    for i, step in enumerate(steps):
        position += step
        samples.append((i * interval, position))
    now = len(steps) * interval
    assert replicas.staleness(samples, replayed, now) == brute_staleness(samples, replayed, now)


def test_a_replica_caught_up_is_not_stale_however_old_the_samples():
    samples = deque([(0.0, 100), (1.0, 100)])
    assert replicas.staleness(samples, 100, 60.0) == 0.0
    assert replicas.staleness(samples, 99, 60.0) == math.inf


def monitor_with(lag: float, age: float, monkeypatch) -> replicas.Monitor:
    monitor = replicas.Monitor()
    monkeypatch.setattr(monitor, "_ensure_running", lambda: None)
    monkeypatch.setattr(replicas.time, "monotonic", lambda: 1000.0)
    monitor._state = replicas._State(lag, 1000.0 - age)
    return monitor


@override_settings(DATABASE_REPLICA_MAX_LAG_SECONDS=5)
def test_fresh_counts_the_lag_and_the_age_of_the_check(monkeypatch):
    assert monitor_with(0.0, 0.5, monkeypatch).fresh()
    assert monitor_with(4.0, 0.5, monkeypatch).fresh()
    assert not monitor_with(4.0, 1.5, monkeypatch).fresh()  # the check itself is getting old
    assert not monitor_with(0.0, 6.0, monkeypatch).fresh()  # a check stuck on a hung server
    assert not monitor_with(math.inf, 0.0, monkeypatch).fresh()  # down
    down = monitor_with(0.0, 0.0, monkeypatch)
    down.mark_down()
    assert not down.fresh()


def test_the_router_reads_where_the_request_is_pinned_and_writes_on_the_primary():
    router = replicas.ReplicaRouter()
    assert router.db_for_read(None) == DEFAULT_DB_ALIAS  # outside requests: the primary
    with replicas.pinned(replicas.REPLICA):
        assert router.db_for_read(None) == replicas.REPLICA
        assert replicas.current() == replicas.REPLICA
        assert router.db_for_write(None) == DEFAULT_DB_ALIAS
        with replicas.pinned(DEFAULT_DB_ALIAS):
            assert router.db_for_read(None) == DEFAULT_DB_ALIAS
        assert router.db_for_read(None) == replicas.REPLICA
    assert router.db_for_read(None) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "roleplay")
    assert not router.allow_migrate(replicas.REPLICA, "roleplay")


def test_without_a_replica_every_request_reads_the_primary(rf):
    seen = []
    middleware = replicas.ReplicaMiddleware(lambda request: seen.append(replicas.current()))
    middleware(rf.get("/api/v1/sessions"))
    assert seen == [DEFAULT_DB_ALIAS]
