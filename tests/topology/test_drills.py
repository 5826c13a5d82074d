"""The production topology's drills (issue #24), through nginx, on one bin/cluster: every part a
real process; parts are stopped and started with bin/cluster itself, as an operator would.

The drills run in this order on the one cluster, each leaving every part running again."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.live import get as get_direct
from tests.live import gunicorn, server_env
from tests.topology.harness import MISSING, Answer, Topology, wait_for

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

ACME = "00000000-0000-0000-0000-0000000000a1"
USER = "a0000000-0000-0000-0000-000000000001"
SCENARIO = "10000000-0000-0000-0000-000000000002"


def session_line(number: int) -> dict:
    """A new completed session of tenant acme (id 3f...<number>), for number < 60."""
    return {
        "type": "session",
        "id": f"3f000000-0000-0000-0000-{number:012d}",
        "tenant_id": ACME,
        "user_id": USER,
        "scenario_id": SCENARIO,
        "status": "completed",
        "started_at": f"2026-07-01T10:{number:02d}:00Z",
        "duration_seconds": 60,
        "transcript": [{"role": "agent", "message": f"Drill call {number}.", "time": 0}],
    }


def pages(topology: Topology, path: str) -> list[dict]:
    """Every record of a list, following next_cursor to the end."""
    records: list[dict] = []
    cursor = None
    while True:
        separator = "&" if "?" in path else "?"
        answer = topology.get(f"{path}{separator}cursor={cursor}" if cursor else path)
        assert answer.status == 200, answer.body
        records += answer.body["data"]
        cursor = answer.body.get("next_cursor")
        if not cursor:
            return records


def scans(topology: Topology, which: str, table: str) -> int:
    """Sequential and index scans of ``table`` counted by one server (its own queries only: a
    standby counts the reads it serves). PostgreSQL publishes a backend's counts within about
    10 s (at most once a second, and after 10 s idle)."""
    rows = topology.sql(
        which,
        "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
        "WHERE relname = %s",
        [table],
    )
    return rows[0][0]


@contextmanager
def load(topology: Topology, threads: int = 8) -> Iterator[list[Answer | Exception]]:
    """Threads GETting a page of sessions through nginx, one request after another, until the
    block ends; every answer (or exception) is collected."""
    results: list[Answer | Exception] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                results.append(topology.get("/api/v1/sessions?limit=5", timeout=30))
            except Exception as error:  # a refused or reset connection, a timeout
                results.append(error)

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield results
    finally:
        stop.set()
        for worker in workers:
            worker.join(40)


def statuses(results: list[Answer | Exception]) -> Counter:
    return Counter(r.status if isinstance(r, Answer) else type(r).__name__ for r in results)


def settles(topology: Topology, within: float, then: float = 2) -> float:
    """Three clients GET /sessions through nginx, each one request after another, until the
    requests started in the last ``then`` seconds (10 at least) have all answered 200. Every
    answer must be a 200 or the app's 503 envelope with Retry-After, and no request started
    after ``within`` seconds may fail. Returns when the last failed request started (0: none).

    Requests are judged by when they started: one that PgBouncer queued as its database went
    away waits up to its query_wait_timeout (10 s) before its 503, while those after it are
    already served."""
    started = time.monotonic()
    results: list[tuple[float, Answer]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            at = time.monotonic() - started
            results.append((at, topology.get("/api/v1/sessions?limit=5", timeout=30)))
            time.sleep(0.05)

    clients = [threading.Thread(target=client, daemon=True) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        while True:
            time.sleep(0.1)
            now = time.monotonic() - started
            last_failure = max((at for at, a in list(results) if a.status != 200), default=0.0)
            served = [at for at, a in list(results) if at > last_failure]
            if now - last_failure >= then and len(served) >= 10:
                break
            if now > within + then + 30:
                break  # judged below
    finally:
        stop.set()
        for thread in clients:
            thread.join(40)
    failures = sorted((at, a) for at, a in results if a.status != 200)
    wrong = [(round(at, 1), a.status, a.body) for at, a in failures if not a.envelope_503()]
    assert not wrong, wrong
    last_failure = failures[-1][0] if failures else 0.0
    assert last_failure <= within, [(round(at, 1), a.status) for at, a in failures]
    return last_failure


def test_1_answers_through_nginx_equal_a_single_servers(topology):
    """The same data, asked of the whole topology (nginx, two servers, PgBouncer, reads on the
    replica) and of one gunicorn on the primary directly: the same JSON, byte for byte."""
    topology.replica_caught_up()
    primary = topology.urls["DATABASE_URL"].replace("postgres@", "roleplay@")
    env = server_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=(topology.dir / "secret_key").read_text().strip(),
        DATABASE_URL=primary,
        REDIS_URL=topology.urls["REDIS_URL"],
        LOG_FORMAT="plain",
    )
    sessions = pages(topology, "/api/v1/sessions?limit=20&expand=scorecard,transcript")
    assert len(sessions) == 60  # acme's, in the demo data
    session = sessions[0]["id"]
    paths = [
        "/api/v1/sessions?limit=20&expand=scorecard,transcript",
        "/api/v1/sessions?updated_since=1970-01-01T00:00:00Z&limit=25",
        "/api/v1/users?include=email",
        "/api/v1/scenarios",
        "/api/v1/scorecards?limit=100",
        f"/api/v1/sessions/{session}",
        f"/api/v1/users/{USER}",
        "/api/v1/analytics/summary?from=2026-01-01&to=2026-12-31",
    ]
    auth = {"Authorization": f"Bearer {topology.token}"}
    with gunicorn(env) as single:
        for path in paths:
            through = topology.get(path)
            status, _headers, alone = get_direct(f"{single}{path}", auth)
            assert through.status == status == 200, (path, through.body, alone)
            assert through.body == alone, path
            # The next pages too, with the same cursors.
            while through.body.get("next_cursor"):
                cursor = through.body["next_cursor"]
                through = topology.get(f"{path}&cursor={cursor}")
                _status, _headers, alone = get_direct(f"{single}{path}&cursor={cursor}", auth)
                assert through.body == alone, (path, cursor)


def test_2_reads_land_on_the_replica(topology):
    # Each server process learns the replica's freshness on its first request, which reads the
    # primary meanwhile: a process that the warm-up missed (nginx and the kernel spread the
    # requests) does that once below, at most one per process (2 servers x 2).
    for _ in range(20):
        assert topology.get("/api/v1/users").status == 200
    time.sleep(1)
    first_requests = 4
    on_replica = scans(topology, "REPLICA_URL", "tenants_rep")
    on_primary = scans(topology, "DATABASE_URL", "tenants_rep")
    requests = 40
    for _ in range(requests):
        assert topology.get("/api/v1/users").status == 200
    # Each list of users scans tenants_rep once or more, on the server that answers it.
    wait_for(
        "the users lists' scans of tenants_rep counted on the replica",
        lambda: (
            scans(topology, "REPLICA_URL", "tenants_rep") - on_replica >= requests - first_requests
        ),
        timeout=20,
        every=0.5,
    )
    assert scans(topology, "DATABASE_URL", "tenants_rep") - on_primary <= first_requests
    # Both servers' queries run there under their application_name, which PgBouncer sets on
    # the server connection it lends (a connection shows its latest client's: collect them).
    seen: set[str] = set()

    def both_seen() -> bool:
        topology.get("/api/v1/users")
        query = "SELECT application_name FROM pg_stat_activity WHERE backend_type = %s"
        seen.update(name for (name,) in topology.sql("REPLICA_URL", query, ["client backend"]))
        return {"roleplay-app1", "roleplay-app2"} <= seen

    wait_for("both servers' application_name on the replica", both_seen, timeout=15)


def test_3_a_sync_finds_an_import_while_the_replica_replays_nothing(topology):
    before = pages(topology, "/api/v1/sessions?updated_since=1970-01-01T00:00:00Z&limit=100")
    last = max(record["updated_at"] for record in before)
    topology.sql("REPLICA_URL", "SELECT pg_wal_replay_pause()")
    try:
        wait_for(
            "the replica's replay to pause",
            lambda: (
                topology.sql("REPLICA_URL", "SELECT pg_get_wal_replay_pause_state()")[0][0]
                == "paused"
            ),
            timeout=10,
        )
        new = [session_line(number) for number in range(1, 6)]
        topology.import_lines(new)
        imported = time.monotonic()
        wanted = {line["id"] for line in new}

        def synced() -> bool:
            found = pages(topology, f"/api/v1/sessions?updated_since={last}&limit=2")
            return wanted <= {record["id"] for record in found}

        wait_for("the import in an updated_since sync", synced, timeout=30, every=0.5)
        topology.timings["drill 3: import to sync"] = time.monotonic() - imported
        # The replica still has none of it: the sync was answered from the primary.
        (paused,) = topology.sql("REPLICA_URL", "SELECT pg_is_wal_replay_paused()")[0]
        counted = topology.sql(
            "REPLICA_URL",
            "SELECT count(*) FROM sessions_api_session WHERE id = ANY(%s::uuid[])",
            [sorted(wanted)],
        )
        assert paused and counted == [(0,)]
        # Nothing lost: a whole sync from the start has every session, each once.
        after = pages(topology, "/api/v1/sessions?updated_since=1970-01-01T00:00:00Z&limit=100")
        ids_after = [record["id"] for record in after]
        assert len(ids_after) == len(set(ids_after)) == len(before) + len(new)
    finally:
        topology.sql("REPLICA_URL", "SELECT pg_wal_replay_resume()")
    topology.replica_caught_up()


def test_4_an_app_server_stopped_under_load_fails_no_request(topology):
    try:
        with load(topology) as results:
            time.sleep(1)
            topology.cli("stop", "app1")
            stopped = len(results)
            time.sleep(1.5)
            topology.cli("start", "app1")
            time.sleep(1.5)
        counts = statuses(results)
        assert counts == {200: len(results)}, counts
        assert stopped > 20 and len(results) - stopped > 20, counts  # load on both sides
    finally:
        topology.cli("start", "app1")
    # It is back in rotation: requests reach it again.
    assert topology.pid("app1")
    log = topology.dir / "logs" / "nginx-access.log"
    app1 = f"127.0.0.1:{int(topology.env['CLUSTER_PORT_BASE']) + 1}"

    def served_by_app1() -> bool:
        mark = log.stat().st_size
        for _ in range(4):
            topology.get("/api/v1/sessions?limit=1")
        with open(log) as lines:
            lines.seek(mark)
            return any(f"upstream={app1} upstream_status=200" in line for line in lines)

    wait_for("app1 answering through nginx again", served_by_app1, timeout=15, every=1)


def test_5_with_the_replica_stopped_reads_go_to_the_primary_and_come_back(topology):
    try:
        topology.cli("stop", "replica")
        # A server process may answer a request or two 503 (Retry-After) before it finds the
        # replica gone (one of them after PgBouncer's query_wait_timeout); reads started
        # after that are served by the primary (the replica is down).
        seconds = settles(topology, within=5)
        topology.timings["drill 5: replica stopped to the last failed request's start"] = seconds
    finally:
        topology.cli("start", "replica")
    wait_for(
        "the replica streaming",
        lambda: topology.sql("REPLICA_URL", "SELECT status FROM pg_stat_wal_receiver"),
        timeout=30,
    )
    on_replica = scans(topology, "REPLICA_URL", "tenants_rep")
    started = time.monotonic()

    def back() -> bool:
        for _ in range(5):
            assert topology.get("/api/v1/users").status == 200
        return scans(topology, "REPLICA_URL", "tenants_rep") - on_replica >= 5

    wait_for("reads on the replica again", back, timeout=40, every=0.5)
    topology.timings["drill 5: replica back to reads counted there"] = time.monotonic() - started


def outage(
    topology: Topology, part: str, seconds: float = 3, timed: list[float] | None = None
) -> tuple[list[Answer], float]:
    """Stop ``part``, collect the answers for ``seconds``, start it; the answers, and when
    (seconds after its start) the last request that failed started (see settles: at most 10 s).
    ``timed`` receives each request's start, in seconds after the stop."""
    answers: list[Answer] = []
    try:
        topology.cli("stop", part)
        stopped = time.monotonic()
        while time.monotonic() < stopped + seconds:
            if timed is not None:
                timed.append(time.monotonic() - stopped)
            answers.append(topology.get("/api/v1/sessions?limit=5", timeout=30))
            time.sleep(0.05)
    finally:
        topology.cli("start", part)
    return answers, settles(topology, within=10)


