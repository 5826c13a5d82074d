"""Builders of import-format lines for the importer's tests."""

from __future__ import annotations

import io
import sys
from typing import Any

import orjson
from django.core.management import call_command
from django.core.management.base import CommandError

from roleplay.models import Rep, Scenario, Scorecard, Session
from tenants.models import Tenant

ACME = "00000000-0000-0000-0000-0000000000a1"
GLOBEX = "00000000-0000-0000-0000-0000000000b2"


def tenant(id=ACME, **kw) -> dict[str, Any]:
    return {
        "type": "tenant",
        "id": id,
        "slug": "acme" if id == ACME else "globex",
        "name": "Acme Realty" if id == ACME else "Globex",
        **kw,
    }


def user(n=1, tenant_id=ACME, **kw) -> dict[str, Any]:
    return {
        "type": "user",
        "id": f"a0000000-0000-0000-0000-{n:012d}",
        "tenant_id": tenant_id,
        "full_name": f"Jordan Reyes {n}",
        "email": f"jordan{n}@acme.test",
        "role": "rep",
        **kw,
    }


def scenario(n=1, tenant_id=ACME, **kw) -> dict[str, Any]:
    return {
        "type": "scenario",
        "id": f"10000000-0000-0000-0000-{n:012d}",
        "tenant_id": tenant_id,
        "name": "Cold Call — FSBO Seller",
        "call_type": "cold_call",
        "status": "active",
        "created_at": "2026-01-05T09:00:00Z",
        **kw,
    }


def session(n=1, tenant_id=ACME, user_n=1, scenario_n=1, **kw) -> dict[str, Any]:
    return {
        "type": "session",
        "id": f"30000000-0000-0000-0000-{n:012d}",
        "tenant_id": tenant_id,
        "user_id": f"a0000000-0000-0000-0000-{user_n:012d}",
        "scenario_id": f"10000000-0000-0000-0000-{scenario_n:012d}",
        "status": "completed",
        "started_at": "2026-05-06T17:00:00Z",
        "ended_at": "2026-05-06T17:07:00Z",
        "duration_seconds": 420,
        "transcript": [
            {"role": "agent", "message": "¿Hola? Wer ist da? 🏠", "time": 0},
            {"role": "user", "message": "Hi — it’s Jordan.", "time": 2.5},
        ],
        **kw,
    }


def scorecard(n=1, tenant_id=ACME, session_n=None, **kw) -> dict[str, Any]:
    session_n = n if session_n is None else session_n
    return {
        "type": "scorecard",
        "id": f"40000000-0000-0000-0000-{n:012d}",
        "tenant_id": tenant_id,
        "session_id": f"30000000-0000-0000-0000-{session_n:012d}",
        "overall_score": 87,
        "verdict": "crushed_it",
        "headline": "Reframed anger as data.",
        "categories": [
            {"key": "discovery", "label": "Discovery", "score": 82, "feedback": "Asked why twice."}
        ],
        "callouts": [
            {"kind": "strength", "text": "Named the number.", "time": 42.5},
            {"kind": "improvement", "text": "Close earlier.", "time": None},
        ],
        "created_at": "2026-05-06T17:08:00Z",
        **kw,
    }


def valid_file() -> list[dict[str, Any]]:
    """A small file that uses every record type, in both tenants."""
    return [
        tenant(ACME),
        tenant(GLOBEX),
        user(1),
        user(2, role="manager"),
        user(3, tenant_id=GLOBEX, role="admin", email=None),
        scenario(1),
        scenario(2, tenant_id=GLOBEX, status="archived"),
        session(1, status="scored"),
        scorecard(1),
        session(
            2,
            started_at="2026-05-06T17:00:00Z",
            status="in_progress",
            ended_at=None,
            duration_seconds=None,
            transcript=[],
        ),
        session(3, tenant_id=GLOBEX, user_n=3, scenario_n=2, status="abandoned"),
    ]


def to_bytes(records: list[Any]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)


def write_file(tmp_path, records: list[Any], name: str = "data.jsonl") -> str:
    path = tmp_path / name
    path.write_bytes(to_bytes(records))
    return str(path)


def run_import(path: str, *args: str) -> str:
    out = io.StringIO()
    call_command("import_data", path, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_import_failing(path: str, *args: str) -> str:
    try:
        run_import(path, *args)
    except CommandError as exc:
        return str(exc)
    raise AssertionError("import_data succeeded but should have failed")


def run_import_stdin(monkeypatch, data: bytes, *args: str) -> str:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    return run_import("-", *args)


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every imported table, for before/after comparisons."""
    return {
        model.__name__: sorted(
            tuple(str(v) for v in row)
            for row in model._base_manager.values_list(
                *[f.attname for f in model._meta.concrete_fields]
            )
        )
        for model in (Tenant, Rep, Scenario, Session, Scorecard)
    }
