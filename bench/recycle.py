"""What a worker recycle costs the requests queued behind it, with gunicorn's ``preload_app``
and without (gunicorn.conf.py, GUNICORN_PRELOAD): one worker of one thread that gunicorn
replaces every ``--every`` requests, a keep-alive client sending session detail GETs one after
another, the two settings in turn, ``--rounds`` times.

    python bench/recycle.py --database-url postgres://.../db [--requests 600 --every 100]

The database is one bench/run.py or bench/breakdown.py loaded (any tenant with sessions).
Prints, per setting, the median request, the slowest, and the stall of a recycle: the time
the first request after it took.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run
from bench.run import Client, django_env, largest_tenant, manage, start_server


def measure(env: dict[str, str], preload: bool, path: str, token: str, requests: int) -> list:
    server = start_server({**env, "GUNICORN_PRELOAD": "1" if preload else "0"})
    try:
        client = Client(token)
        samples = []
        for _ in range(requests):
            status, body, seconds = client.get(path)
            if status != 200:
                raise RuntimeError(f"GET {path} -> {status}: {body[:300]!r}")
            samples.append(seconds)
        return samples
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=27480)
    args = parser.parse_args()
    run.PORT = args.port
    env = django_env(args.database_url)
    env.update(
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="1",
        GUNICORN_MAX_REQUESTS=str(args.every),
    )
    with psycopg.connect(args.database_url) as conn:
        tenant_id, _ = largest_tenant(conn)
        slug, session_id = conn.execute(
            "SELECT t.slug, s.id FROM tenants_tenant t JOIN sessions_api_session s"
            " ON s.tenant_id = t.id WHERE t.id = %s LIMIT 1",
            [tenant_id],
        ).fetchone()
    token = manage(env, "create_token", "--tenant", slug, "--name", "recycle", "--scopes", "all")
    path = f"/api/v1/sessions/{session_id}"
    found: dict[bool, list[list[float]]] = {False: [], True: []}
    for round_ in range(args.rounds):
        for preload in (False, True) if round_ % 2 == 0 else (True, False):
            found[preload].append(measure(env, preload, path, token, args.requests))
    print(f"{args.requests} detail GETs, a recycle every {args.every} (jitter up to 10%)")
    print("| preload_app | median | slowest | recycle stalls (> 20x median) |")
    print("|---|---|---|---|")
    for preload, rounds in found.items():
        samples = [s for samples in rounds for s in samples]
        median = statistics.median(samples)
        stalls = sorted((s for s in samples if s > 20 * median), reverse=True)
        shown = ", ".join(f"{s * 1000:.0f}" for s in stalls[:8])
        print(
            f"| {'on' if preload else 'off'} | {median * 1000:.2f} ms | "
            f"{max(samples) * 1000:.0f} ms | {len(stalls)}: {shown} ms |"
        )


if __name__ == "__main__":
    main()
