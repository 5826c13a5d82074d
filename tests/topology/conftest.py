"""One cluster of bin/cluster for the session: nginx, two app servers, PgBouncer, a primary and
its streaming replica, Redis and the webhook worker, each a real process on loopback, in a
temporary folder on free ports; the demo data loaded with the importer, a token made with
create_token. Torn down (down --purge) at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.live import ROOT
from tests.topology.harness import MISSING, Topology, free_port_base


@pytest.fixture(scope="session")
def topology() -> Iterator[Topology]:
    if MISSING:
        pytest.skip(MISSING)
    # The cluster is its own PostgreSQL, whatever the suite runs on: one pass of .ci/run (the
    # PostgreSQL one) drills it, the SQLite pass does not again.
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        pytest.skip(
            "the topology drills run with the PostgreSQL suite (DATABASE_URL=postgres://...)"
        )
    # In /tmp, made traversable: as root, PostgreSQL runs as the postgres user, which must
    # reach its data (pytest's own temporary folders are private to us).
    folder = tempfile.mkdtemp(prefix="cluster-")
    os.chmod(folder, 0o755)  # noqa: S103 (read and enter, not write)
    env = {
        **os.environ,
        "CLUSTER_DIR": folder,
        "CLUSTER_PORT_BASE": str(free_port_base()),
        # The venv running these tests, with the dev extras: bin/cluster reinstalls nothing.
        "VENV": sys.prefix,
        "EXTRAS": "[dev]",
    }
    started = time.monotonic()
    up = subprocess.run(
        [str(ROOT / "bin" / "cluster"), "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        assert up.returncode == 0, f"bin/cluster up failed:\n{up.stderr}"
        urls = dict(line.split("=", 1) for line in up.stdout.splitlines())
        assert set(urls) == {
            "API_URL",
            "DATABASE_URL",
            "REPLICA_URL",
            "PGBOUNCER_URL",
            "REDIS_URL",
            "CLUSTER_DIR",
        }, up.stdout
        topology = Topology(urls=urls, env=env)
        topology.timings["up"] = time.monotonic() - started
        topology.manage("import_data", str(ROOT / "fixtures" / "demo.jsonl"))
        # Lifted rate limit: the load drill sends hundreds of requests a second.
        topology.token = topology.manage(
            "create_token", "--tenant", "acme", "--name", "t", "--scopes", "all",
            "--rate-limit", "1000000",
        )  # fmt: skip
        topology.replica_caught_up()
        yield topology
    finally:
        down = subprocess.run(
            [str(ROOT / "bin" / "cluster"), "down", "--purge"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if down.returncode != 0:
            print(down.stderr, file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
