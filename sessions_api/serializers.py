"""Output shapes of sessions and scenarios (shared/api-v1.md). Rows in, wire dicts out.

Plain functions over ``.values()`` rows rather than DRF serializers: the shapes are flat and
fixed, and a list page of 100 sessions should not pay for 100 serializer instances.
"""

from __future__ import annotations

from typing import Any

from api.formats import rfc3339


def _id(value) -> str | None:
    return None if value is None else str(value)


def session_data(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "user_id": str(row["user_id"]),
        "scenario_id": str(row["scenario_id"]),
        "status": row["status"],
        "started_at": rfc3339(row["started_at"]),
        "ended_at": rfc3339(row["ended_at"]),
        "duration_seconds": row["duration_seconds"],
        "created_at": rfc3339(row["created_at"]),
        "scorecard_id": _id(row["scorecard_id"]),
    }


def session_detail_data(row: dict[str, Any]) -> dict[str, Any]:
    return {**session_data(row), "transcript": row["transcript"]}


def scenario_data(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "call_type": row["call_type"],
        "status": row["status"],
        "created_at": rfc3339(row["created_at"]),
    }
