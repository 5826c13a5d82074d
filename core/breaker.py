"""A circuit breaker: stop asking a dependency that keeps failing, for a while.

Closed, calls go through and failures are counted. ``failures`` of them within
``window_seconds`` open it: for ``open_seconds`` no call goes through. Then it is half-open:
with ``single_probe``, one caller at a time is let through as a probe (a success closes the
breaker, a failure opens it again, ``release_probe`` lets the next caller try); without, every
caller goes through and the next failure opens it again.

Each setting is a value or a callable read when it is needed, so that settings changed at run
time (tests) apply. The closed path (every call) takes no lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

Setting = float | Callable[[], float]
Admission = Literal["closed", "probe"]


def _read(setting: Setting) -> float:
    return setting() if callable(setting) else setting


class CircuitBreaker:
    def __init__(
        self,
        *,
        open_seconds: Setting,
        failures: Setting = 1,
        window_seconds: Setting = 0.0,
        single_probe: bool = False,
        probe_seconds: Setting = 60.0,
    ) -> None:
        self._open_seconds = open_seconds
        self._failures_to_open = failures
        self._window_seconds = window_seconds
        self.single_probe = single_probe
        # A probe that never reports (a bug) frees its slot after this long.
        self._probe_seconds = probe_seconds
        self._lock = threading.Lock()
        # -inf: closed. Later than now: open. Otherwise half-open.
        self.open_until = float("-inf")
        self._failures: deque[float] = deque()
        self._probe_until = float("-inf")

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        open_until = self.open_until
        if open_until == float("-inf"):
            return "closed"
        return "open" if time.monotonic() < open_until else "half-open"

    def admit(self) -> Admission | None:
        """``"closed"``: go ahead. ``"probe"``: go ahead as the one probe, and report how it
        went (``succeeded``, ``failed`` or ``release_probe``). None: refused."""
        open_until = self.open_until
        if open_until == float("-inf"):
            return "closed"
        now = time.monotonic()
        if now < open_until:
            return None
        if not self.single_probe:
            return "closed"
        with self._lock:
            if self.open_until == float("-inf"):
                return "closed"  # closed meanwhile
            if now < self.open_until or now < self._probe_until:
                return None
            self._probe_until = now + _read(self._probe_seconds)
            return "probe"

    def allows(self) -> bool:
        return self.admit() is not None

    def failed(self) -> bool:
        """Counts a failure; True when this one opened the breaker (it was closed)."""
        now = time.monotonic()
        with self._lock:
            if self.open_until != float("-inf"):
                # Open or half-open: the dependency still fails. Open (again) from now.
                self.open_until = now + _read(self._open_seconds)
                self._probe_until = float("-inf")
                return False
            window = _read(self._window_seconds)
            self._failures.append(now)
            while self._failures[0] < now - window:
                self._failures.popleft()
            if len(self._failures) < max(1, _read(self._failures_to_open)):
                return False
            self._failures.clear()
            self.open_until = now + _read(self._open_seconds)
            return True

    def succeeded(self) -> bool:
        """The dependency answered: closes the breaker. True when it was not closed."""
        if self.open_until == float("-inf"):
            return False
        with self._lock:
            if self.open_until == float("-inf"):
                return False
            self.open_until = float("-inf")
            self._probe_until = float("-inf")
            self._failures.clear()
            return True

    def release_probe(self) -> None:
        """The probe ended without telling whether the dependency works: the next caller may
        probe."""
        with self._lock:
            self._probe_until = float("-inf")

    def retry_after(self) -> int:
        """Seconds a refused caller should wait: what is left of the open period, or a whole
        period while a probe is out."""
        left = self.open_until - time.monotonic()
        if left <= 0:
            left = _read(self._open_seconds)
        return max(1, math.ceil(left))

    def reset(self) -> None:
        with self._lock:
            self.open_until = float("-inf")
            self._probe_until = float("-inf")
            self._failures.clear()
