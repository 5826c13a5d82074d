"""A PostgreSQL database made and filled by the code before the move to core/, tenants/, sync/
and roleplay/ (tests/migrations/main-<commit>.sql.gz, made by make_dump.sh) migrates forward in
place: every table keeps every row, the token still works, the operator still signs in, and
admin's history follows the moved models."""

from __future__ import annotations

import gzip
import subprocess
import uuid

import psycopg
import pytest
from django.db import connection

from tests.live import ROOT, get, gunicorn, manage, server_env

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the production database: PostgreSQL"
)

DUMP = ROOT / "tests/migrations/main-9b29875.sql.gz"
TOKEN = "rpt_6WfA829xaQ97DDEuczS7WKdCZmBHzuYZ2WQ7EU"  # made with the dump, for it alone
TABLES = [
    "tenants_tenant",
    "tenants_apitoken",
    "tenants_rep",
    "tenants_deletion",
    "sessions_api_scenario",
    "sessions_api_session",
    "scorecards_scorecard",
    "analytics_tenantday",
    "analytics_scenarioday",
    "analytics_repspan",
    "auth_user",
    "django_admin_log",
]


@pytest.fixture
def filled_before():
    settings = connection.settings_dict
    name = f"migrate_{uuid.uuid4().hex[:12]}"
    server = f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} user={settings['USER']}"
    with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{server} dbname={name}"],
            input=gzip.decompress(DUMP.read_bytes()),
            check=True,
            capture_output=True,
        )
        yield name, f"{server} dbname={name}"
    finally:
        with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608


def test_a_database_filled_before_the_move_migrates_in_place(filled_before):
    name, dsn = filled_before
    before = _counts(dsn)
    assert before["sessions_api_session"] == 84 and before["tenants_deletion"] == 1
    settings = connection.settings_dict
    env = server_env(
        DATABASE_URL=f"postgres://{settings['USER']}@127.0.0.1:{settings['PORT'] or 5432}/{name}"
    )
    manage(env, "migrate", "--noinput", "-v0")
    assert _counts(dsn) == before  # no row copied, lost or added; the tables kept their names
    assert "No changes detected" in manage(env, "makemigrations", "--check", "--dry-run")
    with psycopg.connect(dsn) as db:
        labels = db.execute(
            "SELECT ct.app_label, ct.model FROM django_admin_log l "
            "JOIN django_content_type ct ON ct.id = l.content_type_id ORDER BY l.id"
        ).fetchall()
        stale = db.execute(
            "SELECT count(*) FROM django_content_type "
            "WHERE app_label IN ('sessions_api', 'scorecards')"
        ).fetchone()[0]
    assert labels == [
        ("roleplay", "session"),
        ("roleplay", "scorecard"),
        ("roleplay", "rep"),
        ("roleplay", "scenario"),
    ]
    assert stale == 0
    signed_in = manage(
        {**env, "DJANGO_SETTINGS_MODULE": "config.settings.local"},  # the real password hasher
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "user = User.objects.get(username='operator'); "
        "print(user.is_superuser and user.check_password('s3cret-Pass'))",
    )
    assert signed_in.splitlines()[-1] == "True"
    with gunicorn(env) as base:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        status, _headers, body = get(f"{base}/api/v1/sessions?limit=100", auth)
        assert status == 200
        acme_sessions = body["data"]
        scored = next(s for s in acme_sessions if s["status"] == "scored")
        status, _headers, body = get(f"{base}/api/v1/sessions/{scored['id']}", auth)
        assert status == 200 and body["data"]["transcript"]
        assert get(f"{base}/api/v1/scorecards?limit=100", auth)[0] == 200
        assert get(f"{base}/api/v1/analytics/summary", auth)[0] == 200
    with psycopg.connect(dsn) as db:
        acme = db.execute(
            "SELECT count(*) FROM sessions_api_session s JOIN tenants_tenant t "
            "ON t.id = s.tenant_id WHERE t.slug = 'acme'"
        ).fetchone()[0]
    assert len(acme_sessions) == acme
