"""Settings read from the environment, checked in a fresh interpreter as production loads them."""

import json
import os
import subprocess
import sys

import pytest

from tests.live import ROOT


def production(expression: str, **env: str) -> subprocess.CompletedProcess:
    """Loads the production settings in a fresh interpreter and prints ``expression``."""
    script = f"import json; from django.conf import settings; print(json.dumps({expression}))"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 50,
            "REDIS_URL": "redis://cache:6379/0",
            **env,
        },
        capture_output=True,
        text=True,
    )


def database_options(**env: str) -> dict:
    result = production("settings.DATABASES['default'].get('OPTIONS', {})", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": "  "}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": "x" * 49}, "at least 50 characters"),
        ({"DJANGO_SECRET_KEY": " " * 10 + "x" * 45}, "at least 50 characters"),
        ({"REDIS_URL": ""}, "REDIS_URL must be set in production"),
        ({"REDIS_URL": "", "API_WITHOUT_REDIS": "1"}, None),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(env, refusal):
    result = production("settings.DEBUG", **env)
    if refusal is None:
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) is False
    else:
        assert result.returncode != 0 and refusal in result.stderr


BOUNDS = (
    "-c statement_timeout=10000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=30000"
)


def test_postgres_options_keep_what_the_url_says():
    options = database_options(DATABASE_URL="postgres://u@db:5432/app?sslmode=require")
    assert options == {
        "sslmode": "require",
        "server_side_binding": True,
        "prepare_threshold": 5,
        "options": BOUNDS,
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000,
    }


def test_every_wait_on_postgres_is_bounded_and_each_bound_can_be_set():
    options = database_options(
        DATABASE_URL="postgres://u@db:5432/app?connect_timeout=2&options=-c%20work_mem%3D8MB",
        DATABASE_STATEMENT_TIMEOUT_MS="2500",
        DATABASE_LOCK_TIMEOUT_MS="0",
    )
    assert options["connect_timeout"] == 2  # the URL's own
    # The URL's options come last, so that a -c in them wins over a default.
    assert options["options"] == (
        "-c statement_timeout=2500 -c lock_timeout=0 "
        "-c idle_in_transaction_session_timeout=30000 -c work_mem=8MB"
    )


def test_management_commands_run_without_the_request_bounds(tmp_path):
    """An import is one transaction of minutes: manage.py lifts the per-request bounds."""
    script = (
        "import os, sys, manage; sys.argv = ['manage.py', 'check']; "
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings.production'; "
        "os.environ['DATABASE_URL'] = 'postgres://u@db:5432/app'; "
        "from unittest import mock; "
        "mock.patch('django.core.management.execute_from_command_line').start(); "
        "manage.main(); "
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['OPTIONS']['options'])"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_SETTINGS"))
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SECRET_KEY": "x" * 50, "API_WITHOUT_REDIS": "1"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0"
    )


@pytest.mark.parametrize(("value", "expected"), [("-1", None), ("0", 0), ("20", 20)])
def test_prepared_statements_can_be_tuned_or_turned_off(value, expected):
    options = database_options(
        DATABASE_URL="postgres://u@db:5432/app", DATABASE_PREPARE_THRESHOLD=value
    )
    assert options["prepare_threshold"] == expected


def test_sqlite_gets_no_postgres_options(tmp_path):
    assert database_options(DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3") == {}


def test_production_sends_admin_cookies_over_https_only():
    result = production("[settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE]")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, True]


def test_behind_a_transaction_pooler_nothing_outlives_a_transaction():
    """DATABASE_POOL_MODE=transaction: no startup options (PgBouncer refuses them; the role
    carries the timeouts), no prepared statements, no server-side cursors."""
    url = {"DATABASE_URL": "postgres://u@pgbouncer:6432/app"}
    pooled = production(
        "[settings.DATABASES['default']['OPTIONS'],"
        " settings.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False)]",
        DATABASE_POOL_MODE="transaction",
        DATABASE_APPLICATION_NAME="app1",
        **url,
    )
    assert pooled.returncode == 0, pooled.stderr
    options, no_cursors = json.loads(pooled.stdout)
    assert "options" not in options
    assert options["prepare_threshold"] is None
    assert options["application_name"] == "app1"
    assert no_cursors is True
    # Direct (the default): the bounds travel as startup options, statements are prepared.
    direct = database_options(**url)
    assert direct["options"] == BOUNDS and direct["prepare_threshold"] == 5
    bad = production("settings.DEBUG", DATABASE_POOL_MODE="session", **url)
    assert bad.returncode != 0 and "DATABASE_POOL_MODE must be none or transaction" in bad.stderr


def test_a_replica_url_adds_the_replica_and_its_router():
    result = production(
        "[settings.DATABASES['replica']['HOST'], settings.DATABASES['replica']['NAME'],"
        " settings.DATABASES['replica']['ENGINE'], settings.DATABASES['replica']['OPTIONS'],"
        " settings.DATABASE_ROUTERS, settings.DATABASE_REPLICA_MAX_LAG_SECONDS]",
        DATABASE_URL="postgres://u@primary:5432/app",
        DATABASE_REPLICA_URL="postgres://u@replica:5432/app",
    )
    assert result.returncode == 0, result.stderr
    host, name, engine, options, routers, lag = json.loads(result.stdout)
    assert (host, name, engine) == ("replica", "app", "core.postgresql")
    assert options["options"] == BOUNDS  # the same bounds as the primary's
    assert routers == ["core.replicas.ReplicaRouter"] and lag == 5
    alone = production("[list(settings.DATABASES), settings.DATABASE_ROUTERS]")
    assert json.loads(alone.stdout) == [["default"], []]
