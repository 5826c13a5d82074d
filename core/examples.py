"""Response examples for the OpenAPI schema, taken from the demo data (fixtures/demo.jsonl).

Each app renders its examples with the same shape declaration its views render with
(core/shapes.py), so an example can never show a field the API does not return. Without the
fixture file (an installed package) the schema has none.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from drf_spectacular.utils import OpenApiExample

DEMO = Path(settings.BASE_DIR) / "fixtures" / "demo.jsonl"
DemoRecords = dict[str, list[dict[str, Any]]]


@cache
def demo_records() -> DemoRecords:
    """The demo file's records by type, in file order."""
    records: DemoRecords = {}
    if DEMO.exists():
        for line in DEMO.read_bytes().splitlines():
            if line.strip():
                record = orjson.loads(line)
                records.setdefault(record["type"], []).append(record)
    return records


def example(build: Callable[[DemoRecords, str], dict[str, Any]]) -> list[OpenApiExample]:
    """``build(records, tenant_id)`` makes the response body for the demo's first tenant."""
    demo = demo_records()
    if not demo:
        return []
    value = build(demo, demo["tenant"][0]["id"])
    return [OpenApiExample("Demo data (tenant acme)", value=value, response_only=True)]
