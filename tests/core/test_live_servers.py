"""Behaviour that only shows with real, separate server processes."""

import secrets
import time

import pytest
import redis

from tests.importing.lines import tenant, to_bytes
from tests.live import get, gunicorn, manage, server_env

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def prepared_db(tmp_path_factory):
    """A migrated SQLite file with one tenant and one token, shared by the server processes."""
    path = tmp_path_factory.mktemp("live") / "live.sqlite3"
    env = server_env(DATABASE_URL=f"sqlite:///{path}")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "import_data", "-", stdin=to_bytes([tenant()]))
    raw = manage(env, "create_token", "--tenant", "acme", "--name", "live", "--scopes", "all")
    return env["DATABASE_URL"], raw


def test_two_processes_share_one_rate_limit_in_redis(prepared_db):
    database_url, raw = prepared_db
    prefix = f"test-{secrets.token_hex(4)}"
    env = server_env(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        CACHE_KEY_PREFIX=prefix,
        API_RATE_LIMIT_PER_MINUTE="10",
    )
    if time.time() % 60 > 50:  # keep all 20 requests inside one one-minute window
        time.sleep(61 - time.time() % 60)
    try:
        with gunicorn(env) as first, gunicorn(env) as second:
            statuses = []
            for i in range(20):
                base = first if i % 2 == 0 else second
                status, headers, _body = get(
                    f"{base}/api/v1/token", {"Authorization": f"Bearer {raw}"}
                )
                statuses.append(status)
                assert headers["X-RateLimit-Limit"] == "10"
        # Each process alone would have allowed 10: together they allowed 10 in all.
        assert statuses.count(200) == 10 and statuses.count(429) == 10
        assert statuses[:10] == [200] * 10
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


def test_unreachable_database_is_a_503_envelope(prepared_db):
    _database_url, raw = prepared_db
    env = server_env(DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere")
    with gunicorn(env) as base:
        status, headers, body = get(
            f"{base}/api/v1/token",
            {"Authorization": f"Bearer {raw}", "X-Request-ID": "db-down-1"},
        )
    assert status == 503
    assert body == {
        "ok": False,
        "error": body["error"],
        "code": "unavailable",
        "details": {"request_id": "db-down-1"},
    }
    assert int(headers["Retry-After"]) > 0
    assert headers["X-Request-ID"] == "db-down-1"


def test_docs_pages_and_their_assets_are_served_offline_by_the_real_server(prepared_db):
    import re
    import urllib.request

    database_url, _raw = prepared_db
    with gunicorn(server_env(DATABASE_URL=database_url)) as base:
        for page in ("/api/v1/docs", "/api/v1/redoc"):
            with urllib.request.urlopen(base + page, timeout=10) as response:
                html = response.read().decode()
            assets = re.findall(r'(?:src|href)="(/static/drf_spectacular_sidecar/[^"]+)"', html)
            assert assets, page
            for asset in assets:
                with urllib.request.urlopen(base + asset, timeout=10) as response:
                    assert response.status == 200
                    assert len(response.read()) > 100
