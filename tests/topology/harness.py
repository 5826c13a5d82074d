"""What the topology drills use: a running bin/cluster (its URLs, its commands), requests
through its nginx, queries on its databases."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.live import ROOT

PG_BIN = Path(os.environ.get("CLUSTER_PG_BIN", "/usr/lib/postgresql/15/bin"))
SYSTEM = {"pgbouncer", "nginx", "redis-server"}


def _missing() -> str | None:
    """Why the cluster cannot run here, or None."""
    if not sys.platform.startswith("linux"):
        return "bin/cluster runs on Linux"
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL 15 is not installed ({PG_BIN})"
    absent = [name for name in sorted(SYSTEM) if not _found(name)]
    if absent and os.geteuid() != 0:  # as root, bin/cluster installs them
        return f"not installed: {', '.join(absent)}"
    return None


def _found(name: str) -> bool:
    return bool(shutil.which(name)) or Path("/usr/sbin", name).exists()


MISSING = _missing()
if MISSING and os.environ.get("CI"):
    raise RuntimeError(f"CI runs the topology drills: {MISSING}")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict

    def envelope_503(self) -> bool:
        """The app's 503: the JSON envelope, code unavailable, with Retry-After."""
        return (
            self.status == 503
            and self.body.get("ok") is False
            and self.body.get("code") == "unavailable"
            and int(self.headers.get("Retry-After", "0")) > 0
        )


@dataclass
class Topology:
    urls: dict[str, str]
    env: dict[str, str]  # bin/cluster's: CLUSTER_DIR and its port base
    token: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return self.urls["API_URL"]

    @property
    def dir(self) -> Path:
        return Path(self.urls["CLUSTER_DIR"])

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [str(ROOT / "bin" / "cluster"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"bin/cluster {' '.join(args)}:\n{result.stderr}"
        return result.stdout

    def command_env(self) -> dict[str, str]:
        """An operator's `bin/manage` against the cluster: the primary directly, as superuser."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "DJANGO_", "REDIS_", "WEBHOOK_", "API_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DJANGO_SECRET_KEY=(self.dir / "secret_key").read_text().strip(),
            DATABASE_URL=self.urls["DATABASE_URL"],
            REDIS_URL=self.urls["REDIS_URL"],
            LOG_FORMAT="plain",
            # The drills' webhook receiver is on loopback, over http.
            WEBHOOK_ALLOW_HTTP="1",
            WEBHOOK_ALLOW_PRIVATE_ADDRESSES="1",
        )
        return env

    def manage(self, *args: str, stdin: bytes | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.command_env(),
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode().strip()

    def import_lines(self, records: list[dict]) -> str:
        data = "".join(json.dumps(record) + "\n" for record in records).encode()
        return self.manage("import_data", "-", stdin=data)

    def get(self, path: str, timeout: float = 15) -> Answer:
        """GET through nginx with the token."""
        request = urllib.request.Request(
            f"{self.api_url}{path}", headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Answer(response.status, dict(response.headers), json.loads(response.read()))
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = {"raw": body.decode(errors="replace")}
            return Answer(error.code, dict(error.headers), parsed)

    def sql(self, which: str, query: str, params: list | None = None) -> list[tuple]:
        """A query as the superuser on the primary (DATABASE_URL) or the replica (REPLICA_URL)."""
        with psycopg.connect(self.urls[which], autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def replica_caught_up(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        (position,) = self.sql("DATABASE_URL", "SELECT pg_current_wal_lsn()")[0]
        wait_for(
            "the replica to replay the primary's writes",
            lambda: self.sql(
                "REPLICA_URL", f"SELECT pg_last_wal_replay_lsn() >= '{position}'::pg_lsn"
            )[0][0],
            timeout,
        )

    def pid(self, name: str) -> int | None:
        for line in self.cli("status").splitlines():
            part, state, pid, _port = line.split()
            if part == name:
                return int(pid) if state == "running" else None
        raise KeyError(name)


def wait_for(what: str, check: Callable[[], object], timeout: float, every: float = 0.1):
    """check()'s first truthy value, polled until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(every)


def free_port_base(width: int = 7) -> int:
    """A base with base .. base+width-1 all free on 127.0.0.1."""
    for _ in range(100):
        base = random.randrange(20_000, 60_000 - width)
        try:
            for port in range(base, base + width):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free range of ports")
