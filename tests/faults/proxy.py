"""A TCP proxy in front of a real service (PostgreSQL, Redis) whose behaviour a test switches at
will, so that faults are made without touching the machine's services.

Modes, applied to new and open connections alike:
- ``pass``: bytes flow both ways;
- ``refuse``: new connections are reset at once and open ones are reset;
- ``hang``: connections are accepted and kept, and nothing more is forwarded either way (a
  server that takes the bytes and never answers).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MODES = ("pass", "refuse", "hang")


def _reset(sock: socket.socket) -> None:
    try:
        # Linger 0: close() sends a RST, as a crashed or firewalled peer would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def set(self, mode: str) -> None:
        assert mode in MODES, mode
        self.mode = mode

    def start(self) -> FaultProxy:
        self._spawn(self._accept)
        return self

    def close(self) -> None:
        # Threads first (each notices within 50 ms), then the sockets they wait on.
        self._closed.set()
        for thread in self._threads:
            thread.join(2)
        self._listener.close()
        with self._lock:
            for sock in self._open:
                _reset(sock)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            ready, _, _ = select.select([self._listener], [], [], 0.05)
            if not ready:
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                _reset(client)
                continue
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._open += [client, upstream]
        peers = {client: upstream, upstream: client}
        try:
            while not self._closed.is_set():
                if self.mode == "refuse":
                    break
                if self.mode == "hang":
                    self._closed.wait(0.05)  # read nothing, forward nothing
                    continue
                ready, _, _ = select.select(list(peers), [], [], 0.05)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            _reset(client)
            _reset(upstream)


@contextmanager
def fault_proxy(target_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(target_port).start()
    try:
        yield proxy
    finally:
        proxy.close()