def test_6_pgbouncer_stopped_is_503_with_retry_after_then_service_within_10_s(topology):
    answers, seconds = outage(topology, "pgbouncer")
    topology.timings["drill 6: pgbouncer started to the last failed request's start"] = seconds
    assert answers and all(answer.envelope_503() for answer in answers), Counter(
        (a.status, a.body.get("code")) for a in answers
    )


class Receiver:
    """A webhook receiver on loopback that records each POST's body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> set[str]:
        return {body.get("data", {}).get("id") for body in self.bodies}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_7_primary_stopped_is_503_then_service_and_webhooks_resume(topology):
    receiver = Receiver()
    try:
        topology.manage("create_webhook", "--tenant", "acme", "--url", receiver.url)
        # The worker delivers before the drill: it is up and the endpoint works.
        topology.import_lines([session_line(10)])
        wait_for("the first webhook", lambda: session_line(10)["id"] in receiver.ids(), timeout=20)
        worker = topology.pid("worker")

        started: list[float] = []
        answers, seconds = outage(topology, "primary", seconds=10, timed=started)
        topology.timings["drill 7: primary started to the last failed request's start"] = seconds
        # Reads go on from the replica while it is within the lag bound of the primary as last
        # seen (it was caught up: the bound, 5 s, plus a check, 0.5 s); past it, without the
        # primary nobody can tell how far behind it is: 503s with Retry-After.
        counts = Counter((a.status, a.body.get("code")) for a in answers)
        assert all(a.status == 200 or a.envelope_503() for a in answers), counts
        late = [a for a, at in zip(answers, started, strict=True) if at > 5 + 0.5 + 0.5]
        assert late and all(a.envelope_503() for a in late), counts
        served = [at for a, at in zip(answers, started, strict=True) if a.status == 200]
        topology.timings["drill 7: reads served from the replica after the stop, until"] = max(
            served, default=0.0
        )

        # A change after the primary is back reaches the receiver: the worker is not stuck (nor
        # gone: bin/cluster, like a supervisor, does not restart it behind the drill's back).
        changed = time.monotonic()
        topology.import_lines([session_line(11)])
        deadline = changed + 30
        while session_line(11)["id"] not in receiver.ids() and time.monotonic() < deadline:
            if topology.pid("worker") != worker:
                break
            time.sleep(0.2)
        log = (topology.dir / "logs" / "worker.log").read_text().splitlines()
        assert session_line(11)["id"] in receiver.ids() and topology.pid("worker") == worker, (
            f"no webhook 30 s after the primary's restart; the worker (pid {worker}) is "
            f"{'running' if topology.pid('worker') else 'gone'}; its log ends:\n"
            + "\n".join(log[-8:])
        )
        topology.timings["drill 7: change to webhook after restart"] = time.monotonic() - changed
    finally:
        receiver.close()


def test_zz_report_timings(topology, capsys):
    """Not a drill: the timings the drills measured, shown with -s (or in the report)."""
    with capsys.disabled():
        for what, seconds in topology.timings.items():
            print(f"\n  {what}: {seconds:.1f} s", end="")
        print()
