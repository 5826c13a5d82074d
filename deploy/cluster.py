"""bin/cluster: the production topology on one machine, on loopback, for drills.

    bin/cluster up                 start everything (making what is missing), wait until it
                                   serves, print KEY=VALUE lines on stdout
    bin/cluster down [--purge]     stop everything; --purge also removes the cluster folder
    bin/cluster stop NAME          stop one part gracefully and wait for it to exit
    bin/cluster start NAME         start one part
    bin/cluster status             each part: name, running/stopped, pid, port

Parts, each its own process with its data under CLUSTER_DIR (default <project>/.cluster) and
its port at CLUSTER_PORT_BASE (default 7400) plus an offset:

    nginx +0 -> app1 +1, app2 +2 (gunicorn) -> pgbouncer +3 -> primary +4, replica +5
    redis +6 (rate limits, token epoch); worker (webhook deliveries, on the primary directly)

Each app server runs CLUSTER_APP_WORKERS gunicorn processes (default 2) of CLUSTER_APP_THREADS
threads (default 2), read when it starts: `stop app1`, then `start app1` with new values.

A cluster folder remembers its port base: later commands need CLUSTER_DIR only. Progress goes
to stderr, and stdout carries only `up`'s KEY=VALUE lines, so a script can read them.
Processes are found by their pidfiles, each checked against /proc (a pidfile left by a crash,
or whose pid now belongs to another program, counts as stopped), so every command can be run
again, in any state.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The venv bin/cluster runs us with: the servers and commands run from the same one.
VENV_BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("CLUSTER_PG_BIN", "/usr/lib/postgresql/15/bin"))
DEFAULT_PORT_BASE = 7400
OFFSETS = {
    "nginx": 0,
    "app1": 1,
    "app2": 2,
    "pgbouncer": 3,
    "primary": 4,
    "replica": 5,
    "redis": 6,
}
# Start order: each part after what it needs. down stops in the reverse order.
ORDER = ["primary", "replica", "redis", "pgbouncer", "worker", "app1", "app2", "nginx"]
REPLICATION_SLOT = "cluster_replica"
# PostgreSQL and PgBouncer refuse to run as root: as root, they run as this user.
PG_USER = "postgres"
IS_ROOT = os.geteuid() == 0
# Written into a new cluster folder: `down --purge` removes only a folder that has it.
MARKER = "CLUSTER"


class ClusterError(Exception):
    pass


def say(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


# --- Processes --------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """The process exists and has not exited. A zombie (exited, not yet reaped by its parent,
    which for our daemons is whatever adopted them) still answers kill(pid, 0): /proc says."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def pid_from(pidfile: Path, marker: str) -> int | None:
    """The live process a pidfile names, if its command line still shows ``marker``; None for
    a missing or stale pidfile."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if alive(pid) and marker in cmdline(pid):
        return pid
    return None


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(what: str, check: Callable[[], bool], timeout: float, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ClusterError(f"{what}: not after {timeout:.0f} s{log_tail(log)}")
        time.sleep(0.1)


def log_tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- {log} (last lines) ---\n" + "\n".join(tail)


def as_pg_user(command: list[str]) -> list[str]:
    """As root, PostgreSQL's programs run as the postgres user; otherwise as we are."""
    return ["runuser", "-u", PG_USER, "--", *command] if IS_ROOT else command


def run(command: list[str], *, log: Path | None = None, env: dict | None = None) -> None:
    """A command in the foreground; its output to ``log`` (or our stderr), never our stdout, and
    its stdin closed. A daemon it leaves behind inherits no pipe of ours either."""
    out = open(log, "ab") if log else sys.stderr  # noqa: SIM115 (closed below)
    try:
        result = subprocess.run(  # noqa: S603 (our own commands, no shell)
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            # The project (manage.py); as another user, a folder every user may enter.
            cwd="/" if command[0] == "runuser" else ROOT,
            check=False,
        )
    finally:
        if log:
            out.close()
    if result.returncode != 0:
        raise ClusterError(f"{' '.join(command)} exited {result.returncode}{log_tail(log)}")


