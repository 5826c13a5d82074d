"""GET /analytics/breakdown against its baselines, side by side (issue #22's figures):

    python bench/breakdown.py --size 100k      # or 1.7m; --database-url to reuse a loaded one

- ``by=user,week`` over a year of the largest tenant (its zone America/New_York, categories
  included) vs a session detail GET: the p50 ratio (asked: at most 3 at 100k);
- the same answer computed by a plain ORM aggregate over the raw rows (``/bench/plain-breakdown``,
  bench/urls.py) vs the API: the speed-up (asked: at least 10 at 1.7M), and every other ``by``,
  filter and ``tz`` against its plain aggregate (asked: never slower);
- the seconds a change of the tenant's zone takes (its rollups are rebuilt in that transaction).

Each ratio is the median of three interleaved rounds (bench/run.py ``interleaved``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (
    PG,
    SIZES,
    Client,
    dataset,
    django_env,
    interleaved,
    largest_tenant,
    log,
    manage,
    start_server,
)

ZONE = "America/New_York"
SET_ZONE = """
import sys, time
from roleplay.services import tenant_save
from tenants.models import Tenant
tenant = Tenant.objects.get(id=sys.argv[1])
tenant.time_zone = sys.argv[2]
started = time.perf_counter()
tenant_save(tenant=tenant)
print(time.perf_counter() - started)
"""


def stamp(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def figures(client: Client, *, year_from: str, year_to: str, sample, rounds: int, user_id: str):
    period = f"from={year_from}&to={year_to}"
    main = f"/api/v1/analytics/breakdown?by=user,week&{period}"
    details = [f"/api/v1/sessions/{sid}" for sid, _ in sample]
    groups = len(client.json(main)["data"])
    p_api, p_detail, ratios = interleaved(
        lambda: client.p50([main], rounds), lambda: client.p50(details, rounds)
    )
    out = {
        "groups_on_page": groups,
        "p50_breakdown_ms": p_api * 1e3,
        "p50_detail_ms": p_detail * 1e3,
        "ratio_to_detail": statistics.median(ratios),
        "ratios_to_detail": ratios,
        "plain": {},
    }
    combos = {
        "by=user,week": "by=user,week",
        "by=week": "by=week",
        "by=scenario": "by=scenario",
        "by=user,scenario": "by=user,scenario",
        "by=scenario,month": "by=scenario,month",
        "by=week,user": "by=week,user",
        "by=week&user_id": f"by=week&user_id={user_id}",
        "by=user,week&tz=Asia/Kolkata": "by=user,week&tz=Asia/Kolkata",
    }
    plain_rounds = max(3, rounds // 10)
    for name, query in combos.items():
        api = f"/api/v1/analytics/breakdown?{query}&{period}"
        plain = f"/bench/plain-breakdown?{query}&{period}"
        p_api, p_plain, ratios = interleaved(
            lambda api=api: client.p50([api], plain_rounds),
            lambda plain=plain: client.p50([plain], plain_rounds),
        )
        out["plain"][name] = {
            "p50_api_ms": p_api * 1e3,
            "p50_plain_ms": p_plain * 1e3,
            "speedup": statistics.median(round(1 / r, 2) for r in ratios),
        }
        log(f"{name}: api {p_api * 1e3:.1f} ms, plain {p_plain * 1e3:.1f} ms")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=SIZES, default="100k")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--database-url", help="an already imported database (kept)")
    args = parser.parse_args()
    sessions, tenants = SIZES[args.size]
    admin = psycopg.connect(f"{PG}/postgres", autocommit=True)
    db = None
    database_url = args.database_url
    scratch = Path(tempfile.mkdtemp(prefix="bench-breakdown-"))
    server = None
    try:
        if database_url is None:
            db = f"bench_breakdown_{os.getpid()}"
            admin.execute(f"CREATE DATABASE {db}")
            database_url = f"{PG}/{db}"
        env = django_env(database_url)
        manage(env, "migrate", "--noinput", "-v0")
        if db is not None:
            jsonl = dataset(sessions, tenants)
            log("import_data ...")
            started = time.perf_counter()
            manage(env, "import_data", str(jsonl))
            log(f"imported in {time.perf_counter() - started:.0f} s")
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            tenant_id, count = largest_tenant(conn)
            sample = conn.execute(
                "SELECT s.id, s.user_id FROM sessions_api_session s WHERE s.tenant_id = %s "
                "ORDER BY random() LIMIT 200",
                [tenant_id],
            ).fetchall()
            newest = conn.execute(
                "SELECT max(started_at) FROM sessions_api_session WHERE tenant_id = %s",
                [tenant_id],
            ).fetchone()[0]
            slug = conn.execute(
                "SELECT slug FROM tenants_tenant WHERE id = %s", [tenant_id]
            ).fetchone()[0]
        log(f"the tenant's zone -> {ZONE} ...")
        script = SET_ZONE.replace("sys.argv[1]", f"'{tenant_id}'")
        output = manage(env, "shell", "-c", script.replace("sys.argv[2]", f"'{ZONE}'"))
        zone_seconds = float(output.split()[-1])
        token = manage(env, "create_token", "--tenant", slug, "--name", "bench", "--scopes", "all")
        server = start_server(env)
        client = Client(token)
        result = figures(
            client,
            year_from=stamp(newest - timedelta(days=365)),
            year_to=stamp(newest),
            sample=sample,
            rounds=args.rounds,
            user_id=str(sample[0][1]),
        )
        result.update(sessions=sessions, largest_tenant=count, zone_change_seconds=zone_seconds)
        print(report(result))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(scratch, ignore_errors=True)
        if db is not None:
            admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()


def report(r: dict) -> str:
    lines = [
        f"Breakdown at {r['sessions']:,} sessions (largest tenant {r['largest_tenant']:,}, zone "
        f"{ZONE}); a change of that zone rebuilt its rollups in {r['zone_change_seconds']:.1f} s.",
        "",
        f"- by=user,week over a year ({r['groups_on_page']} groups on the page): p50 "
        f"{r['p50_breakdown_ms']:.1f} ms vs a session detail {r['p50_detail_ms']:.1f} ms: "
        f"**{r['ratio_to_detail']:.2f}x** (rounds {r['ratios_to_detail']})",
        "",
        "| query (a year of the largest tenant) | API p50 | plain ORM aggregate p50 | speed-up |",
        "|---|---|---|---|",
    ]
    for name, f in r["plain"].items():
        lines.append(
            f"| `{name}` | {f['p50_api_ms']:.1f} ms | {f['p50_plain_ms']:.1f} ms "
            f"| **{f['speedup']:.1f}x** |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
