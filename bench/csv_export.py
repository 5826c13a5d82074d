"""The CSV export (docs/api-guide.md, CSV) against PostgreSQL's own COPY, side by side.

    python bench/csv_export.py                    # 100,000 sessions, 3 interleaved rounds
    python bench/csv_export.py --sessions 20000 --rounds 5 --reuse

Loads N sessions of one tenant (bench/generate.py, cached in bench/data/; ``manage.py
import_data``) into the database ``csvbench`` (``--reuse`` keeps it when it already holds them),
starts the real server (gunicorn, production settings, one worker so that its memory is the
export's) and measures, in turn, ``rounds`` times:

- ``GET /api/v1/sessions?format=csv``: every session, read to the end by a client;
- ``COPY (SELECT <the same columns> ... ORDER BY started_at DESC, id DESC) TO STDOUT WITH CSV``
  of the same rows, through psycopg in this process: the floor.

With ``--expand``, one more export, with every transcript and scorecard (``expand=transcript,
scorecard``: hundreds of megabytes), for the worker's memory.

and the worker's resident memory before the first whole export (warmed by a short one) and its
peak during them (sampled every 10 ms from /proc). The figure is the median round's ratio
(``bench.run.interleaved``).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__":  # run as a script: the project's packages are one directory up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

# Its own port by default: bench/run.py (8899) may be running beside it.
os.environ.setdefault("BENCH_PORT", "8898")

from bench.run import PG, PORT, dataset, django_env, interleaved, log, manage, start_server

DATABASE = "csvbench"
COPY_SQL = (
    "COPY (SELECT s.id, s.user_id, s.scenario_id, s.status, s.started_at, s.ended_at, "
    "s.duration_seconds, s.created_at, sc.id, s.updated_at FROM sessions_api_session s "
    "LEFT JOIN scorecards_scorecard sc ON sc.session_id = s.id WHERE s.tenant_id = %s "
    "ORDER BY s.started_at DESC, s.id DESC) TO STDOUT WITH CSV HEADER"
)
EXPORT = "/api/v1/sessions?format=csv"


def load(sessions: int, reuse: bool) -> tuple[str, dict[str, str]]:
    database_url = f"{PG}/{DATABASE}"
    env = django_env(database_url)
    if reuse:
        try:
            with psycopg.connect(database_url) as conn:
                held = conn.execute("SELECT count(*) FROM sessions_api_session").fetchone()[0]
                tenants = conn.execute("SELECT count(*) FROM tenants_tenant").fetchone()[0]
            if held == sessions and tenants == 1:
                log(f"reusing {DATABASE}: {held:,} sessions")
                return database_url, env
        except psycopg.Error:
            pass
    jsonl = dataset(sessions, 1)
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    manage(env, "migrate", "--noinput", "-v0")
    log(f"import_data {jsonl.name} ...")
    manage(env, "import_data", str(jsonl))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return database_url, env


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_of(master: int) -> int:
    """The server's one worker process (gunicorn forks it after binding: wait for it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if len(children) == 1:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn {master} has no single worker: {children}")


class PeakRSS:
    """The largest resident size of a process seen while it runs (sampled every 10 ms)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, rss_kb(pid), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_kb(self.pid))

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def api_export(token: str, path: str = EXPORT) -> tuple[float, int, int]:
    """Seconds, bytes and lines of one whole export, read as a client reads it."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {path} -> {response.status}: {response.read()[:300]!r}")
    size = lines = 0
    while block := response.read(1 << 20):
        size += len(block)
        lines += block.count(b"\n")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, size, lines


def copy_export(conn: psycopg.Connection, tenant_id) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    with conn.cursor() as cur, cur.copy(COPY_SQL, [tenant_id]) as copy:
        for block in copy:
            size += len(block)
    return time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help=f"keep {DATABASE} if it matches")
    parser.add_argument(
        "--expand",
        action="store_true",
        help="also one export with expand=transcript,scorecard (every transcript: hundreds of "
        "MB), for the worker's memory",
    )
    args = parser.parse_args()

    database_url, env = load(args.sessions, args.reuse)
    with psycopg.connect(database_url) as conn:
        tenant_id, slug = conn.execute("SELECT id, slug FROM tenants_tenant").fetchone()
    token = manage(env, "create_token", "--tenant", slug, "--name", "csv-bench", "--scopes", "all")
    server = start_server({**env, "GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "2"})
    try:
        worker = worker_of(server.pid)
        with psycopg.connect(database_url) as conn:
            # Warm, without a whole export: the worker's imports, its compiled queries and
            # connection (a short export: the sessions of the last day), then PostgreSQL's cache.
            api_export(token, f"{EXPORT}&from=2026-06-30")
            copy_export(conn, tenant_id)
            before = rss_kb(worker)
            sizes: dict[str, int] = {}

            def api() -> float:
                seconds, sizes["api"], sizes["lines"] = api_export(token)
                return seconds

            def copy() -> float:
                seconds, sizes["copy"] = copy_export(conn, tenant_id)
                return seconds

            with PeakRSS(worker) as peak:
                api_s, copy_s, ratios = interleaved(api, copy, rounds=args.rounds)
            after = rss_kb(worker)
            if args.expand:
                with PeakRSS(worker) as expanded_peak:
                    expanded = api_export(token, f"{EXPORT}&expand=transcript,scorecard")
        rows = sizes["lines"] - 1
        if rows != args.sessions:
            raise RuntimeError(f"the export held {rows:,} rows, not {args.sessions:,}")
    finally:
        server.terminate()
        server.wait(timeout=20)
    ratio = statistics.median(ratios)
    print(
        f"CSV export of {rows:,} sessions: API {api_s:.2f} s ({rows / api_s:,.0f} rows/s, "
        f"{sizes['api'] / 1e6:.1f} MB) | COPY (SELECT ...) TO STDOUT WITH CSV {copy_s:.2f} s "
        f"({sizes['copy'] / 1e6:.1f} MB) | {ratio:.2f}× COPY (median of "
        f"{', '.join(f'{r:.2f}' for r in ratios)}) | ≤ 3×: {'met' if ratio <= 3 else 'NOT met'}"
    )
    print(
        f"worker RSS: {before / 1024:.0f} MB before, peak {peak.peak / 1024:.0f} MB during the "
        f"exports (+{(peak.peak - before) / 1024:.0f} MB), {after / 1024:.0f} MB after"
    )
    if args.expand:
        seconds, size, _ = expanded
        print(
            f"with expand=transcript,scorecard: {size / 1e6:,.0f} MB in {seconds:.1f} s "
            f"({size / 1e6 / seconds:.0f} MB/s); worker RSS peak {expanded_peak.peak / 1024:.0f} "
            f"MB (+{(expanded_peak.peak - before) / 1024:.0f} MB over the first export's start)"
        )
    print(f"command: python bench/csv_export.py {' '.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    main()