def spawn(command: list[str], *, env: dict, log: Path, pidfile: Path) -> int:
    """A long-running process of our own, detached: its own session (no signal meant for our
    terminal reaches it), output to its log, its pid in its pidfile."""
    with open(log, "ab") as out:
        process = subprocess.Popen(  # noqa: S603 (our own commands, no shell)
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pidfile.write_text(f"{process.pid}\n")
    return process.pid


def terminate(name: str, pid: int, sig: signal.Signals, grace: float, *, group: bool) -> None:
    """Send ``sig`` and wait up to ``grace`` seconds for the process to exit; then SIGKILL it
    (its whole process group when it leads one of ours: gunicorn's workers, say)."""
    with suppress(ProcessLookupError):  # it may have just exited
        os.kill(pid, sig)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        say(f"{name}: still running after {grace:.0f} s, killing it")
    # Even after a clean exit: nothing of the group may outlive its leader.
    with suppress(ProcessLookupError):
        if group:
            os.killpg(pid, signal.SIGKILL)
        elif alive(pid):
            os.kill(pid, signal.SIGKILL)
    wait_until(f"{name} (pid {pid}) to exit", lambda: not alive(pid), 10, None)


def binary(name: str) -> str | None:
    """A system program, also where a non-root PATH does not look (/usr/sbin)."""
    found = shutil.which(name)
    for folder in ("/usr/sbin", "/sbin"):
        if found is None and Path(folder, name).exists():
            found = str(Path(folder, name))
    return found


def ensure_packages() -> None:
    """Debian's packages for the parts, installed when missing (as root; otherwise we say
    which). nginx-light is what .ci/run installs."""
    wanted = {
        "pgbouncer": binary("pgbouncer"),
        "nginx-light": binary("nginx"),
        "redis-server": binary("redis-server"),
        "postgresql-15": (PG_BIN / "initdb").exists() or None,
    }
    missing = [package for package, found in wanted.items() if not found]
    if not missing:
        return
    if not IS_ROOT:
        names = " ".join(missing)
        raise ClusterError(f"missing Debian packages (as root: apt-get install {names})")
    say(f"installing {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", *missing], env=env)


# --- The cluster folder -----------------------------------------------------------------------


