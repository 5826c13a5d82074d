"""The production topology (bin/cluster) against one server, on the same data, in one run.

    python bench/topology.py --size 100k [--rounds 3] [--seconds 10] [--port-base 27400]

Starts a cluster of its own (deploy/cluster.py: nginx -> two gunicorn app servers -> PgBouncer
in transaction mode -> PostgreSQL primary + streaming replica, Redis), imports the dataset
(bench/run.py's, generated and cached in bench/data/) into its primary, and measures with wrk:

1. topology vs single: each endpoint through nginx and the two app servers, and through one
   gunicorn (gunicorn.conf.py, production settings) connected to the primary directly, without
   PgBouncer or replica; -c32 and -c1. Everything runs on the same cores, so the topology
   cannot serve more here: what the ratio shows is the cost of its extra hops.
2. workers per core: the cluster's sessions list at -c32 with 1, 2 and 3 gunicorn processes
   per app server (CLUSTER_APP_WORKERS; two app servers on two cores: n processes per core).
3. where the primary's limit is: CPU seconds of the primary's and the replica's PostgreSQL
   processes per 1,000 requests of a mix of the endpoints, with the replica serving reads and
   with it stopped (reads go to the primary).

Interleaved rounds, medians: the machine is shared and noisy, and only figures measured next to
each other compare. Markdown tables on stdout, raw numbers in bench/results/topology-*.json.
The cluster and the single server are stopped at the end, on error too.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import SIZES, WRK_SCRIPT, dataset, largest_tenant, manage  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CLUSTER = [str(ROOT / "bin" / "cluster")]
SINGLE_OFFSET = 10  # the single server's port: the port base + 10, past the cluster's parts
WORKER_SETTINGS = (1, 2, 3)


def log(message: str) -> None:
    print(f"[topology {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the cluster and the single server ------------------------------------------------------


def cluster(*args: str, env: dict[str, str] | None = None) -> str:
    """One bin/cluster command (its progress to our stderr); its stdout."""
    result = subprocess.run(
        [*CLUSTER, *args], cwd=ROOT, env=env or os.environ, stdout=subprocess.PIPE, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"bin/cluster {' '.join(args)} exited {result.returncode}")
    return result.stdout


def cluster_up(workers: int) -> dict[str, str]:
    """The cluster, up, each app server with ``workers`` processes; its KEY=VALUE lines."""
    out = cluster("up", env={**os.environ, "CLUSTER_APP_WORKERS": str(workers)})
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def restart_apps(workers: int, threads: int = 2) -> None:
    """Only app1 and app2, again, with ``workers`` x ``threads`` each (read at start)."""
    env = {**os.environ, "CLUSTER_APP_WORKERS": str(workers), "CLUSTER_APP_THREADS": str(threads)}
    for name in ("app1", "app2"):
        cluster("stop", name)
    for name in ("app1", "app2"):
        cluster("start", name, env=env)
    for name in ("app1", "app2"):
        # gunicorn listens before it forks its workers: wait until all of them are there.
        pid = int((Path(os.environ["CLUSTER_DIR"]) / "run" / f"{name}.pid").read_text())
        deadline = time.monotonic() + 30
        while (running := len(children(pid))) != workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: {running} workers running, {workers} asked")
            time.sleep(0.2)


def children(pid: int) -> list[int]:
    """The direct children of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def start_single(env: dict[str, str], port: int) -> subprocess.Popen:
    """One gunicorn as production runs it (gunicorn.conf.py: 2 processes per core, 2 threads),
    production settings, straight to the primary: no nginx, PgBouncer or replica."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: stopped whole at the end
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except urllib.error.HTTPError:
            return server  # it answers
        except OSError:
            time.sleep(0.2)
    stop_single(server)
    raise RuntimeError("the single gunicorn did not start")


def stop_single(server: subprocess.Popen | None) -> None:
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_replica_caught_up(primary_url: str, replica_url: str, timeout: float = 120) -> None:
    """Until the replica has replayed what the primary has written so far (after the import)."""
    with psycopg.connect(primary_url, autocommit=True) as primary:
        target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(replica_url, autocommit=True) as replica:
                behind = replica.execute(
                    "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()) > 0", [target]
                ).fetchone()[0]
                streaming = replica.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
            if not behind and streaming and streaming[0] == "streaming":
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the replica did not catch up")


# -- data -----------------------------------------------------------------------------------


def load(jsonl: Path, env: dict[str, str], primary_url: str) -> dict[str, Any]:
    """The dataset on the primary (import_data as its superuser, then VACUUM ANALYZE), and the
    largest tenant: its slug, a token, one of its sessions and its newest year."""
    log(f"import_data {jsonl.name} ...")
    manage(env, "import_data", str(jsonl))
    with psycopg.connect(primary_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        tenant_id, count = largest_tenant(conn)
        slug = conn.execute("SELECT slug FROM tenants_tenant WHERE id = %s", [tenant_id]).fetchone()
        session_id, newest = conn.execute(
            "SELECT (SELECT id FROM sessions_api_session WHERE tenant_id = %s "
            "        ORDER BY started_at DESC LIMIT 1 OFFSET 500), "
            "max(started_at) FROM sessions_api_session WHERE tenant_id = %s",
            [tenant_id, tenant_id],
        ).fetchone()
    token = manage(
        env, "create_token", "--tenant", slug[0], "--name", "bench", "--scopes", "all",
        "--rate-limit", "1000000",  # per minute: the most it takes
    ).splitlines()[-1].strip()  # fmt: skip
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    year = (newest - timedelta(days=365)).astimezone(UTC).strftime(stamp)
    summary = f"/api/v1/analytics/summary?from={year}&to={newest.astimezone(UTC).strftime(stamp)}"
    return {
        "tenant": slug[0],
        "tenant_sessions": count,
        "token": token,
        "endpoints": {
            "sessions list": "/api/v1/sessions?limit=100",
            "session detail": f"/api/v1/sessions/{session_id}",
            "analytics summary (1 year)": summary,
            "users list": "/api/v1/users?limit=100",
        },
    }


# -- wrk ------------------------------------------------------------------------------------


def wrk(url: str, paths: list[str], token: str, seconds: float, connections: int = 32) -> dict:
    """One wrk run over ``paths`` in turn: req/s, p50, requests, non-2xx and socket errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (", ".join(json.dumps(p) for p in paths), token))
    threads = min(2, connections)
    try:
        output = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
             "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": float(p50.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p50.group(2)],
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def check_ok(url: str, path: str, token: str) -> None:
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200:
            raise RuntimeError(f"GET {url}{path} -> {response.status}")


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def ratio(runs: list[dict], baselines: list[dict], key: str) -> float:
    """The median of each round's ratio: figures taken next to each other drift together."""
    return statistics.median(a[key] / b[key] for a, b in zip(runs, baselines, strict=True))


