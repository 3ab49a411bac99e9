"""The WebSocket stream, GET /api/v1/stream: one per logged-in device (docs/realtime.md).

Handshake: the Origin header must be the server's own (no cross-site WebSocket hijacking); the
device session comes from the session cookie (Origin then required) or an
`Authorization: Bearer` header. `?since=N` resumes after journal position N.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import WebSocket
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from zunft.accounts.actor import Actor
from zunft.accounts.sessions import do_touch_session, get_session_actor
from zunft.chats.service import do_mark_read
from zunft.context import AppContext
from zunft.customers.service import needs_consent
from zunft.db.tx import Rx
from zunft.errors import ZunftError
from zunft.realtime.hub import CLOSE_SESSION_ENDED, Conn, Hub, encode, event_frame
from zunft.realtime.snapshot import Snapshot, may_see, read_snapshot
from zunft.web.deps import SESSION_COOKIE, once_job
from zunft.web.errors import error_response
from zunft.web.models import MessageIn
from zunft.web.routes.messages import send_request

STREAM_PATH = "/api/v1/stream"
log = logging.getLogger(__name__)

MAX_SEQ = 2**63 - 1
MAX_INFLIGHT = 256  # writes of one connection waiting for the writer at once
TYPING_EVERY_MS = 2_000
CLOSE_TOO_BIG = 1009


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origin(ws: WebSocket, public_url: str) -> str:
    if public_url:
        return _origin_of(public_url)
    scheme = "https" if ws.url.scheme == "wss" else "http"
    return f"{scheme}://{ws.headers.get('host', '')}".lower()


async def _refuse(ws: WebSocket, status: int, code: str, message: str) -> None:
    # A plain HTTP answer to the handshake (the server supports the denial extension);
    # a client sees the status and the usual error body.
    await ws.send_denial_response(error_response(status, code, message))


def _authenticate(rx: Rx, token: str) -> tuple[Actor, bool]:
    """The session's actor, and whether it is a customer whose consent is not in force."""
    actor = get_session_actor(rx, token).actor
    return actor, actor.kind == "customer" and needs_consent(rx, actor) is not None


def _parse_since(raw: str | None) -> tuple[int | None, bool]:
    if raw is None or raw == "":
        return None, True
    try:
        since = int(raw, 10)
    except ValueError:
        return None, False
    if not 0 <= since <= MAX_SEQ:
        return None, False
    return since, True


async def stream(scope: Scope, receive: Receive, send: Send) -> None:
    """The endpoint. web/app.py calls it for websocket scopes on STREAM_PATH ahead of the
    routing and middleware stack: those cost several KB per connection, for nothing here."""
    ws = WebSocket(scope, receive, send)  # for the handshake only
    ctx: AppContext = ws.app.state.ctx
    hub: Hub | None = getattr(ws.app.state, "hub", None)
    if hub is None:
        await _refuse(ws, 503, "stream_unavailable", "The stream is not running.")
        return
    origin = ws.headers.get("origin")
    auth = ws.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        via_cookie = False
    else:
        token = ws.cookies.get(SESSION_COOKIE, "")
        via_cookie = True
    # Browsers send Origin on every WebSocket handshake and attach cookies whatever page
    # opened it: with a cookie, a missing or foreign Origin is refused.
    if (via_cookie and origin is None) or (
        origin is not None and origin.lower() != own_origin(ws, ctx.settings.public_url)
    ):
        await _refuse(ws, 403, "origin_refused", "This origin may not open the stream.")
        return
    if not token:
        await _refuse(ws, 401, "not_logged_in", "Please log in.")
        return
    try:
        actor, consent_due = await asyncio.to_thread(ctx.read, lambda rx: _authenticate(rx, token))
    except ZunftError as exc:
        await _refuse(ws, exc.status, exc.code, exc.message)
        return
    if consent_due:
        await _refuse(ws, 403, "consent_required", "Please read and accept the consent text first.")
        return
    if actor.needs_totp_setup:
        await _refuse(
            ws,
            403,
            "totp_setup_required",
            "Your business requires a second factor: please set it up first.",
        )
        return
    since, since_ok = _parse_since(ws.query_params.get("since"))
    batch = ws.query_params.get("batch") == "1"
    await ws.accept()
    # From here on the raw ASGI callables are enough; the WebSocket object (with its parsed
    # headers, cookies and query) is not kept for the life of the connection.
    session = Stream(ctx, hub, receive, send, actor, token)
    session.conn.batch = batch
    await session.run(since, since_ok)


