"""Webhooks, side by side in one run (issue #23), on PostgreSQL with production settings (named
apart from the webhooks package, which a script in bench/ would otherwise shadow):

    python bench/webhook_figures.py --size 100k [--rounds 3] [--backlog 20000]

1. import: the same file into a fresh database with one endpoint subscribed (every type, the
   largest tenant: 60% of the sessions) and with none, alternating; the ratio of the medians.
2. delivery: the worker (``manage.py webhook_worker``) draining a backlog of the import's
   deliveries to a local receiver, against a bare loop of httpx POSTs of the same bodies with the
   same concurrency (WEBHOOK_ENDPOINT_CONCURRENCY threads, one keep-alive client) to the same
   receiver: events/s, and the worker's RSS sampled each second while it drains.
3. latency: with the worker idle, from an import's commit (its command returning) to the first
   POST reaching the receiver; the p50 of ``--latency-rounds`` imports of one new session.

The receiver is a separate process (gunicorn, a WSGI app that reads the body and answers 204),
the same for the worker and the loop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import PG, ROOT, SIZES, dataset, django_env, log, manage

RECEIVER_APP = """
def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("204 No Content", [])
    return [b""]
"""


def fresh_database(name: str) -> str:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{PG}/{name}"


def tenants_file(jsonl: Path, where: Path) -> tuple[Path, str]:
    """The file's tenant lines alone (imported first, so that an endpoint can be subscribed
    before the timed import), and the largest tenant's slug."""
    tenants, counts = [], {}
    with jsonl.open("rb") as source:
        for line in source:
            record = orjson.loads(line)
            if record["type"] == "tenant":
                tenants.append(line)
            elif record["type"] == "session":
                counts[record["tenant_id"]] = counts.get(record["tenant_id"], 0) + 1
    largest = max(counts, key=counts.get)
    slug = next(orjson.loads(t)["slug"] for t in tenants if orjson.loads(t)["id"] == largest)
    path = where / "tenants.jsonl"
    path.write_bytes(b"".join(tenants))
    return path, slug


def start_receiver(port: int) -> subprocess.Popen:
    app = Path(tempfile.mkdtemp()) / "receiver_app.py"
    app.write_text(RECEIVER_APP)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "receiver_app:app", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--worker-class", "gthread", "--threads", "8",
         "--log-level", "warning"],
        cwd=app.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.post(f"http://127.0.0.1:{port}/", content=b"{}")
            return process
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.1)


def import_round(jsonl: Path, tenants: Path, slug: str, url: str | None, name: str):
    database_url = fresh_database(name)
    env = django_env(database_url) | {
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "1",
    }
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "import_data", str(tenants))
    if url is not None:
        manage(env, "create_webhook", "--tenant", slug, "--url", url)
    started = time.perf_counter()
    manage(env, "import_data", str(jsonl))
    return time.perf_counter() - started, env, database_url


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def count(database_url: str, sql: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql).fetchone()[0]


