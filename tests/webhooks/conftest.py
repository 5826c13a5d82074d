"""A real HTTP receiver for webhook tests: a threaded server on loopback that records every
request and answers as the test tells it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tenants.models import Tenant
from webhooks.services import endpoint_create


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Called per request: returns (status, body, seconds to wait before answering).
    answer: Callable[[Received], tuple[int, bytes, float]] = lambda _: (200, b"ok", 0.0)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), (
                f"{len(self.received)} request(s) arrived, {count} expected"
            )
            return list(self.received)


@pytest.fixture
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    """make_receiver() -> another receiver on its own port (stopped after the test)."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(_serving())


@pytest.fixture
def receiver(make_receiver) -> Receiver:
    return make_receiver()


@contextmanager
def _serving() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            got = Received(
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
                time.monotonic(),
            )
            rec = box["r"]
            with rec.arrived:
                rec.received.append(got)
                rec.arrived.notify_all()
            status, body, delay = rec.answer(got)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("location", "/elsewhere")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the sender gave up (a timeout test)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box["r"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def subscribe(receiver: Receiver):
    """subscribe(tenant, types=()) -> (endpoint, secret), posting to the receiver."""

    def make(tenant: Tenant, types=(), url: str | None = None):
        return endpoint_create(tenant_id=tenant.pk, url=url or receiver.url, event_types=types)

    return make