class Stream:
    """One connected device: joining (snapshot), then the receive loop; a Conn's sender task
    writes everything the hub queues for it."""

    def __init__(
        self,
        ctx: AppContext,
        hub: Hub,
        receive: Receive,
        send: Send,
        actor: Actor,
        token: str,
    ) -> None:
        self.ctx = ctx
        self.hub = hub
        self._receive_raw = receive
        self._send_raw = send
        self.max_frame = ctx.settings.stream_max_frame_bytes
        # Writes of this connection submitted and not yet answered; at MAX_INFLIGHT the
        # connection reads no more frames until `room` is set again (TCP holds the client).
        # (made on first need: an idle connection costs no Event, docs/performance.md, W2).
        self.pending = 0
        self.room: asyncio.Event | None = None
        self.acks: set[asyncio.Task[Any]] = set()
        self.conn = Conn(
            actor,
            token,
            send=self.send_text,
            close=self._close,
            buffer_max=hub.buffer_max,
            now_ms=ctx.now_ms(),
        )

    async def send_text(self, text: str) -> None:
        await self._send_raw({"type": "websocket.send", "text": text})

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._send_raw({"type": "websocket.close", "code": code, "reason": reason})

    async def run(self, since: int | None, since_ok: bool) -> None:
        conn = self.conn
        try:
            await self.hub.register(conn)
            await self._join(since, since_ok)
            conn.start()
            await self._receive()
        except Exception:
            log.exception("stream: connection failed")
            await self._close(1011, "internal error: reconnect")
        finally:
            await self._finish()

    async def _join(self, since: int | None, since_ok: bool) -> None:
        conn, actor = self.conn, self.conn.actor
        snap: Snapshot = await asyncio.to_thread(
            self.ctx.read_snapshot,
            lambda rx: read_snapshot(rx, actor, since, self.hub.catchup_max),
        )
        send = self.send_text
        await send(
            encode(
                {
                    "type": "hello",
                    "seq": snap.head,
                    "user_id": actor.user_id,
                    "session_id": actor.session_id,
                    "resumed": snap.replay is not None,
                    "online": self.hub.online_users(actor.tenant_id)
                    if actor.kind == "staff"
                    else [],
                    "last_seen": snap.last_seen,
                }
            )
        )
        if not since_ok:
            await send(
                encode(
                    {
                        "type": "error",
                        "code": "invalid_resume",
                        "message": "since must be a whole number from 0; resynchronised.",
                    }
                )
            )
        elif snap.error is not None:
            await send(encode({"type": "error", "code": snap.error[0], "message": snap.error[1]}))
        if snap.replay is not None:
            for ev in snap.replay:
                if may_see(actor, snap.visible, ev):
                    await send(encode(event_frame(ev)))
        else:
            await send(encode({"type": "sync", "seq": snap.head, "chats": snap.chats or []}))
        await send(encode({"type": "ready", "seq": snap.head}))
        self.hub.go_live(conn, snap.head, snap.visible)

    async def _receive(self) -> None:
        conn = self.conn
        while conn.closing is None:
            room = self.room
            if room is not None and not room.is_set():
                await room.wait()
            message = await self._receive_raw()
            if message["type"] == "websocket.disconnect":
                return
            conn.last_heard = self.ctx.now_ms()
            text = message.get("text")
            if text is None:
                raw = message.get("bytes") or b""
                if len(raw) > self.max_frame:
                    conn.fail(CLOSE_TOO_BIG, "frame too large")
                    return
                self._error("invalid_frame", "Frames are JSON text.")
                continue
            if len(text) > self.max_frame:
                conn.fail(CLOSE_TOO_BIG, "frame too large")
                return
            try:
                frame = orjson.loads(text)
            except orjson.JSONDecodeError:
                self._error("invalid_frame", "A frame must be a JSON object.")
                continue
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                self._error("invalid_frame", "A frame must be a JSON object with a type.")
                continue
            self._handle(frame)

    def _error(self, code: str, message: str, **extra: Any) -> None:
        self.conn.push(encode({"type": "error", "code": code, "message": message, **extra}))

    def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind in ("pong", "ping"):
            if kind == "ping":
                self.conn.push(encode({"type": "pong"}))
        elif kind == "send":
            self._send(frame)
        elif kind == "read":
            self._read(frame)
        elif kind == "typing":
            self._typing(frame)
        else:
            self._error("invalid_frame", f"Unknown frame type {kind!r}.")

    def _send(self, frame: dict[str, Any]) -> None:
        """A message over the socket: the same validation and client-id idempotency as
        POST /chats/{id}/messages, so a retry over either path finds the first result."""
        actor = self.conn.actor
        fields = {k: v for k, v in frame.items() if k not in ("type", "chat_id")}
        chat_id = frame.get("chat_id")
        client_id = fields.get("client_id")
        if not isinstance(chat_id, str) or not chat_id:
            self._error("invalid_frame", "send needs chat_id.", client_id=client_id)
            return
        try:
            body = MessageIn.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            self._error("validation_error", f"{where}: {first.get('msg')}", client_id=client_id)
            return
        request, work = send_request(actor, chat_id, body)
        job = once_job(actor, body.client_id, request, work)

        # Submitted here, in the order the frames came: one device's messages are committed
        # in the order it wrote them.
        self._submit(
            job,
            lambda r: {
                "type": "ack",
                "client_id": body.client_id,
                "replayed": r[2],
                "message": r[1],
            },
            body.client_id,
        )

    def _read(self, frame: dict[str, Any]) -> None:
        actor = self.conn.actor
        chat_id, seq = frame.get("chat_id"), frame.get("seq")
        if not isinstance(chat_id, str) or not isinstance(seq, int) or isinstance(seq, bool):
            self._error("invalid_frame", "read needs chat_id and seq.")
            return
        if not 0 <= seq <= MAX_SEQ:
            self._error("invalid_frame", "seq is out of range.")
            return
        self._submit(
            lambda tx: do_mark_read(tx, actor, chat_id, seq),
            lambda r: {"type": "read", "chat_id": chat_id, "seq": r},
            None,
        )

    def _submit(self, job: Any, ack: Any, client_id: str | None) -> None:
        try:
            future = self.ctx.writer.asubmit(job)
        except RuntimeError:
            self._error("unavailable", "The server is shutting down; retry.", client_id=client_id)
            return
        self.pending += 1
        if self.pending >= MAX_INFLIGHT:
            if self.room is None:
                self.room = asyncio.Event()
            self.room.clear()  # _receive reads no further frame until some are answered

        def answered(done: asyncio.Future[Any]) -> None:
            self.pending -= 1
            if self.room is not None and self.pending < MAX_INFLIGHT:
                self.room.set()
            if done.cancelled():
                return
            exc = done.exception()
            if isinstance(exc, ZunftError):
                self._error(exc.code, exc.message, client_id=client_id)
            elif exc is not None:
                log.error("stream: a write failed", exc_info=exc)
                self._error("internal_error", "The write failed; retry.", client_id=client_id)
            else:
                self.conn.push(encode(ack(done.result())))

        future.add_done_callback(answered)

    def _typing(self, frame: dict[str, Any]) -> None:
        conn = self.conn
        chat_id = frame.get("chat_id")
        if not isinstance(chat_id, str) or conn.visible is None or chat_id not in conn.visible:
            self._error("not_found", "No such chat.")
            return
        now = self.ctx.now_ms()
        if conn.typing_at is None:
            conn.typing_at = {}
        if now - conn.typing_at.get(chat_id, -TYPING_EVERY_MS) < TYPING_EVERY_MS:
            return  # at most one typing signal per chat every two seconds per device
        conn.typing_at[chat_id] = now
        signal = {"type": "typing", "chat_id": chat_id, "user_id": conn.actor.user_id}
        task = asyncio.create_task(self.hub.bus.signal(conn.tenant_id, signal))
        self.acks.add(task)
        task.add_done_callback(self.acks.discard)

    async def _finish(self) -> None:
        conn = self.conn
        if conn.closing is None:
            conn.closing = (1000, "")
        sender = conn.sender
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        await self.hub.unregister(conn)
        session_id = conn.actor.session_id
        if session_id is not None and conn.closing[0] != CLOSE_SESSION_ENDED:
            # "Last seen" is when the device went away.
            with contextlib.suppress(RuntimeError):
                self.ctx.writer.submit(
                    lambda tx: do_touch_session(tx, session_id, self.ctx.settings.session_days)
                )