# -- 1. topology vs single ------------------------------------------------------------------


def topology_vs_single(targets: dict[str, str], data: dict, rounds: int, seconds: float) -> dict:
    """Each endpoint through the topology (nginx -> app servers -> PgBouncer -> primary or
    replica) and through one gunicorn on the primary directly, -c32 and -c1, the two targets
    in turn within each round (order alternating by round), and the ratio topology/single of
    each round. Same cores, same data: the ratio is what the extra hops and processes cost."""
    results: dict[str, Any] = {}
    for endpoint, path in data["endpoints"].items():
        for url in targets.values():
            check_ok(url, path, data["token"])
            wrk(url, [path], data["token"], 2)  # warm: connections, caches, statements
        for connections in (32, 1):
            runs: dict[str, list[dict]] = {name: [] for name in targets}
            for round_ in range(rounds):
                order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
                for name in order:
                    runs[name].append(
                        wrk(targets[name], [path], data["token"], seconds, connections)
                    )
            topo, single = runs["topology"], runs["single"]
            results[f"{endpoint} c{connections}"] = {
                "runs": runs,
                "rps": {name: median_of(r, "rps") for name, r in runs.items()},
                "p50_ms": {name: median_of(r, "p50_ms") for name, r in runs.items()},
                "rps_ratio": ratio(topo, single, "rps"),
                "p50_ratio": ratio(topo, single, "p50_ms"),
            }
            log(f"{endpoint} c{connections}: {results[f'{endpoint} c{connections}']['rps']}")
    return results


