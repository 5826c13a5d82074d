"""bench/near_floor.py end to end, on its smoke size: a throwaway ``floor_`` database, the API's
SQL captured, the API, the floor and the DRF peer served side by side and measured by wrk.
PostgreSQL only (the floor replays PostgreSQL's SQL), and wrk must be installed; about a
minute."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = {"sessions", "session detail", "summary", "users", "breakdown"}

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="the floor replays PostgreSQL's SQL: needs DATABASE_URL=postgres...",
    ),
    pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)"),
]


def test_smoke_run_reports_every_endpoint(tmp_path):
    out = tmp_path / "near-floor.json"
    harness = subprocess.Popen(
        [sys.executable, "bench/near_floor.py", "--size", "smoke", "--port-base", "27690",
         "--json", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        stdout, stderr = harness.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        harness.terminate()  # SIGTERM: it stops its servers and drops its database
        stdout, stderr = harness.communicate(timeout=60)
        pytest.fail(f"the smoke run took over 240 s:\n{stderr[-4000:]}")
    assert harness.returncode == 0, stderr[-4000:]

    table = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| endpoint | conns | API req/s | floor req/s | peer req/s")
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in table[1:]]
    listed = {(row[0], row[1]) for row in cells}
    assert listed == {(name, conns) for name in ENDPOINTS for conns in ("1", "32")}
    assert len(cells) == 2 * len(ENDPOINTS)
    for row in cells:  # the three ratios: API/floor, peer/API, API/floor p50
        for ratio in (row[5], row[6], row[9]):
            assert float(ratio) > 0, row

    results = json.loads(out.read_text())
    assert {row["endpoint"] for row in results["table"]} == ENDPOINTS
    assert len(results["table"]) == 2 * len(ENDPOINTS)
    for row in results["table"]:
        for ratio in ("api_floor_rps", "peer_api_rps", "api_floor_p50"):
            assert isinstance(row[ratio], float)
            assert row[ratio] > 0, (row["endpoint"], ratio)
        for server in ("api", "floor", "peer"):
            assert row[server]["non_2xx"] == 0, (row["endpoint"], server)
    # The floor answered as many rows as the API, and so did the peer (checked before wrk).
    for counts in results["rows"].values():
        assert counts["api"] == counts["floor"] == counts["peer"]
