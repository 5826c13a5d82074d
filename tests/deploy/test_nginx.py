"""deploy/nginx/roleplay-api.conf, as shipped, in front of a real gunicorn: slow clients cannot
starve the server, oversized requests are refused in milliseconds in the envelope, and the
headers an operator relies on are set."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.live import ROOT, free_port, gunicorn, manage, server_env

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
if NGINX is None and os.environ.get("CI"):
    raise RuntimeError("CI installs nginx (.ci/run): the front proxy's tests must run there")
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (CI installs it)")

SHIPPED = ROOT / "deploy" / "nginx" / "roleplay-api.conf"


@contextmanager
def nginx_in_front_of(upstream: str, tmp_path: Path) -> Iterator[str]:
    """nginx running the shipped server block, pointed at ``upstream`` and listening on a free
    port; everything else as the file says."""
    port = free_port()
    site = SHIPPED.read_text()
    assert "server 127.0.0.1:8000 " in site and "listen 80;" in site
    site = site.replace("server 127.0.0.1:8000 ", f"server {upstream} ")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (tmp_path / "site.conf").write_text(site)
    root_user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{root_user}worker_processes 1;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n  fastcgi_temp_path {tmp_path}/fastcgi;\n"
        f"  uwsgi_temp_path {tmp_path}/uwsgi;\n  scgi_temp_path {tmp_path}/scgi;\n"
        f"  include {tmp_path}/site.conf;\n}}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(process.stderr.read().decode()) from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def front(tmp_path_factory) -> Iterator[tuple[str, str]]:
    tmp_path = tmp_path_factory.mktemp("nginx")
    env = server_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/front.sqlite3",
        API_TRUSTED_PROXY_HOPS="1",
        GUNICORN_THREADS="2",
    )
    manage(env, "migrate", "--noinput", "-v0")
    manage(
        env,
        "import_data",
        "-",
        stdin=b'{"type":"tenant","id":"00000000-0000-0000-0000-0000000000f1",'
        b'"slug":"front","name":"Front"}\n',
    )
    raw = manage(env, "create_token", "--tenant", "front", "--name", "t", "--scopes", "all")
    with (
        gunicorn(env, workers=1) as base,
        nginx_in_front_of(base.removeprefix("http://"), tmp_path) as url,
    ):
        yield url, raw


def fetch(url: str, headers: dict | None = None, timeout: float = 5) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_requests_pass_through_with_the_security_headers(front):
    url, raw = front
    request = urllib.request.Request(
        f"{url}/api/v1/token", headers={"Authorization": f"Bearer {raw}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
            assert len(response.headers.get_all(name)) == 1, name  # once, not the app's too
    status, headers, body = fetch(f"{url}/api/v1/token", {"Authorization": f"Bearer {raw}"})
    assert status == 200 and json.loads(body)["data"]["tenant"]["name"] == "Front"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Server" not in headers or "/" not in headers["Server"]  # no version
    # The app's own errors pass through untouched.
    status, _headers, body = fetch(
        f"{url}/api/v1/sessions/nope", {"Authorization": f"Bearer {raw}"}
    )
    assert status == 404 and json.loads(body)["details"]["request_id"]


def test_a_10_mb_url_is_refused_in_milliseconds_in_the_envelope(front):
    url, _raw = front
    started = time.monotonic()
    status, headers, body = fetch(f"{url}/api/v1/sessions?q={'x' * 10_000_000}")
    assert time.monotonic() - started < 1
    assert status == 414
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(body) == {
        "ok": False,
        "error": "The request line is too long (over 8 KB).",
        "code": "bad_request",
        "details": {},
    }


def test_an_oversized_header_is_refused_in_the_envelope(front):
    url, _raw = front
    status, _headers, body = fetch(f"{url}/healthz", {"X-Big": "y" * 20_000})
    assert status == 400 and json.loads(body)["code"] == "bad_request"


def test_slow_header_clients_do_not_starve_the_server(front):
    url, _raw = front
    host, port = url.removeprefix("http://").split(":")
    stop = threading.Event()
    slow: list[socket.socket] = []
    for _ in range(50):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(b"GET /api/v1/token HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)

    def drip() -> None:  # one byte a second per connection: a slowloris
        while not stop.wait(1):
            for sock in slow:
                with suppress(OSError):
                    sock.sendall(b"X")

    dripping = threading.Thread(target=drip, daemon=True)
    dripping.start()
    try:
        time.sleep(1.5)
        timings = []
        for _ in range(20):
            started = time.monotonic()
            status, _headers, _body = fetch(f"{url}/healthz", timeout=5)
            timings.append(time.monotonic() - started)
            assert status == 200
        assert max(timings) < 1, timings
    finally:
        stop.set()
        for sock in slow:
            sock.close()


def test_metrics_and_readiness_are_served_to_the_operators_network(front):
    url, _raw = front
    # The test runs on 127.0.0.1, inside the allowed networks; the rule itself is in the file.
    assert fetch(f"{url}/metrics")[0] == 200
    site = SHIPPED.read_text()
    block = site[site.index("location ~ ^/(metrics|readyz)$") :]
    assert "deny all;" in block[: block.index("}")]