class Cluster:
    def __init__(self) -> None:
        self.dir = Path(os.environ.get("CLUSTER_DIR") or ROOT / ".cluster").resolve()
        asked = os.environ.get("CLUSTER_PORT_BASE")
        stored = self.dir / "port_base"
        if stored.exists():
            self.base = int(stored.read_text())
            if asked and int(asked) != self.base:
                raise ClusterError(
                    f"{self.dir} was made with CLUSTER_PORT_BASE={self.base} (its replica and "
                    f"pgbouncer point at those ports): unset it, or `down --purge` first"
                )
        else:
            self.base = int(asked or DEFAULT_PORT_BASE)
        self.run = self.dir / "run"  # pidfiles and PostgreSQL's sockets
        self.logs = self.dir / "logs"
        self.parts: dict[str, Part] = {
            "primary": Primary(self),
            "replica": Replica(self),
            "redis": Redis(self),
            "pgbouncer": Pgbouncer(self),
            "worker": Worker(self),
            "app1": App(self, "app1"),
            "app2": App(self, "app2"),
            "nginx": Nginx(self),
        }

    def port(self, name: str) -> int:
        return self.base + OFFSETS[name]

    def exists(self) -> bool:
        return (self.dir / MARKER).exists()

    def prepare(self) -> None:
        """The folder and what every part shares: idempotent."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if not self.exists():
            (self.dir / MARKER).write_text(
                "A cluster folder of bin/cluster (deploy/cluster.py); "
                "`bin/cluster down --purge` removes it.\n"
            )
        (self.dir / "port_base").write_text(f"{self.base}\n")
        secret = self.dir / "secret_key"
        if not secret.exists():
            # Django's production settings want 50+ characters; this is 86. Readable by us
            # only, from its first byte.
            with os.fdopen(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(secrets.token_urlsafe(64) + "\n")
        if IS_ROOT:
            # The postgres user must reach its data, sockets and logs under this folder.
            self.dir.chmod(0o755)
        for folder in (self.run, self.logs):
            folder.mkdir(exist_ok=True)
            give_to_pg_user(folder)
        if IS_ROOT:
            probe = subprocess.run(as_pg_user(["test", "-w", str(self.run)]), check=False)  # noqa: S603
            if probe.returncode != 0:
                raise ClusterError(
                    f"the {PG_USER} user cannot reach {self.dir}: make its parent folders "
                    "traversable (chmod o+x) or choose another CLUSTER_DIR"
                )

    def secret_key(self) -> str:
        return (self.dir / "secret_key").read_text().strip()

    def urls(self) -> dict[str, str]:
        return {
            "API_URL": f"http://127.0.0.1:{self.port('nginx')}",
            # Superuser, direct: what `bin/manage import_data` and operators use.
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.port('primary')}/roleplay",
            "REPLICA_URL": f"postgres://postgres@127.0.0.1:{self.port('replica')}/roleplay",
            "PGBOUNCER_URL": f"postgres://roleplay@127.0.0.1:{self.port('pgbouncer')}/roleplay",
            "REDIS_URL": f"redis://127.0.0.1:{self.port('redis')}/0",
            "CLUSTER_DIR": str(self.dir),
        }

    def django_env(self, **settings: str) -> dict[str, str]:
        """The environment of the servers and commands: production settings, on this cluster's
        ports. Our caller's own database and server settings (a test run's DATABASE_URL, say)
        must not leak into the cluster's processes, so they are dropped."""
        own = (
            "DATABASE_",
            "DJANGO_",
            "GUNICORN_",
            "REDIS_",
            "API_",
            "WEBHOOK_",
            "LOG_",
            "ADMIN_",
            "CACHE_KEY_PREFIX",
            "DELETIONS_",
            "PROCRASTINATE_",
            # Each gunicorn makes its own metrics folder (gunicorn.conf.py): never shared.
            "PROMETHEUS_MULTIPROC_DIR",
        )
        env = {name: value for name, value in os.environ.items() if not name.startswith(own)}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DJANGO_SECRET_KEY=self.secret_key(),
            DJANGO_ALLOWED_HOSTS="*",  # a list, comma-separated; "*" is any Host
            # Plain http on loopback: admin's cookies must not require https here.
            DJANGO_SECURE_COOKIES="0",
            REDIS_URL=self.urls()["REDIS_URL"],
            API_TRUSTED_PROXY_HOPS="1",  # nginx in front
            LOG_FORMAT="plain",
            # The drills' webhook receivers listen on loopback, over plain http.
            WEBHOOK_ALLOW_HTTP="1",
            WEBHOOK_ALLOW_PRIVATE_ADDRESSES="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(settings)
        return env

    def direct_env(self, application_name: str) -> dict[str, str]:
        """Connected to the primary directly, as the API's role: the webhook worker (it LISTENs,
        which a transaction-mode pooler cannot carry) and migrations (so the role owns the
        tables it reads)."""
        return self.django_env(
            DATABASE_URL=f"postgres://roleplay@127.0.0.1:{self.port('primary')}/roleplay",
            DATABASE_APPLICATION_NAME=application_name,
        )


def give_to_pg_user(path: Path) -> None:
    if IS_ROOT:
        user = pwd.getpwnam(PG_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


def sql(port: int, statements: str | list[str], params: list | None = None) -> list[tuple]:
    """Statements as the superuser on one of our PostgreSQL servers (its database postgres);
    the last one's rows. ``params`` go with a single statement."""
    import psycopg  # the venv's: bin/cluster runs us with it

    rows: list[tuple] = []
    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    ) as connection:
        for statement in [statements] if isinstance(statements, str) else statements:
            cursor = connection.execute(statement, params)
            rows = cursor.fetchall() if cursor.description else []
    return rows


