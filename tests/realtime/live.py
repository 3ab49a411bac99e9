"""A real server for stream tests: uvicorn on a free loopback port in a thread, serving the
test's AppContext (so the test's FakeClock drives heartbeats), and devices that talk to it
with the `websockets` client library."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from zunft.accounts.actor import Actor
from zunft.accounts.sessions import do_create_session
from zunft.context import AppContext
from zunft.messages.service import do_send_message
from zunft.realtime.hub import Hub
from zunft.web.app import create_app, server_options

T = TypeVar("T")
WAIT = 10.0  # seconds a test waits for a frame before it fails (a deadline, not a delay)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class Live:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.app = create_app(ctx)
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = f"ws://127.0.0.1:{self.port}/api/v1/stream"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **server_options(ctx),
        )
        self.server = _Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.state.hub
        return hub

    def start(self) -> None:
        self.thread.start()
        if not self.server.ready.wait(WAIT):
            raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT)

    def call(self, fn: Callable[[], T]) -> T:
        """Run fn on the server's event loop (where the hub lives) and return its result."""
        loop = self.hub.loop
        assert loop is not None
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return fut.result(WAIT)

    def run(self, coro: Any) -> Any:
        """Await a coroutine on the server's event loop."""
        loop = self.hub.loop
        assert loop is not None
        return asyncio.run_coroutine_threadsafe(coro, loop).result(WAIT)

    def settle(self) -> None:
        """Wait until the hub has delivered everything committed so far (its feeds' pumps
        have caught up with the journal): then "nothing arrived" means nothing will."""

        async def idle() -> None:
            while any(f.pos < f.target or not f.ready.is_set() for f in self.hub.feeds.values()):
                await asyncio.sleep(0)

        loop = self.hub.loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(idle(), loop).result(WAIT)

    def token(self, actor: Actor, device: str = "Testgerät") -> str:
        new = self.ctx.write(
            lambda tx: do_create_session(
                tx,
                tenant_id=actor.tenant_id,
                user_id=actor.user_id,
                kind="bearer",
                device_name=device,
                days=30,
            )
        )
        return str(new.token)

    def send(self, actor: Actor, chat_id: str, text: str) -> dict[str, Any]:
        return self.ctx.write(lambda tx: do_send_message(tx, actor, chat_id, text=text))

    @contextmanager
    def device(self, token: str, *, since: int | None = None, **kw: Any) -> Iterator[Device]:
        with Device.open(self, token, since=since, **kw) as dev:
            yield dev


class Device:
    """A connected device: frames in the order they came."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.hello: dict[str, Any] = {}
        self.position = 0
        self.pending: list[dict[str, Any]] = []  # the rest of a batch frame
        self.batches = 0  # batch frames received

    @classmethod
    @contextmanager
    def open(
        cls,
        live: Live,
        token: str,
        *,
        since: int | None = None,
        wait_ready: bool = True,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Iterator[Device]:
        url = live.url if since is None else f"{live.url}?since={since}"
        hdrs = {"Authorization": f"Bearer {token}", **(headers or {})}
        with connect(url, additional_headers=hdrs, open_timeout=WAIT, **kw) as ws:
            dev = cls(ws)
            if wait_ready:
                dev.hello = dev.next("hello")
                # Resumed: the position moves with the replayed entries (and "ready").
                # Otherwise the catch-up ("sync") stands for everything up to the head.
                dev.position = int(since or 0) if dev.hello["resumed"] else int(dev.hello["seq"])
            yield dev

    def recv(self, timeout: float = WAIT) -> dict[str, Any]:
        if self.pending:
            frame = self.pending.pop(0)
        else:
            frame = json.loads(self.ws.recv(timeout=timeout))
            if frame["type"] == "batch":
                self.batches += 1
                self.pending = list(frame["frames"])
                return self.recv(timeout)
        if isinstance(frame.get("seq"), int) and frame["type"] in ("event", "pos", "sync", "ready"):
            self.position = max(self.position, frame["seq"])
        return dict(frame)

    def next(self, *types: str, timeout: float = WAIT) -> dict[str, Any]:
        """The next frame of one of `types`, skipping pings and presence."""
        while True:
            frame = self.recv(timeout)
            if frame["type"] in types:
                return frame
            if frame["type"] == "ping":
                self.send({"type": "pong"})

    def events(self, count: int, kind: str = "message.sent") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < count:
            frame = self.next("event")
            if frame["kind"] == kind:
                out.append(frame)
        return out

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def closed_with(self, timeout: float = WAIT) -> int | None:
        """Read until the server closes; the close code."""
        try:
            while True:
                self.ws.recv(timeout=timeout)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd is not None else None

    def quiet(self) -> list[dict[str, Any]]:
        """Frames already waiting, without waiting for more (call after Live.settle and a
        ping round trip, which proves the server has written everything before it)."""
        self.send({"type": "ping"})
        frames: list[dict[str, Any]] = []
        while True:
            frame = self.recv()
            if frame["type"] == "pong":
                return frames
            frames.append(frame)


def refused_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status with which the server refused a handshake (fails if it accepted)."""
    from websockets.exceptions import InvalidStatus

    try:
        with connect(url, additional_headers=headers or {}, open_timeout=WAIT):
            pass
    except InvalidStatus as exc:
        return int(exc.response.status_code)
    raise AssertionError("the handshake was accepted")