# -- 2. workers per core --------------------------------------------------------------------


def workers_per_core(api_url: str, data: dict, rounds: int, seconds: float) -> dict:
    """The sessions list through the topology at -c32 with 1, 2, 3 gunicorn processes (2
    threads each) per app server: two app servers on two cores, so n processes per core. Only
    the app servers restart between settings; the order rotates by round."""
    path = data["endpoints"]["sessions list"]
    runs: dict[int, list[dict]] = {n: [] for n in WORKER_SETTINGS}
    for round_ in range(rounds):
        shift = round_ % len(WORKER_SETTINGS)
        for workers in WORKER_SETTINGS[shift:] + WORKER_SETTINGS[:shift]:
            log(f"app servers with {workers} workers each")
            restart_apps(workers)
            check_ok(api_url, path, data["token"])
            wrk(api_url, [path], data["token"], 3)  # warm each new process
            runs[workers].append(wrk(api_url, [path], data["token"], seconds))
    restart_apps(2)  # as the cluster ships
    return {
        str(n): {"runs": r, "rps": median_of(r, "rps"), "p50_ms": median_of(r, "p50_ms")}
        for n, r in runs.items()
    }


# -- 3. the primary's CPU per request -------------------------------------------------------


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds (user + system) of one PostgreSQL server so far: its postmaster (whose
    command line names the data folder), with the reaped children it has waited for
    (cutime/cstime), and every live child. Its backends retitle themselves ("postgres:
    primary: roleplay ...") and do not show the data folder: they are found as children."""
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    if str(data_dir) not in Path(f"/proc/{postmaster}/cmdline").read_bytes().decode(
        errors="replace"
    ).replace("\0", " "):
        raise RuntimeError(f"{data_dir}: postmaster.pid does not name its postmaster")
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [postmaster, *children(postmaster)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile: counted in the postmaster's cutime once reaped
        # Fields 14-17 of stat (utime, stime, cutime, cstime), counted after the ")".
        utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
        total += utime + stime + (cutime + cstime if pid == postmaster else 0)
    return total / ticks


def primary_cpu(api_url: str, cluster_dir: Path, data: dict, rounds: int, seconds: float) -> dict:
    """A mix of the four endpoints through the topology at -c32, with the replica serving the
    API's reads and with it stopped (reads go to the primary): requests/s and the CPU seconds
    the primary's and the replica's PostgreSQL processes spent per 1,000 requests. One primary
    core serves 1000 / (primary CPU s per 1,000) requests/s of that mix, if nothing else limits."""
    paths = list(data["endpoints"].values())
    servers = {"primary": cluster_dir / "primary", "replica": cluster_dir / "replica"}
    runs: dict[str, list[dict]] = {"with replica": [], "replica stopped": []}

    def measure(setting: str) -> None:
        up = [name for name in servers if (servers[name] / "postmaster.pid").exists()]
        wrk(api_url, paths, data["token"], 3)  # settle: the servers route reads anew
        before = {name: postgres_cpu_seconds(servers[name]) for name in up}
        run = wrk(api_url, paths, data["token"], seconds)
        after = {name: postgres_cpu_seconds(servers[name]) for name in up}
        for name in servers:
            cpu = after[name] - before[name] if name in up else 0.0
            run[f"{name}_cpu_s"] = cpu
            run[f"{name}_cpu_s_per_1k"] = cpu / run["requests"] * 1000
        runs[setting].append(run)
        log(f"{setting}: {run['rps']:.0f} req/s, primary {run['primary_cpu_s_per_1k']:.3f} "
            f"CPU s per 1k, replica {run['replica_cpu_s_per_1k']:.3f}")  # fmt: skip

    for round_ in range(rounds):
        for setting in runs if round_ % 2 == 0 else reversed(list(runs)):
            if setting == "replica stopped":
                cluster("stop", "replica")
                measure(setting)
                cluster("start", "replica")
                wait_replica_caught_up(data["primary_url"], data["replica_url"])
                time.sleep(2)  # the app servers see it fresh again (checked every 0.5 s)
            else:
                measure(setting)
    out: dict[str, Any] = {}
    for setting, r in runs.items():
        primary_per_1k = median_of(r, "primary_cpu_s_per_1k")
        out[setting] = {
            "runs": r,
            "rps": median_of(r, "rps"),
            "primary_cpu_s_per_1k": primary_per_1k,
            "replica_cpu_s_per_1k": median_of(r, "replica_cpu_s_per_1k"),
        }
    # Where the primary does the reads, one of its cores serves this many requests/s of the mix
    # (if nothing else limits); with the replica, it keeps only this fraction of that work.
    alone = out["replica stopped"]["primary_cpu_s_per_1k"]
    out["rps_per_primary_core"] = 1000 / alone if alone else None
    out["primary_share_with_replica"] = (
        out["with replica"]["primary_cpu_s_per_1k"] / alone if alone else None
    )
    return out


# -- report ---------------------------------------------------------------------------------


def report(results: dict) -> str:
    lines = [
        f"## Topology vs one server ({results['size']}, largest tenant "
        f"{results['tenant_sessions']:,} sessions; {results['rounds']} rounds of "
        f"{results['seconds']:g} s, medians)",
        "",
        "| endpoint | conns | topology req/s | single req/s | req/s ratio | topology p50 ms "
        "| single p50 ms | p50 ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, figure in results["topology_vs_single"].items():
        endpoint, conns = key.rsplit(" c", 1)
        lines.append(
            f"| {endpoint} | {conns} | {figure['rps']['topology']:,.0f} "
            f"| {figure['rps']['single']:,.0f} | {figure['rps_ratio']:.2f} "
            f"| {figure['p50_ms']['topology']:.1f} | {figure['p50_ms']['single']:.1f} "
            f"| {figure['p50_ratio']:.2f} |"
        )
    lines += [
        "",
        "## Workers per app server (sessions list, -c32, 2 threads each, 2 app servers on "
        f"{os.cpu_count()} cores)",
        "",
        "| workers per app server | processes per core | req/s | p50 ms |",
        "|---|---|---|---|",
    ]
    cores = os.cpu_count() or 1
    for workers, figure in results["workers_per_core"].items():
        lines.append(
            f"| {workers} | {2 * int(workers) / cores:g} | {figure['rps']:,.0f} "
            f"| {figure['p50_ms']:.1f} |"
        )
    lines += [
        "",
        "## PostgreSQL CPU per 1,000 requests (mix of the four endpoints, -c32, through the "
        "topology)",
        "",
        "| setting | req/s | primary CPU s / 1k req | replica CPU s / 1k req |",
        "|---|---|---|---|",
    ]
    cpu = results["primary_cpu"]
    for setting in ("with replica", "replica stopped"):
        figure = cpu[setting]
        lines.append(
            f"| {setting} | {figure['rps']:,.0f} | {figure['primary_cpu_s_per_1k']:.3f} "
            f"| {figure['replica_cpu_s_per_1k']:.3f} |"
        )
    if cpu["rps_per_primary_core"]:
        lines += [
            "",
            f"One primary core serves about {cpu['rps_per_primary_core']:,.0f} req/s of this mix "
            "when it does the reads; with the replica serving them, the primary spends "
            f"{cpu['primary_share_with_replica']:.1%} of that CPU per request.",
        ]
    failed = [
        f"{where}: {run['non_2xx']} non-2xx, socket errors {run['socket_errors']}"
        for where, run in every_run(results)
        if run["non_2xx"] or run["socket_errors"]
    ]
    lines += ["", "Failed requests: " + ("; ".join(failed) if failed else "none")]
    return "\n".join(lines)


def every_run(results: dict) -> list[tuple[str, dict]]:
    """Each measured wrk run, with where it belongs."""
    found = []
    for part in ("topology_vs_single", "workers_per_core", "primary_cpu"):
        for key, figure in results[part].items():
            if not isinstance(figure, dict):
                continue  # a derived figure, not a setting
            runs = figure["runs"]
            for name, each in runs.items() if isinstance(runs, dict) else [(None, runs)]:
                found += [(" ".join(filter(None, (part, key, name))), run) for run in each]
    return found


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=SIZES, default="100k")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--port-base", type=int, default=27400, help="the cluster's ports")
    parser.add_argument("--report", type=Path, help="only print the tables of a saved JSON")
    args = parser.parse_args()
    if args.report:
        print(report(json.loads(args.report.read_text())))
        return
    # A SIGTERM (a timeout, say) unwinds like an error: the finally below stops everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    sessions, tenants = SIZES[args.size]
    jsonl = dataset(sessions, tenants)
    cluster_dir = Path(tempfile.gettempdir()) / f"topology-bench-{os.getpid()}"
    os.environ["CLUSTER_DIR"] = str(cluster_dir)
    os.environ["CLUSTER_PORT_BASE"] = str(args.port_base)
    from deploy.cluster import Cluster  # reads CLUSTER_DIR and CLUSTER_PORT_BASE

    single = None
    try:
        log(f"bin/cluster up in {cluster_dir} (ports from {args.port_base})")
        urls = cluster_up(workers=2)
        rig = Cluster()
        admin_env = rig.django_env(DATABASE_URL=urls["DATABASE_URL"])
        data = load(jsonl, admin_env, urls["DATABASE_URL"])
        data.update(primary_url=urls["DATABASE_URL"], replica_url=urls["REPLICA_URL"])
        wait_replica_caught_up(urls["DATABASE_URL"], urls["REPLICA_URL"])
        single_port = args.port_base + SINGLE_OFFSET
        single = start_single(
            rig.django_env(
                DATABASE_URL=f"postgres://roleplay@127.0.0.1:{rig.port('primary')}/roleplay",
                DATABASE_APPLICATION_NAME="roleplay-single",
                API_TRUSTED_PROXY_HOPS="0",  # no proxy in front
            ),
            single_port,
        )
        targets = {"topology": urls["API_URL"], "single": f"http://127.0.0.1:{single_port}"}
        results: dict[str, Any] = {
            "size": args.size,
            "rounds": args.rounds,
            "seconds": args.seconds,
            "cores": os.cpu_count(),
            "tenant": data["tenant"],
            "tenant_sessions": data["tenant_sessions"],
            "endpoints": data["endpoints"],
        }
        log("1. topology vs single ...")
        results["topology_vs_single"] = topology_vs_single(targets, data, args.rounds, args.seconds)
        stop_single(single)  # idle from here on, but out of the way
        log("3. the primary's CPU per request ...")
        results["primary_cpu"] = primary_cpu(
            urls["API_URL"], cluster_dir, data, args.rounds, args.seconds
        )
        log("2. workers per core ...")
        results["workers_per_core"] = workers_per_core(
            urls["API_URL"], data, args.rounds, args.seconds
        )
    finally:
        stop_single(single)
        log("bin/cluster down --purge")
        subprocess.run([*CLUSTER, "down", "--purge"], cwd=ROOT, check=False)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"topology-{args.size}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(report(results))
    print(f"\nRaw numbers: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
