"""Response examples for the OpenAPI schema, taken from the demo data (fixtures/demo.jsonl).

Built with the same shaping functions the views use, so an example can never show a field the
API does not return. Without the fixture file (an installed package) the schema has none.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from drf_spectacular.utils import OpenApiExample

from .formats import rfc3339

DEMO = Path(settings.BASE_DIR) / "fixtures" / "demo.jsonl"


@cache
def _demo() -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = {}
    if DEMO.exists():
        for line in DEMO.read_bytes().splitlines():
            if line.strip():
                record = orjson.loads(line)
                records.setdefault(record["type"], []).append(record)
    return records


def _ts(value: str | None) -> str | None:
    return None if value is None else rfc3339(datetime.fromisoformat(value))


def _session(record: dict, cards: dict[str, str]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "user_id": record["user_id"],
        "scenario_id": record["scenario_id"],
        "status": record["status"],
        "started_at": _ts(record["started_at"]),
        "ended_at": _ts(record.get("ended_at")),
        "duration_seconds": record.get("duration_seconds"),
        "created_at": _ts(record.get("created_at") or record["started_at"]),
        "scorecard_id": cards.get(record["id"]),
    }


def example(kind: str) -> list[OpenApiExample]:
    demo = _demo()
    if not demo:
        return []
    acme = demo["tenant"][0]["id"]
    sessions = [s for s in demo["session"] if s["tenant_id"] == acme]
    sessions.sort(key=lambda s: (s["started_at"], s["id"]), reverse=True)
    cards = {c["session_id"]: c["id"] for c in demo["scorecard"]}
    scored = next(s for s in sessions if s["status"] == "scored")
    card = next(c for c in demo["scorecard"] if c["session_id"] == scored["id"])
    value: Any
    if kind == "session_page":
        value = {
            "ok": True,
            "data": [_session(s, cards) for s in sessions[:2]],
            "next_cursor": _ts(sessions[1]["started_at"]),
        }
    elif kind == "session":
        value = {
            "ok": True,
            "data": {**_session(scored, cards), "transcript": scored["transcript"][:4]},
        }
    elif kind == "scorecard":
        value = {
            "ok": True,
            "data": {
                "id": card["id"],
                "session_id": scored["id"],
                "user_id": scored["user_id"],
                "scenario_id": scored["scenario_id"],
                "overall_score": card["overall_score"],
                "verdict": card["verdict"],
                "headline": card["headline"],
                "categories": card["categories"],
                "callouts": card["callouts"],
                "created_at": _ts(card["created_at"]),
            },
        }
    elif kind == "scenario_page":
        scenarios = [s for s in demo["scenario"] if s["tenant_id"] == acme]
        scenarios.sort(key=lambda s: (s["status"], s["name"], s["id"]))
        value = {
            "ok": True,
            "data": [
                {k: s[k] for k in ("id", "name", "call_type", "status")}
                | {"created_at": _ts(s["created_at"])}
                for s in scenarios[:2]
            ],
            "next_cursor": None,
        }
    elif kind == "user_page":
        users = sorted(
            (u for u in demo["user"] if u["tenant_id"] == acme),
            key=lambda u: (u["full_name"], u["id"]),
        )
        latest = {}
        for s in sessions:
            latest.setdefault(s["user_id"], _ts(s["started_at"]))
        value = {
            "ok": True,
            "data": [
                {
                    "id": u["id"],
                    "full_name": u["full_name"],
                    "role": u["role"],
                    "last_session_at": latest.get(u["id"]),
                }
                for u in users[:2]
            ],
            "next_cursor": None,
        }
    else:
        return []
    return [OpenApiExample("Demo data (tenant acme)", value=value, response_only=True)]
