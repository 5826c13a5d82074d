"""A dlt source for the role-play reporting API: sessions, scorecards, scenarios and users,
each loaded incrementally on ``updated_at`` and merged on ``id``, and the API's deletions
applied to the copy. See README.md beside this file.

    import dlt
    from roleplay_source import roleplay_source, apply_deletions

    pipeline = dlt.pipeline("roleplay", destination="duckdb", dataset_name="roleplay")
    pipeline.run(roleplay_source(base_url="https://reporting.example.com/api/v1", token="rp_..."))
    apply_deletions(pipeline)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source

EPOCH = "1970-01-01T00:00:00Z"
# Resource name -> the API's `object` in GET /deletions.
KINDS = {"sessions": "session", "scorecards": "scorecard", "scenarios": "scenario", "users": "user"}


def _incremental(
    resource: str,
    *,
    cursor: str = "updated_at",
    param: str = "updated_since",
    initial: str = EPOCH,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": resource,
        "endpoint": {
            "path": resource,
            "params": {
                **(params or {}),
                param: {"type": "incremental", "cursor_path": cursor, "initial_value": initial},
            },
        },
    }


def roleplay_source(
    *,
    base_url: str,
    token: str,
    page_size: int = 100,
    transcripts: bool = True,
    emails: bool = False,
    first_run_at: str | None = None,
):
    """The API as a dlt source. ``transcripts``: load each session's transcript (a child
    table, from the same pages: expand=transcript). ``emails``: users' emails (the token needs
    ``users:email``). ``first_run_at``: where a new pipeline starts reading deletions (default:
    now; deletions before the first full copy do not concern it)."""
    first_run_at = first_run_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sessions = _incremental("sessions", params={"expand": "transcript"} if transcripts else None)
    users = _incremental("users", params={"include": "email"} if emails else None)
    deletions = _incremental("deletions", cursor="deleted_at", param="since", initial=first_run_at)
    # Every deletion is kept (append): apply_deletions compares it with the record's updated_at,
    # so an id deleted and created again stays.
    deletions.update(write_disposition="append", primary_key=["object", "id", "deleted_at"])
    return rest_api_source(
        {
            "client": {
                "base_url": base_url.rstrip("/") + "/",
                "auth": {"type": "bearer", "token": token},
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "next_cursor",
                    "cursor_param": "cursor",
                },
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {"data_selector": "data", "params": {"limit": page_size}},
            },
            "resources": [
                sessions,
                _incremental("scorecards"),
                _incremental("scenarios"),
                users,
                deletions,
            ],
        },
        name="roleplay",
    )


def apply_deletions(pipeline: dlt.Pipeline) -> None:
    """Removes from the copy every record the API lists as deleted after its last change."""
    with pipeline.sql_client() as client:
        tables = {
            row[0]
            for row in client.execute_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                pipeline.dataset_name,
            )
        }
        if "deletions" not in tables:
            return
        for table, kind in KINDS.items():
            if table not in tables:
                continue
            name = client.make_qualified_table_name(table)
            deletions = client.make_qualified_table_name("deletions")
            children = sorted(t for t in tables if t.startswith(f"{table}__"))
            # Identifiers from dlt's own schema; the one value is a parameter.
            deleted = (
                f"SELECT t._dlt_id FROM {name} t JOIN {deletions} d "  # noqa: S608
                "ON d.id = t.id AND d.object = %s AND d.deleted_at >= t.updated_at"
            )
            for child in children:  # nested lists (transcript, categories, ...) first
                child_name = client.make_qualified_table_name(child)
                client.execute_sql(
                    f"DELETE FROM {child_name} WHERE _dlt_root_id IN ({deleted})",  # noqa: S608
                    kind,
                )
            client.execute_sql(f"DELETE FROM {name} WHERE _dlt_id IN ({deleted})", kind)  # noqa: S608
