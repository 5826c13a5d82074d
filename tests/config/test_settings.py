"""Settings read from the environment, checked in a fresh interpreter as production loads them."""

import json
import os
import subprocess
import sys

import pytest

from tests.live import ROOT


def database_options(**env: str) -> dict:
    script = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")},
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 50,
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


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