def delivery_rate(env, database_url: str, backlog: int, url: str) -> dict:
    """The worker draining ``backlog`` deliveries vs a bare httpx loop over the same bodies."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Only the backlog stays pending: the rest counts as delivered already.
        conn.execute(
            "UPDATE webhooks_webhookdelivery SET status = 'delivered' WHERE id NOT IN"
            " (SELECT id FROM webhooks_webhookdelivery ORDER BY id LIMIT %s)",
            [backlog],
        )
        rows = conn.execute(
            "SELECT e.id, e.type, e.created_at, e.data FROM webhooks_webhookevent e"
            " JOIN webhooks_webhookdelivery d ON d.event_id = e.id WHERE d.status = 'pending'"
        ).fetchall()
    concurrency = int(env.get("WEBHOOK_ENDPOINT_CONCURRENCY", "4"))
    bodies = [
        orjson.dumps({"type": t, "timestamp": at.isoformat(), "data": orjson.Fragment(d)})
        for _, t, at, d in rows
    ]

    # The bare loop: the same bodies, the same concurrency, no signing, no database.
    with httpx.Client() as client:

        def send(chunk: list[bytes]) -> None:
            for body in chunk:
                client.post(url, content=body, headers={"content-type": "application/json"})

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(send, [bodies[i::concurrency] for i in range(concurrency)]))
        bare = len(bodies) / (time.perf_counter() - started)

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "webhook_worker"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    samples = []
    first_rss = None
    while True:
        time.sleep(1)
        samples.append(rss_kb(worker.pid))
        left = count(database_url, "SELECT count(*) FROM webhooks_webhookdelivery"
                     " WHERE status = 'pending'")  # fmt: skip
        if first_rss is None and len(samples) >= 3:
            first_rss = samples[2]
        if left == 0:
            break
        assert worker.poll() is None, "the worker died"
    # From the first attempt to the last (the worker's own start-up left out).
    with psycopg.connect(database_url) as conn:
        took = conn.execute(
            "SELECT extract(epoch FROM max(at) - min(at)) FROM webhooks_webhookattempt"
        ).fetchone()[0]
    took = float(took) * len(bodies) / max(len(bodies) - 1, 1)
    worker.terminate()
    worker.wait(timeout=60)
    failed = count(database_url, "SELECT count(*) FROM webhooks_webhookdelivery"
                   " WHERE status = 'failed'")  # fmt: skip
    return {
        "events": len(bodies),
        "bare_per_s": bare,
        "worker_per_s": len(bodies) / took,
        "ratio": (len(bodies) / took) / bare,
        "failed": failed,
        "rss_first_mb": (first_rss or samples[0]) / 1024,
        "rss_max_mb": max(samples) / 1024,
        "concurrency": concurrency,
    }


def latency(env, jsonl: Path, rounds: int) -> dict:
    """Commit to first POST, worker idle: an in-process receiver notes each arrival."""
    arrived: dict[str, float] = {}
    seen = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with seen:
                arrived[orjson.loads(body)["data"]["id"]] = time.time()
                seen.notify_all()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    with jsonl.open("rb") as source:
        template = next(r for r in map(orjson.loads, source) if r["type"] == "session")
    tenant = template["tenant_id"]
    slug = count_text(env["DATABASE_URL"], "SELECT slug FROM tenants_tenant WHERE id = %s", tenant)
    manage(env, "create_webhook", "--tenant", slug, "--url", url, "--events", "session.created")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "webhook_worker"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    files = []
    for _ in range(rounds):
        session = {**template, "id": str(uuid.uuid4()), "status": "completed"}
        path = Path(tempfile.mkstemp(suffix=".jsonl")[1])
        path.write_bytes(orjson.dumps(session) + b"\n")
        files.append((session["id"], path))
    # One child imports them one by one and prints the wall time at which each import's
    # transaction had committed (call_command returned), so no process start-up is counted.
    script = (
        "import sys, time\n"
        "from django.core.management import call_command\n"
        "for path in sys.argv[1:]:\n"
        "    call_command('import_data', path, stdout=open('/dev/null', 'w'))\n"
        "    print(time.time(), flush=True)\n"
        "    time.sleep(1)\n"
    )
    waits = []
    try:
        time.sleep(3)  # started and idle
        child = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup()\n{script}",
             *(str(p) for _, p in files)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        committed = [float(line) for line in child.stdout.split()]
        for (session_id, _), at in zip(files, committed, strict=True):
            with seen:
                assert seen.wait_for(lambda: session_id in arrived, 30), "never delivered"  # noqa: B023
            waits.append(arrived[session_id] - at)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        server.shutdown()
    return {"p50_ms": statistics.median(waits) * 1000, "max_ms": max(waits) * 1000,
            "rounds": rounds}  # fmt: skip


def count_text(database_url: str, sql: str, *params) -> str:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="100k", choices=SIZES)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--latency-rounds", type=int, default=15)
    parser.add_argument("--only-import", action="store_true", help="the import figure alone")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8899")))
    args = parser.parse_args()
    jsonl = dataset(*SIZES[args.size])
    scratch = Path(tempfile.mkdtemp())
    tenants, slug = tenants_file(jsonl, scratch)
    receiver = start_receiver(args.port)
    url = f"http://127.0.0.1:{args.port}/hooks"
    try:
        times: dict[str, list[float]] = {"none": [], "one": []}
        env = database_url = None
        for round_ in range(args.rounds):
            for which in ("none", "one"):
                took, env_, db = import_round(
                    jsonl, tenants, slug, url if which == "one" else None, f"bench_wh_{which}"
                )
                times[which].append(took)
                log(f"round {round_ + 1} import, {which} endpoint: {took:.1f} s")
                if which == "one":
                    env, database_url = env_, db
        none, one = statistics.median(times["none"]), statistics.median(times["one"])
        owed = count(database_url, "SELECT count(*) FROM webhooks_webhookdelivery")
        if args.only_import:
            print(f"import: none {times['none']}, one {times['one']}: {one / none:.2f}×")
            return
        rate = delivery_rate(env, database_url, min(args.backlog, owed), url)
        log(f"delivery: {rate}")
        wait = latency(env, jsonl, args.latency_rounds)
        log(f"latency: {wait}")
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    print(
        f"import ({args.size}, {args.rounds} rounds, alternating): none {none:.1f} s, one "
        f"endpoint {one:.1f} s ({owed:,} deliveries recorded): **{one / none:.2f}×** "
        f"(rounds: none {', '.join(f'{t:.1f}' for t in times['none'])}; one "
        f"{', '.join(f'{t:.1f}' for t in times['one'])})\n"
        f"delivery of {rate['events']:,} events (concurrency {rate['concurrency']}): worker "
        f"{rate['worker_per_s']:.0f}/s, bare httpx loop {rate['bare_per_s']:.0f}/s: "
        f"**{rate['ratio']:.2f}×**; {rate['failed']} failed; worker RSS {rate['rss_first_mb']:.0f}"
        f" MB after 3 s, at most {rate['rss_max_mb']:.0f} MB\n"
        f"commit to first POST, worker idle ({wait['rounds']} imports): p50 "
        f"**{wait['p50_ms']:.0f} ms**, max {wait['max_ms']:.0f} ms"
    )


if __name__ == "__main__":
    main()
