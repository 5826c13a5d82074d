"""The circuit breaker's state machine (core/breaker.py), on a clock the test moves: the
database's (several failures within a window, one probe at a time) and Redis' (open on one
failure, then everyone tries again), which must behave as the rate limiter's breaker always did."""

from __future__ import annotations

import threading

import pytest

from core import breaker as breaker_module
from core.breaker import CircuitBreaker
from tenants import ratelimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(breaker_module.time, "monotonic", clock)
    return clock


def database_breaker(**overrides) -> CircuitBreaker:
    options = {
        "failures": 3,
        "window_seconds": 10,
        "open_seconds": 5,
        "single_probe": True,
        "probe_seconds": 60,
    }
    return CircuitBreaker(**{**options, **overrides})


def test_failures_open_it_only_when_enough_fall_within_the_window(clock):
    breaker = database_breaker()
    for _ in range(2):
        assert breaker.failed() is False
        clock.now += 6
    # Three failures, but never three within 10 s: still closed.
    assert breaker.failed() is False
    assert breaker.state == "closed" and breaker.admit() == "closed"
    clock.now += 5
    assert breaker.failed() is False  # two within the last 10 s (t=12, t=17)
    assert breaker.failed() is True  # three: open
    assert breaker.state == "open"
    assert breaker.admit() is None and not breaker.allows()
    assert breaker.retry_after() == 5
    clock.now += 3.5
    assert breaker.admit() is None
    assert breaker.retry_after() == 2  # what is left of the period, rounded up


def test_half_open_lets_one_probe_through_and_its_success_closes(clock):
    breaker = database_breaker()
    for _ in range(3):
        breaker.failed()
    clock.now += 5
    assert breaker.state == "half-open"
    assert breaker.admit() == "probe"
    # One probe at a time: the others are refused meanwhile, told to come back in a period.
    assert [breaker.admit() for _ in range(5)] == [None] * 5
    assert breaker.retry_after() == 5
    assert breaker.succeeded() is True
    assert breaker.state == "closed"
    assert [breaker.admit() for _ in range(3)] == ["closed"] * 3
    assert breaker.succeeded() is False  # already closed
    # Closed again from scratch: one new failure does not reopen it.
    assert breaker.failed() is False and breaker.state == "closed"


def test_a_failed_probe_opens_it_again_for_a_whole_period(clock):
    breaker = database_breaker()
    for _ in range(3):
        breaker.failed()
    clock.now += 5
    assert breaker.admit() == "probe"
    clock.now += 2  # the probe waited on the database, then failed
    assert breaker.failed() is False  # not a new opening: it was not closed
    assert breaker.state == "open" and breaker.retry_after() == 5
    clock.now += 4.9
    assert breaker.admit() is None
    clock.now += 0.1
    assert breaker.admit() == "probe"


def test_a_probe_that_cannot_tell_frees_its_slot(clock):
    breaker = database_breaker()
    for _ in range(3):
        breaker.failed()
    clock.now += 5
    assert breaker.admit() == "probe"
    assert breaker.admit() is None
    breaker.release_probe()  # its request ended without an answer either way
    assert breaker.admit() == "probe"
    # A probe that never reports at all (a bug) holds the slot for probe_seconds at most.
    clock.now += 59
    assert breaker.admit() is None
    clock.now += 1
    assert breaker.admit() == "probe"


def test_failures_while_open_extend_it_and_a_late_success_closes_it(clock):
    """Calls already waiting when it opened report later: a cut one is more of the same, one
    that got an answer proves the database answers."""
    breaker = database_breaker()
    for _ in range(3):
        breaker.failed()
    clock.now += 4
    breaker.failed()
    assert breaker.retry_after() == 5
    assert breaker.succeeded() is True and breaker.state == "closed"


def test_settings_are_read_when_needed(clock):
    values = {"failures": 2, "open": 5}
    breaker = CircuitBreaker(
        failures=lambda: values["failures"],
        window_seconds=lambda: 10,
        open_seconds=lambda: values["open"],
        single_probe=True,
    )
    breaker.failed()
    values["failures"] = 1
    values["open"] = 7
    assert breaker.failed() is True
    assert breaker.retry_after() == 7


def test_only_one_of_many_threads_becomes_the_probe(clock):
    breaker = database_breaker()
    for _ in range(3):
        breaker.failed()
    clock.now += 5
    start = threading.Barrier(16)
    results: list = []

    def contend() -> None:
        start.wait()
        results.append(breaker.admit())

    threads = [threading.Thread(target=contend) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("probe") == 1 and results.count(None) == 15


class OldRedisBreaker:
    """The rate limiter's breaker before it was shared (tenants/ratelimit.py at c1ac339)."""

    def __init__(self, clock: Clock, open_seconds: float) -> None:
        self.clock, self.open_seconds = clock, open_seconds
        self.open_until = float("-inf")

    def allows(self) -> bool:
        return self.clock() >= self.open_until

    def failed(self) -> None:
        self.open_until = self.clock() + self.open_seconds

    def reset(self) -> None:
        self.open_until = float("-inf")


def test_the_redis_breaker_behaves_as_before(clock):

    new = ratelimit.breaker
    new.reset()
    old = OldRedisBreaker(clock, ratelimit.BREAKER_OPEN_SECONDS)
    # a: ask, f: a failure, w: 2.5 s pass, r: reset
    steps = "afaawafwwaaffawwwarafa"
    try:
        for n, step in enumerate(steps):
            if step == "a":
                assert new.allows() == old.allows(), n
                # Every caller may try once the period is over: no single probe.
                assert new.allows() == old.allows(), n
            elif step == "f":
                new.failed()
                old.failed()
            elif step == "w":
                clock.now += 2.5
            elif step == "r":
                new.reset()
                old.reset()
            assert new.open_until == old.open_until, n
    finally:
        new.reset()
