"""A real HTTP server for the tests that need one (the tus client speaks HTTP over
sockets), and a TCP proxy that cuts a connection part-way, like a phone losing its network."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import uvicorn

from zunft.context import AppContext
from zunft.web.app import create_app


@contextmanager
def serve(ctx: AppContext) -> Iterator[str]:
    """uvicorn on a socket bound before it starts, so clients can connect at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(ctx), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class CuttingProxy:
    """Forwards TCP connections to `port`; the first request that starts with `method`
    is cut (both sides closed) after `cut_after` bytes went upstream."""

    def __init__(self, port: int, *, method: bytes = b"PATCH", cut_after: int) -> None:
        self.port = port
        self.method = method
        self.cut_after = cut_after
        self.cuts = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)
        self._accept.start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for t in self._threads:
            t.join(timeout=30)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.port))
            for target in (self._up, self._down):
                t = threading.Thread(target=target, args=(client, upstream), daemon=True)
                t.start()
                self._threads.append(t)

    def _up(self, client: socket.socket, upstream: socket.socket) -> None:
        sent = 0
        cutting: bool | None = None
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)
                    return
                if cutting is None:
                    cutting = data.startswith(self.method) and self.cuts == 0
                    if cutting:
                        self.cuts += 1
                if cutting and sent + len(data) >= self.cut_after:
                    upstream.sendall(data[: self.cut_after - sent])
                    # The network is gone: both ends just see the connection end.
                    for s in (upstream, client):
                        with suppress(OSError):
                            s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    return
                upstream.sendall(data)
                sent += len(data)
        except OSError:
            return

    def _down(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    client.shutdown(socket.SHUT_WR)
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            for s in (upstream, client):
                s.close()
