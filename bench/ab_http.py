"""Request latency of this tree against an older one, side by side: one gunicorn worker each,
on the same database (one bench/ab_import.sh left), interleaved rounds, medians.

    python bench/ab_http.py <old-tree> <tenant-slug>   e.g. /tmp/ab-10f9c5d bench-1-0
"""

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = str(Path(__file__).resolve().parent.parent)
OLD = sys.argv[1]
DB = "postgres://postgres@127.0.0.1:5432/ab_new"
py = sys.executable
base_env = {
    **os.environ,
    "DATABASE_URL": DB,
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DJANGO_SECRET_KEY": "k" * 60,
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SECURE_COOKIES": "0",
    "API_RATE_LIMIT_PER_MINUTE": "1000000000",
    "CACHE_KEY_PREFIX": "abhttp",
}
tok = subprocess.run(
    [py, "manage.py", "create_token", "--tenant", sys.argv[2], "--name", "ab", "--scopes", "all"],
    cwd=HERE,
    env={**base_env, "PYTHONPATH": HERE},
    capture_output=True,
    text=True,
    check=True,
).stdout.strip()
servers = {}
for name, d, port in (("old", OLD, 8811), ("new", HERE, 8812)):
    servers[name] = (
        subprocess.Popen(
            [
                py,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "1",
                "--log-level",
                "warning",
                "-c",
                "/dev/null",
            ],
            cwd=d,
            env={**base_env, "PYTHONPATH": d},
        ),
        port,
    )
time.sleep(4)
paths = [
    "/api/v1/sessions?limit=100",
    "/api/v1/sessions/" + "{sid}",
    "/api/v1/analytics/summary",
    "/api/v1/users?limit=100",
]


def get(port, path):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {tok}"}
    )
    t = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        body = r.read()
    return time.perf_counter() - t, body


sid = json.loads(get(8812, "/api/v1/sessions?limit=1")[1])["data"][0]["id"]
paths = [p.replace("{sid}", sid) for p in paths]
for p in paths:
    for name in ("old", "new"):
        for _ in range(50):
            get(servers[name][1], p)
res = {(n, p): [] for n in servers for p in paths}
for rnd in range(6):
    for p in paths:
        order = ("old", "new") if rnd % 2 == 0 else ("new", "old")
        for name in order:
            res[(name, p)].append(
                statistics.median(get(servers[name][1], p)[0] for _ in range(150))
            )
for p in paths:
    o = statistics.median(res[("old", p)])
    n = statistics.median(res[("new", p)])
    print(f"{p[:40]:40s} old {o * 1000:.2f} ms  new {n * 1000:.2f} ms  new/old {n / o:.2f}")
for s, _ in servers.values():
    s.terminate()
