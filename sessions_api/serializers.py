"""Output shapes of sessions and scenarios (shared/api-v1.md). Rows in, wire dicts out.

The selectors have the database render every value in wire format (``w_`` columns, see
api/dbfunctions.py), so shaping is renaming: no DRF serializer instances, no datetime or UUID
objects, and JSON documents pass through as ``orjson.Fragment``.
"""

from __future__ import annotations

from typing import Any

import orjson


def session_data(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["w_id"],
        "user_id": row["w_user_id"],
        "scenario_id": row["w_scenario_id"],
        "status": row["w_status"],
        "started_at": row["w_started_at"],
        "ended_at": row["w_ended_at"],
        "duration_seconds": row["w_duration_seconds"],
        "created_at": row["w_created_at"],
        "scorecard_id": row["w_scorecard_id"],
    }


def session_detail_data(row: dict[str, Any]) -> dict[str, Any]:
    return {**session_data(row), "transcript": orjson.Fragment(row["w_transcript"])}


def scenario_data(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["w_id"],
        "name": row["w_name"],
        "call_type": row["w_call_type"],
        "status": row["w_status"],
        "created_at": row["w_created_at"],
    }