# --- The parts --------------------------------------------------------------------------------


class Part:
    """One process of the cluster. ``start`` and ``stop`` are idempotent."""

    name: str
    port: int | None = None
    runs_as_pg_user = False

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def log(self) -> Path:
        return self.cluster.logs / f"{self.name}.log"

    @property
    def pidfile(self) -> Path:
        return self.cluster.run / f"{self.name}.pid"

    def pid(self) -> int | None:
        raise NotImplementedError

    def start(self) -> None:
        if self.pid():
            return
        if self.port is not None and port_open(self.port):
            raise ClusterError(f"{self.name}: port {self.port} is taken by another process")
        say(f"starting {self.name}")
        self.log.touch()
        if self.runs_as_pg_user:
            give_to_pg_user(self.log)  # it writes its log itself
        self._start()
        if self.port is None:
            return
        started = time.monotonic()

        def listening() -> bool:
            if self.pid():
                return port_open(self.port)
            # A daemon writes its pidfile a moment after it detaches: gone only if it stays so.
            if time.monotonic() - started > 5:
                raise ClusterError(f"{self.name} exited at start{log_tail(self.log)}")
            return False

        wait_until(f"{self.name} listening on {self.port}", listening, 60, self.log)

    def _start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        say(f"stopping {self.name} (pid {pid})")
        self._stop(pid)

    def _stop(self, pid: int) -> None:
        raise NotImplementedError


