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


def test_postgres_options_keep_what_the_url_says():
    options = database_options(DATABASE_URL="postgres://u@db:5432/app?sslmode=require")
    assert options == {"sslmode": "require", "server_side_binding": True, "prepare_threshold": 5}


@pytest.mark.parametrize(("value", "expected"), [("-1", None), ("0", 0), ("20", 20)])
def test_prepared_statements_can_be_tuned_or_turned_off(value, expected):
    options = database_options(
        DATABASE_URL="postgres://u@db:5432/app", DATABASE_PREPARE_THRESHOLD=value
    )
    assert options["prepare_threshold"] == expected


def test_sqlite_gets_no_postgres_options(tmp_path):
    assert database_options(DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3") == {}
