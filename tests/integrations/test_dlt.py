"""The dlt connector (integrations/dlt/) against a live server into DuckDB, as a customer runs
it: a full load, an import of changes and deletions, an incremental load; the DuckDB tables
then hold what the API returns, row for row."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.live import ROOT, get, gunicorn, manage, server_env

dlt = pytest.importorskip("dlt")


def _source_module():
    spec = importlib.util.spec_from_file_location(
        "roleplay_source", ROOT / "integrations" / "dlt" / "roleplay_source.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _api_all(base_url: str, token: str, resource: str) -> dict[str, dict]:
    items, cursor = {}, None
    while True:
        url = f"{base_url}/api/v1/{resource}?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, _, body = get(url, {"Authorization": f"Bearer {token}"})
        assert status == 200, body
        items.update({item["id"]: item for item in body["data"]})
        if (cursor := body["next_cursor"]) is None:
            return items


def _copy(pipeline, table: str) -> dict[str, tuple]:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            f"SELECT id, updated_at FROM {client.make_qualified_table_name(table)}"  # noqa: S608
        )
    return {str(row[0]): row[1] for row in rows}


def _assert_copy_equals_api(pipeline, base_url, token):
    from datetime import datetime

    for resource in ("sessions", "scorecards", "scenarios", "users"):
        api = _api_all(base_url, token, resource)
        copy = _copy(pipeline, resource)
        assert set(copy) == set(api), resource
        for record_id, updated_at in copy.items():
            expected = datetime.fromisoformat(api[record_id]["updated_at"].replace("Z", "+00:00"))
            assert updated_at == expected, (resource, record_id)
    # Field by field for sessions, the table that changes most.
    api = _api_all(base_url, token, "sessions")
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT id, status, scorecard_id FROM "  # noqa: S608
            + client.make_qualified_table_name("sessions")
        )
    assert {str(r[0]): (r[1], r[2] and str(r[2])) for r in rows} == {
        i: (s["status"], s["scorecard_id"]) for i, s in api.items()
    }


def test_dlt_full_then_incremental_load_with_deletions(tmp_path):
    env = server_env(DATABASE_URL=f"sqlite:///{tmp_path / 'api.sqlite3'}")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "import_data", str(ROOT / "fixtures" / "demo.jsonl"))
    token = manage(env, "create_token", "--tenant", "acme", "--name", "dlt", "--scopes", "all")
    source = _source_module()
    pipeline = dlt.pipeline(
        pipeline_name="roleplay_test",
        destination=dlt.destinations.duckdb(str(tmp_path / "copy.duckdb")),
        dataset_name="roleplay",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    demo = [
        json.loads(line) for line in (ROOT / "fixtures" / "demo.jsonl").read_text().splitlines()
    ]
    acme = next(r["id"] for r in demo if r["type"] == "tenant" and r["slug"] == "acme")
    sessions = [r for r in demo if r["type"] == "session" and r["tenant_id"] == acme]
    cards = {r["session_id"]: r for r in demo if r["type"] == "scorecard"}
    in_progress = next(s for s in sessions if s["status"] == "in_progress")
    scored = next(s for s in sessions if s["id"] in cards)
    plain = next(s for s in sessions if s["status"] == "completed" and s["id"] != in_progress["id"])

    with gunicorn(env) as base_url:
        run = source.roleplay_source(base_url=f"{base_url}/api/v1", token=token, page_size=7)
        pipeline.run(run)
        source.apply_deletions(pipeline)
        _assert_copy_equals_api(pipeline, base_url, token)

        # Changes while the copy exists: a session completes, a backdated one arrives, a new
        # one, a deleted session (with its scorecard) and a deleted scorecard alone.
        backdated = {
            **plain,
            "id": "30000000-0000-0000-0000-0000000000f1",
            "started_at": "2025-01-01T10:00:00Z",
            "ended_at": None,
            "duration_seconds": None,
            "created_at": None,
        }
        new = {
            **backdated,
            "id": "30000000-0000-0000-0000-0000000000f2",
            "started_at": "2026-12-01T10:00:00Z",
        }
        changes = [
            {**in_progress, "status": "completed"},
            backdated,
            new,
            {"type": "delete", "object": "session", "id": scored["id"], "tenant_id": acme},
            {"type": "delete", "object": "session", "id": plain["id"], "tenant_id": acme},
        ]
        lines = "\n".join(json.dumps(c) for c in changes) + "\n"
        manage(env, "import_data", "-", stdin=lines.encode())

        run = source.roleplay_source(base_url=f"{base_url}/api/v1", token=token, page_size=7)
        pipeline.run(run)
        source.apply_deletions(pipeline)
        _assert_copy_equals_api(pipeline, base_url, token)
        copy = _copy(pipeline, "sessions")
        assert backdated["id"] in copy and new["id"] in copy
        assert scored["id"] not in copy and cards[scored["id"]]["id"] not in _copy(
            pipeline, "scorecards"
        )
