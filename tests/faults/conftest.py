"""The real services behind a fault proxy (tests/faults/proxy.py), one per test."""

from __future__ import annotations

import pytest

from tests.faults.proxy import fault_proxy
from tests.helpers import redis_store

REDIS_PORT = 6379


@pytest.fixture
def redis_proxy(settings):
    with (
        fault_proxy(REDIS_PORT) as proxy,
        redis_store(settings, location=f"redis://127.0.0.1:{proxy.port}/0", timeout=0.1),
    ):
        settings.API_TOKEN_EPOCH_RETRY_SECONDS = 5
        yield proxy
