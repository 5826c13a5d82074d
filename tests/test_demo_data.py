"""bin/demo's data ends near the day it is loaded (fixtures/shift_demo.py), while
fixtures/demo.jsonl, which the docs' examples are computed from, stays as it is."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tenants.models import Tenant
from tests.importing.lines import run_import, to_bytes
from tests.live import ROOT

_spec = importlib.util.spec_from_file_location("shift_demo", ROOT / "fixtures" / "shift_demo.py")
shift_demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shift_demo)

DEMO = [json.loads(line) for line in (ROOT / "fixtures" / "demo.jsonl").read_text().splitlines()]


def _instants(record: dict) -> dict[str, datetime]:
    return {
        name: shift_demo._parse(record[name])
        for name in shift_demo.INSTANTS.get(record["type"], ())
        if isinstance(record.get(name), str)
    }


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_the_shifted_demo_ends_in_the_week_before_now_and_moves_whole_weeks(naive_now):
    now = naive_now.replace(tzinfo=UTC)
    shifted = list(shift_demo.shift(DEMO, now))
    assert len(shifted) == len(DEMO)
    latest = max(shift_demo._parse(r["started_at"]) for r in shifted if r["type"] == "session")
    assert now - timedelta(weeks=1) < latest <= now
    deltas = set()
    for before, after in zip(DEMO, shifted, strict=True):
        moved, original = _instants(after), _instants(before)
        assert {k: v for k, v in after.items() if k not in moved} == {
            k: v for k, v in before.items() if k not in original
        }
        deltas |= {moved[name] - original[name] for name in original}
    assert len(deltas) == 1
    (delta,) = deltas
    assert delta % timedelta(weeks=1) == timedelta(0)  # weekdays and times of day kept


@pytest.mark.django_db
def test_the_demo_as_bin_demo_loads_it_shows_in_the_first_summary(tmp_path, client_for):
    now = timezone.now()
    shifted = list(shift_demo.shift(DEMO, now))
    path = tmp_path / "demo.jsonl"
    path.write_bytes(to_bytes(shifted))
    run_import(str(path))
    acme = Tenant.objects.get(slug="acme")
    expected = sum(
        1
        for r in shifted
        if r["type"] == "session"
        and r["tenant_id"] == str(acme.id)
        and now - timedelta(days=30) <= shift_demo._parse(r["started_at"]) <= now
    )
    body = client_for(acme).get("/api/v1/analytics/summary").json()["data"]
    assert body["sessions"] == expected > 0
