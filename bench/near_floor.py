"""The API against its two baselines, endpoint by endpoint (issue #25, "Performance near the
floor"):

    python bench/near_floor.py --size 100k [--rounds 3] [--seconds 10] [--port-base 27600]
    python bench/near_floor.py --size smoke              # a tiny dataset, 1-second runs (CI)

- the HTTP floor (bench/floor.py): a bare WSGI app that checks the token and runs the very SQL
  the API runs for each request, captured from the API in this run, then sends the rows with
  orjson;
- the textbook DRF peer (bench/textbook/): ModelSerializer, viewsets, CursorPagination, a plain
  ``aggregate()`` and ``values().annotate()``, with the API's token authentication and scopes.

Creates a throwaway PostgreSQL database (``floor_<pid>``), imports the dataset of bench/run.py's
size, creates a token of the largest tenant with every scope, captures the API's SQL, then
starts the three servers side by side, each with the API's gunicorn.conf.py (the same workers
and threads), and checks that each answers every path 200, with the same number of rows as the
API (and, for the lists, the same rows). For each endpoint, with wrk at ``-c1 -t1`` and at
``-c32 -t2``, it runs the three servers in turn, ``--rounds`` times, the order rotating each
round (the machine's speed drifts: neighbours are compared), and reports for each server the
median over the rounds of its requests/s and of its p50 latency, and their ratios. The table
goes to stdout, everything measured to ``--json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (
    PG,
    ROOT,
    SIZES,
    WRK_SCRIPT,
    dataset,
    django_env,
    largest_tenant,
    log,
    manage,
    manage_script,
)

SERVERS = ("api", "floor", "peer")
# name, path (formatted with the run's values), page size: how many rows a page holds (the
# floor cuts the one row more a list fetches to learn whether a next page exists).
ENDPOINTS = (
    ("sessions", "/api/v1/sessions?limit=100", 100),
    ("session detail", "/api/v1/sessions/{session_id}", None),
    ("summary", "/api/v1/analytics/summary?from={year_from}&to={year_to}", None),
    ("users", "/api/v1/users?limit=100", 100),
    ("breakdown", "/api/v1/analytics/breakdown?by=user,week&from={year_from}&to={year_to}", 1000),
)
LOADS = ((1, 1), (32, 2))  # (connections, wrk threads)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the servers ------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def start(name: str, app: str, env: dict[str, str], port: int, logs: Path) -> subprocess.Popen:
    """gunicorn with the API's gunicorn.conf.py (workers, threads, limits) serving ``app``.
    No control socket: gunicorn's default is one path per user, which three servers (and
    anyone else's on the machine) would share."""
    if not _port_free(port):
        raise RuntimeError(f"port {port} is taken: choose another --port-base")
    with (logs / f"{name}.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             app],
            cwd=ROOT,
            env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_ready(server: subprocess.Popen, port: int, name: str, logs: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the {name} server exited:\n{tail}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the {name} server did not start on port {port}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def get(port: int, path: str, token: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    try:
        return response.status, orjson.loads(body)
    except orjson.JSONDecodeError:
        return response.status, body[:300]


# -- what each server answered ------------------------------------------------------------------


def items(server: str, body: dict) -> list[dict]:
    """The rows of an answer: the API's and the floor's ``data``, the peer's ``results`` (or
    the object itself, for a detail or the summary)."""
    found = body.get("results", body) if server == "peer" else body["data"]
    return found if isinstance(found, list) else [found]


def ids(server: str, rows: list[dict]) -> list[str]:
    key = "w_id" if server == "floor" else "id"
    return [str(row[key]) for row in rows]


def check(ports: dict[str, int], paths: dict[str, str], token: str) -> dict[str, Any]:
    """Every server answers every path 200; the floor and the peer answer with as many rows as
    the API, and with the same ones where rows have ids (the lists, the detail) or the same
    groups (the breakdown); the floor refuses a wrong token. Raises on any difference."""
    counts: dict[str, dict[str, int]] = {}
    problems = []
    for name, path in paths.items():
        bodies = {}
        for server in SERVERS:
            status, body = get(ports[server], path, token)
            if status != 200:
                problems.append(f"{server} answered {path} with {status}: {body!r:.300}")
                continue
            bodies[server] = body
        if len(bodies) < len(SERVERS):
            continue
        rows = {server: items(server, bodies[server]) for server in SERVERS}
        counts[name] = {server: len(found) for server, found in rows.items()}
        if len(set(counts[name].values())) != 1:
            problems.append(f"{name}: rows differ: {counts[name]}")
            continue
        if name in ("sessions", "users", "session detail"):
            seen = {server: ids(server, rows[server]) for server in SERVERS}
            if not seen["api"] == seen["floor"] == seen["peer"]:
                problems.append(f"{name}: the servers answered other rows")
        if name == "breakdown":
            # The floor's rows are the SQL's: the group's key in its first two columns.
            api = [(g["user_id"], g["week"]) for g in rows["api"]]
            peer = [(g["user_id"], g["week"]) for g in rows["peer"]]
            keys = [list(g.values())[:2] for g in rows["floor"]]
            floor = [(str(user), str(week)[:10]) for user, week in keys]
            if not api == peer == floor:
                problems.append(f"{name}: the servers answered other groups")
            elif [g["sessions"] for g in rows["api"]] != [g["sessions"] for g in rows["peer"]]:
                problems.append(f"{name}: the API and the peer count other sessions")
        if name == "summary":
            api, peer = rows["api"][0]["sessions"], rows["peer"][0]["sessions"]
            if api != peer:
                problems.append(f"summary: the API counts {api} sessions, the peer {peer}")
    status, _ = get(ports["floor"], paths["sessions"], "rpt_not-a-token")
    if status != 401:
        problems.append(f"the floor answered a wrong token with {status}, not 401")
    if problems:
        raise RuntimeError("the servers disagree:\n- " + "\n- ".join(problems))
    return counts


# -- wrk ------------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(port: int, script: Path, connections: int, threads: int, seconds: int) -> dict[str, Any]:
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
         "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if rps is None or p50 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": float(p50.group(1)) * _UNITS[p50.group(2)],
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else None,
    }


def lua(scratch: Path, name: str, paths: list[str], token: str) -> Path:
    script = scratch / f"{name.replace(' ', '-')}.lua"
    script.write_text(WRK_SCRIPT % (", ".join(json.dumps(p) for p in paths), token))
    return script


def measure(
    ports: dict[str, int], scripts: dict[str, Path], rounds: int, seconds: int
) -> list[dict[str, Any]]:
    """Per endpoint and load: the three servers in turn, ``rounds`` times, the order rotating;
    per server the median over the rounds of requests/s and of p50."""
    out = []
    for name, script in scripts.items():
        for connections, threads in LOADS:
            runs: dict[str, list[dict[str, Any]]] = {server: [] for server in SERVERS}
            for r in range(rounds):
                order = SERVERS[r % 3 :] + SERVERS[: r % 3]
                for server in order:
                    runs[server].append(wrk(ports[server], script, connections, threads, seconds))
            row: dict[str, Any] = {"endpoint": name, "connections": connections}
            for server in SERVERS:
                row[server] = {
                    "rps": statistics.median(run["rps"] for run in runs[server]),
                    "p50_ms": statistics.median(run["p50_ms"] for run in runs[server]),
                    "non_2xx": sum(run["non_2xx"] for run in runs[server]),
                    "socket_errors": [e for run in runs[server] if (e := run["socket_errors"])],
                    "rounds": runs[server],
                }
            api, floor, peer = row["api"], row["floor"], row["peer"]
            row["api_floor_rps"] = api["rps"] / floor["rps"]
            row["peer_api_rps"] = peer["rps"] / api["rps"]
            row["api_floor_p50"] = api["p50_ms"] / floor["p50_ms"]
            pairs = zip(runs["api"], runs["floor"], strict=True)
            row["rounds_api_floor_rps"] = [round(a["rps"] / f["rps"], 3) for a, f in pairs]
            log(
                f"{name} -c{connections}: api {api['rps']:,.0f}/s, floor {floor['rps']:,.0f}/s, "
                f"peer {peer['rps']:,.0f}/s"
            )
            out.append(row)
    return out


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| endpoint | conns | API req/s | floor req/s | peer req/s | API/floor | peer/API "
        "| API p50 | floor p50 | API/floor p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        api, floor, peer = row["api"], row["floor"], row["peer"]
        lines.append(
            f"| {row['endpoint']} | {row['connections']} | {api['rps']:,.0f} | "
            f"{floor['rps']:,.0f} | {peer['rps']:,.0f} | {row['api_floor_rps']:.2f} | "
            f"{row['peer_api_rps']:.2f} | {api['p50_ms']:.2f} ms | {floor['p50_ms']:.2f} ms | "
            f"{row['api_floor_p50']:.2f} |"
        )
    return "\n".join(lines)


def notes(rows: list[dict[str, Any]]) -> list[str]:
    """Runs with answers that were not 2xx, or socket errors (timeouts among them)."""
    found = []
    for row in rows:
        for server in SERVERS:
            figures = row[server]
            if figures["non_2xx"] or figures["socket_errors"]:
                found.append(
                    f"{row['endpoint']} -c{row['connections']} {server}: non-2xx "
                    f"{figures['non_2xx']}, socket errors {figures['socket_errors'] or 'none'}"
                )
    return found


# -- the run ------------------------------------------------------------------------------------


def run(size: str, rounds: int, seconds: int, port_base: int, warm_seconds: int) -> dict:
    started = time.perf_counter()
    sessions, tenants = SIZES[size]
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    ports = {server: port_base + i for i, server in enumerate(SERVERS)}
    if taken := [port for port in ports.values() if not _port_free(port)]:
        raise RuntimeError(f"ports {taken} are taken: choose another --port-base")
    jsonl = dataset(sessions, tenants)
    db = f"floor_{os.getpid()}"
    admin = psycopg.connect(f"{PG}/postgres", autocommit=True)
    admin.execute(f"CREATE DATABASE {db}")
    database_url = f"{PG}/{db}"
    env = django_env(database_url)
    scratch = Path(tempfile.mkdtemp(prefix="near-floor-"))
    servers: dict[str, subprocess.Popen] = {}
    results: dict[str, Any] = {
        "size": size,
        "sessions": sessions,
        "tenants": tenants,
        "rounds": rounds,
        "seconds": seconds,
        "ports": ports,
    }
    try:
        manage(env, "migrate", "--noinput", "-v0")
        log(f"import_data {jsonl.name} ...")
        manage(env, "import_data", str(jsonl))
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            tenant_id, count = largest_tenant(conn)
            slug, zone = conn.execute(
                "SELECT slug, time_zone FROM tenants_tenant WHERE id = %s", [tenant_id]
            ).fetchone()
            session_id, newest = conn.execute(
                "SELECT (SELECT id FROM sessions_api_session WHERE tenant_id = %s "
                "AND status = 'scored' ORDER BY id LIMIT 1), "
                "(SELECT max(started_at) FROM sessions_api_session WHERE tenant_id = %s)",
                [tenant_id, tenant_id],
            ).fetchone()
        token = manage(env, "create_token", "--tenant", slug, "--name", "near-floor",
                       "--scopes", "all")  # fmt: skip
        values = {
            "session_id": session_id,
            "year_from": stamp(newest - timedelta(days=365)),
            "year_to": stamp(newest),
        }
        paths = {name: path.format(**values) for name, path, _ in ENDPOINTS}
        results.update(largest_tenant_sessions=count, time_zone=zone, paths=paths)

        # Started now, to boot while the SQL is captured: the floor reads its file on its
        # first request.
        queries = scratch / "queries.json"
        log(f"starting the servers on ports {ports} ...")
        envs = {
            "api": (env, "config.wsgi:application"),
            "floor": (
                {**env, "FLOOR_QUERIES": str(queries), "FLOOR_DATABASE_URL": database_url},
                "bench.floor:app",
            ),
            "peer": (
                {**env, "DJANGO_SETTINGS_MODULE": "bench.textbook.settings"},
                "config.wsgi:application",
            ),
        }
        for server, (server_env, app) in envs.items():
            servers[server] = start(server, app, server_env, ports[server], scratch)
        log("capturing the API's SQL ...")
        spec = scratch / "spec.json"
        spec.write_text(
            json.dumps(
                {
                    "token": token,
                    "tenant_id": str(tenant_id),
                    "endpoints": [
                        {"name": name, "path": paths[name], "page_size": page}
                        for name, _, page in ENDPOINTS
                    ],
                }
            )
        )
        log(manage_script(env, "bench/floor.py", "capture", str(spec), str(queries)).strip())
        captured = orjson.loads(queries.read_bytes())
        results["statements"] = {
            path: [s["api_rows"] for s in endpoint["statements"]]
            for path, endpoint in captured["endpoints"].items()
        }

        for server, process in servers.items():
            wait_ready(process, ports[server], server, scratch)

        results["rows"] = check(ports, paths, token)
        log(f"every server answers every path, with the same rows: {results['rows']}")
        scripts = {name: lua(scratch, name, [path], token) for name, path in paths.items()}
        mix = lua(scratch, "mix", list(paths.values()), token)
        if warm_seconds:  # every thread's connection, prepared statements, caches
            log("warming up ...")
            for server in SERVERS:
                wrk(ports[server], mix, 32, 2, warm_seconds)

        results["table"] = measure(ports, scripts, rounds, seconds)
    finally:
        for process in servers.values():
            stop(process)
        shutil.rmtree(scratch, ignore_errors=True)
        admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()
    results["wall_seconds"] = time.perf_counter() - started
    return results


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # the servers stopped and the database dropped on the way


def main() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description="The API beside its floor and a DRF peer.")
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (3; smoke: 1)")
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (10; smoke: 1)")
    parser.add_argument("--port-base", type=int, default=27600, help="API, floor, peer: +0..2")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    smoke = args.size == "smoke"
    rounds = args.rounds or (1 if smoke else 3)
    seconds = args.seconds or (1 if smoke else 10)
    results = run(args.size, rounds, seconds, args.port_base, warm_seconds=0 if smoke else 5)
    command = "python bench/near_floor.py " + " ".join(sys.argv[1:])
    text = [
        f"### Near the floor: {results['sessions']:,} sessions, {results['tenants']} tenants "
        f"(largest tenant {results['largest_tenant_sessions']:,}) — "
        f"{datetime.now(UTC):%Y-%m-%d}",
        "",
        f"Command: `{command}`; wrk -c1 -t1 and -c32 -t2, {seconds} s per run, {rounds} "
        f"interleaved round(s), medians; {results['wall_seconds']:.0f} s in all.",
        "",
        table(results["table"]),
    ]
    if found := notes(results["table"]):
        text += ["", "Errors during the runs:", *(f"- {note}" for note in found)]
    print("\n".join(text))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