class Postgres(Part):
    """A PostgreSQL 15 server of our own: data, socket and port apart from the machine's."""

    runs_as_pg_user = True

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.port = cluster.port(self.name)
        self.data = cluster.dir / self.name
        # Written once the data folder is complete: without it, a folder left by an
        # interrupted initdb or base backup is made again.
        self.made = cluster.dir / f"{self.name}.made"

    def pid(self) -> int | None:
        # The postmaster was started with -D <data>: its command line says which cluster.
        return pid_from(self.data / "postmaster.pid", str(self.data))

    def _start(self) -> None:
        if not self.made.exists():
            if self.data.exists():
                shutil.rmtree(self.data)
            self.data.mkdir(mode=0o700)
            give_to_pg_user(self.data)
            self._make()
            self.made.touch()
        self._write_conf()
        pg_ctl = str(PG_BIN / "pg_ctl")
        command = [pg_ctl, "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"]
        run(as_pg_user(command), log=self.log)

    def _make(self) -> None:
        raise NotImplementedError

    def _write_conf(self) -> None:
        """The settings bin/cluster owns, in their own file (included by postgresql.conf),
        rewritten at each start. A base backup copies the primary's; the replica's own
        replaces it before its first start."""
        path = self.data / "cluster.conf"
        path.write_text(
            "# Written by bin/cluster at each start (deploy/cluster.py).\n"
            f"port = {self.port}\n"
            "listen_addresses = '127.0.0.1'\n"
            # Not /var/run/postgresql: the machine's own server has its socket there.
            f"unix_socket_directories = '{self.cluster.run}'\n"
            f"cluster_name = '{self.name}'\n"
            # A hot standby streaming from the primary through a replication slot.
            "wal_level = replica\n"
            "max_wal_senders = 10\n"
            "max_replication_slots = 10\n"
            "hot_standby = on\n"
            # The replica tells the primary which rows its queries still read, so that vacuum
            # on the primary does not cancel them.
            "hot_standby_feedback = on\n"
            # A replica stopped for long holds WAL on the primary through its slot: bounded.
            "max_slot_wal_keep_size = '4GB'\n"
        )
        give_to_pg_user(path)

    def _stop(self, pid: int) -> None:
        # Fast: clients are disconnected at once (open transactions roll back), then a clean
        # shutdown; the drills' "database restarts" are this.
        command = [str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"]
        run(as_pg_user([*command, "-t", "60"]), log=self.log)


class Primary(Postgres):
    name = "primary"

    def _make(self) -> None:
        say("initdb (primary)")
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres"]
        run(
            as_pg_user([*initdb, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]),
            log=self.log,
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\ninclude 'cluster.conf'\n")
        # Loopback only, trust: a drill rig (production: scram-sha-256 and its own network).
        (self.data / "pg_hba.conf").write_text(
            "# bin/cluster: loopback only, trust.\n"
            "local   all           all                   trust\n"
            "host    all           all     127.0.0.1/32  trust\n"
            "local   replication   all                   trust\n"
            "host    replication   all     127.0.0.1/32  trust\n"
        )

    def start(self) -> None:
        super().start()
        self.bootstrap()

    def bootstrap(self) -> None:
        """The API's role and database, as production has them: idempotent, run at each start."""
        role = sql(self.port, "SELECT 1 FROM pg_roles WHERE rolname = 'roleplay'")
        database = sql(self.port, "SELECT 1 FROM pg_database WHERE datname = 'roleplay'")
        statements = [] if role else ["CREATE ROLE roleplay LOGIN NOSUPERUSER"]
        statements += [
            # Reads every backend's xact_start in pg_stat_activity (the sync horizon,
            # sync/clock.py) and calls the WAL position functions (the replica's freshness).
            "GRANT pg_monitor TO roleplay",
            # Behind a transaction-mode pooler the servers cannot send these at connection
            # start (startup options): the role carries them, for every connection it makes.
            "ALTER ROLE roleplay SET statement_timeout = '10s'",
            "ALTER ROLE roleplay SET lock_timeout = '5s'",
            "ALTER ROLE roleplay SET idle_in_transaction_session_timeout = '30s'",
            # What Django expects; set here, it costs no SET per connection.
            "ALTER ROLE roleplay SET timezone = 'UTC'",
        ]
        if not database:
            statements.append("CREATE DATABASE roleplay OWNER roleplay")
        sql(self.port, statements)


class Replica(Postgres):
    name = "replica"

    def _make(self) -> None:
        primary = self.cluster.parts["primary"]
        if not primary.pid():
            raise ClusterError("the replica is made from the primary: start the primary first")
        # A slot left by an earlier replica of this folder (its data since removed) would make
        # -C fail; the new replica starts from a new backup anyway.
        sql(
            primary.port,
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s AND NOT active",
            [REPLICATION_SLOT],
        )
        say("pg_basebackup (replica)")
        # -R: a standby (standby.signal, primary_conninfo); -C -S: through a replication slot,
        # so the primary keeps the WAL a stopped replica has not received, and it catches up.
        command = [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port)]
        command += ["-U", "postgres", "-D", str(self.data), "-R", "-C", "-S", REPLICATION_SLOT]
        run(as_pg_user([*command, "-X", "stream", "--checkpoint=fast"]), log=self.log)

    def streaming(self) -> bool:
        try:
            rows = sql(self.port, "SELECT status FROM pg_stat_wal_receiver")
        except Exception:  # not up yet
            return False
        return bool(rows) and rows[0][0] == "streaming"


class Redis(Part):
    name = "redis"

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.port = cluster.port("redis")

    def pid(self) -> int | None:
        return pid_from(self.pidfile, "redis-server")

    def _start(self) -> None:
        folder = self.cluster.dir / "redis"
        folder.mkdir(exist_ok=True)
        # Rate-limit counters and the token epoch only: nothing worth keeping on disk.
        run(
            [
                binary("redis-server") or "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(folder),
                "--daemonize", "yes",
                "--pidfile", str(self.pidfile),
                "--logfile", str(self.log),
            ]
        )  # fmt: skip

    def _stop(self, pid: int) -> None:
        terminate(self.name, pid, signal.SIGTERM, 10, group=False)
        self.pidfile.unlink(missing_ok=True)


class Pgbouncer(Part):
    """One PgBouncer, transaction pooling, from the shipped deploy/pgbouncer/pgbouncer.ini
    with this cluster's ports and paths put in."""

    name = "pgbouncer"
    runs_as_pg_user = True
    TEMPLATE = ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini"

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.port = cluster.port("pgbouncer")
        self.folder = cluster.dir / "pgbouncer"
        self.ini = self.folder / "pgbouncer.ini"

    def pid(self) -> int | None:
        return pid_from(self.pidfile, str(self.ini))

    def render(self) -> str:
        text = self.TEMPLATE.read_text()
        primary, replica = self.cluster.port("primary"), self.cluster.port("replica")
        for key, value in {
            "roleplay": f"host=127.0.0.1 port={primary} dbname=roleplay",
            "roleplay_replica": f"host=127.0.0.1 port={replica} dbname=roleplay",
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": str(self.cluster.run),
            "logfile": str(self.log),
            "pidfile": str(self.pidfile),
            "auth_file": str(self.folder / "userlist.txt"),
        }.items():
            text = set_option(text, key, value)
        return text

    def _start(self) -> None:
        self.folder.mkdir(exist_ok=True)
        self.ini.write_text(self.render())
        # auth_type trust still wants each user listed.
        (self.folder / "userlist.txt").write_text('"roleplay" ""\n"postgres" ""\n')
        pgbouncer = binary("pgbouncer") or "pgbouncer"
        run(as_pg_user([pgbouncer, "-d", str(self.ini)]), log=self.log)

    def _stop(self, pid: int) -> None:
        # SIGINT is PgBouncer's safe shutdown (PAUSE, then SHUTDOWN: transactions running on
        # its server connections finish first); SIGTERM would drop them.
        terminate(self.name, pid, signal.SIGINT, 15, group=False)


def set_option(text: str, key: str, value: str) -> str:
    """``key = value`` in an ini text whose one ``key = ...`` line is replaced (a template that
    lost the line is an error, not a silently ignored setting)."""
    pattern = re.compile(rf"^{re.escape(key)}\s*=.*$", re.MULTILINE)
    text, count = pattern.subn(lambda _match: f"{key} = {value}", text)
    if count != 1:
        raise ClusterError(f"pgbouncer.ini: expected one '{key} =' line, found {count}")
    return text


class App(Part):
    """An API server: gunicorn with the project's gunicorn.conf.py, behind PgBouncer."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        super().__init__(cluster)
        self.name = name
        self.port = cluster.port(name)

    def pid(self) -> int | None:
        return pid_from(self.pidfile, f"roleplay-{self.name}")

    def _start(self) -> None:
        cluster = self.cluster
        pgbouncer = cluster.port("pgbouncer")
        env = cluster.django_env(
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            # Per app server; a benchmark varies them (bench/topology.py). Read here, not from
            # GUNICORN_*: django_env drops the caller's own server settings.
            GUNICORN_WORKERS=os.environ.get("CLUSTER_APP_WORKERS", "2"),
            GUNICORN_THREADS=os.environ.get("CLUSTER_APP_THREADS", "2"),
            DATABASE_URL=f"postgres://roleplay@127.0.0.1:{pgbouncer}/roleplay",
            DATABASE_REPLICA_URL=f"postgres://roleplay@127.0.0.1:{pgbouncer}/roleplay_replica",
            DATABASE_POOL_MODE="transaction",
            DATABASE_APPLICATION_NAME=f"roleplay-{self.name}",
        )
        # -n names the server in its command line: how its pidfile is checked.
        gunicorn = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-n"]
        spawn(
            [*gunicorn, f"roleplay-{self.name}", "config.wsgi"],
            env=env,
            log=self.log,
            pidfile=self.pidfile,
        )

    def _stop(self, pid: int) -> None:
        # SIGTERM is gunicorn's graceful stop: no new connections, requests in flight finish
        # (within its graceful_timeout, 30 s), then the workers and the master exit.
        terminate(self.name, pid, signal.SIGTERM, 40, group=True)
        self.pidfile.unlink(missing_ok=True)


class Worker(Part):
    """The webhook delivery worker, on the primary directly."""

    name = "worker"
    STARTED = "webhook worker started"

    def pid(self) -> int | None:
        return pid_from(self.pidfile, "webhook_worker")

    def start(self) -> None:
        if self.pid():
            return
        say(f"starting {self.name}")
        self.log.touch()
        offset = self.log.stat().st_size
        spawn(
            [str(VENV_BIN / "python"), "manage.py", "webhook_worker"],
            env=self.cluster.direct_env("roleplay-worker"),
            log=self.log,
            pidfile=self.pidfile,
        )

        def started() -> bool:
            if not self.pid():
                raise ClusterError(f"the worker exited at start{log_tail(self.log)}")
            with open(self.log, "rb") as log:
                log.seek(offset)
                return self.STARTED.encode() in log.read()

        wait_until("the webhook worker started", started, 60, self.log)

    def _stop(self, pid: int) -> None:
        # SIGTERM: the POSTs in flight finish (within WEBHOOK_TIMEOUT_SECONDS, 15) or their
        # deliveries are released to the next worker.
        terminate(self.name, pid, signal.SIGTERM, 30, group=True)
        self.pidfile.unlink(missing_ok=True)


class Nginx(Part):
    """The shipped deploy/nginx/roleplay-api.conf in front of app1 and app2."""

    name = "nginx"
    SHIPPED = ROOT / "deploy" / "nginx" / "roleplay-api.conf"
    # The upstream's one server line as shipped; here, one such line per app server.
    SHIPPED_SERVER = re.compile(r"^(\s*)server 127\.0\.0\.1:8000( [^;\n]*)?;$", re.MULTILINE)

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster)
        self.port = cluster.port("nginx")
        self.folder = cluster.dir / "nginx"
        self.conf = self.folder / "nginx.conf"

    def pid(self) -> int | None:
        # The master's title keeps its command line, which names our nginx.conf.
        return pid_from(self.pidfile, str(self.conf))

    def render_site(self) -> str:
        site = self.SHIPPED.read_text()
        apps = [self.cluster.port("app1"), self.cluster.port("app2")]

        def servers(match: re.Match) -> str:
            indent, parameters = match.group(1), match.group(2) or ""
            return "\n".join(f"{indent}server 127.0.0.1:{port}{parameters};" for port in apps)

        site, count = self.SHIPPED_SERVER.subn(servers, site)
        if count != 1 or site.count("listen 80;") != 1:
            raise ClusterError(
                f"{self.SHIPPED}: expected one 'server 127.0.0.1:8000 ...;' and one 'listen 80;'"
            )
        return site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")

    def _start(self) -> None:
        self.folder.mkdir(exist_ok=True)
        (self.folder / "site.conf").write_text(self.render_site())
        temp = {kind: self.folder / kind for kind in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for folder in temp.values():
            folder.mkdir(exist_ok=True)
        self.conf.write_text(
            "# Written by bin/cluster at each start (deploy/cluster.py).\n"
            # As root, the workers stay root: they write the temp folders below, in our folder.
            + ("user root;\n" if IS_ROOT else "")
            + "worker_processes 2;\n"
            f"pid {self.pidfile};\n"
            f"error_log {self.cluster.logs / 'nginx-error.log'};\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            # Which app server answered each request, and how: what the drills look at.
            '  log_format upstreams \'$remote_addr [$time_local] "$request" $status '
            "upstream=$upstream_addr upstream_status=$upstream_status $request_time';\n"
            f"  access_log {self.cluster.logs / 'nginx-access.log'} upstreams;\n"
            f"  client_body_temp_path {temp['body']};\n"
            f"  proxy_temp_path {temp['proxy']};\n"
            f"  fastcgi_temp_path {temp['fastcgi']};\n"
            f"  uwsgi_temp_path {temp['uwsgi']};\n"
            f"  scgi_temp_path {temp['scgi']};\n"
            f"  include {self.folder / 'site.conf'};\n"
            "}\n"
        )
        nginx = binary("nginx") or "nginx"
        error_log = str(self.cluster.logs / "nginx-error.log")
        # -e: its error log from the first line on (not /var/log/nginx, maybe not ours).
        run([nginx, "-e", error_log, "-p", str(self.folder), "-c", str(self.conf)], log=self.log)

    @property
    def log(self) -> Path:
        return self.cluster.logs / "nginx-error.log"

    def _stop(self, pid: int) -> None:
        # SIGQUIT is nginx's graceful stop (requests in flight are answered); SIGTERM is not.
        terminate(self.name, pid, signal.SIGQUIT, 20, group=False)


# --- Commands ---------------------------------------------------------------------------------


def migrate(cluster: Cluster) -> None:
    say("migrate (on the primary, as role roleplay)")
    run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput"],
        env=cluster.direct_env("roleplay-migrate"),
        log=cluster.logs / "migrate.log",
    )


def wait_ready(cluster: Cluster) -> None:
    """Until nginx answers GET /readyz 200 (an app server, the database through PgBouncer and
    Redis) and the replica is streaming from the primary."""
    url = f"http://127.0.0.1:{cluster.port('nginx')}/readyz"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    wait_until(f"GET {url} answering 200", ready, 60, cluster.logs / "app1.log")
    replica = cluster.parts["replica"]
    wait_until("the replica streaming from the primary", replica.streaming, 60, replica.log)


def up(cluster: Cluster) -> None:
    started = time.monotonic()
    ensure_packages()
    cluster.prepare()
    for name in ORDER:
        if name == "worker":
            # Before anything uses the database: the schema, owned by the API's role.
            migrate(cluster)
        cluster.parts[name].start()
    wait_ready(cluster)
    say(f"up in {time.monotonic() - started:.1f} s")
    for key, value in cluster.urls().items():
        print(f"{key}={value}")


def down(cluster: Cluster, purge: bool) -> None:
    # Every part is asked to stop even when one fails to: the rest must not be left running.
    failures = []
    for name in reversed(ORDER):
        try:
            cluster.parts[name].stop()
        except ClusterError as error:
            failures.append(f"{name}: {error}")
    if failures:
        raise ClusterError("\n".join(failures))
    if purge and cluster.dir.exists():
        if not cluster.exists():
            raise ClusterError(f"{cluster.dir} is not a cluster folder ({MARKER} missing)")
        say(f"removing {cluster.dir}")
        shutil.rmtree(cluster.dir)


def status(cluster: Cluster) -> None:
    for name in ORDER:
        part = cluster.parts[name]
        pid = part.pid()
        state = "running" if pid else "stopped"
        print(f"{name:<10} {state:<8} {pid or '-':>8} {part.port or '-'}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bin/cluster", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start everything, wait until ready, print its URLs")
    purge = commands.add_parser("down", help="stop everything")
    purge.add_argument("--purge", action="store_true", help="and remove the cluster folder")
    for verb in ("start", "stop"):
        one = commands.add_parser(verb, help=f"{verb} one part")
        one.add_argument("name", choices=ORDER)
    commands.add_parser("status", help="each part: name, state, pid, port")
    args = parser.parse_args(argv)
    try:
        cluster = Cluster()
        if args.command == "up":
            up(cluster)
        elif args.command == "down":
            down(cluster, args.purge)
        elif args.command == "status":
            status(cluster)
        elif args.command == "stop":
            cluster.parts[args.name].stop()
        else:
            cluster.prepare()
            cluster.parts[args.name].start()
    except ClusterError as error:
        say(f"error: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
