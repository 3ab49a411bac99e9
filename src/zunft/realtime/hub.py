"""The hub: one per process. It follows each business's journal and fans every committed
entry out to the WebSocket connections of that business that may see it.

Per business a *feed* holds the highest seq delivered (`pos`) and a pump task that delivers
seq pos+1, pos+2, ... strictly in order. Entries arrive three ways: from this process's writer
(with the events, no read needed), as a doorbell from another process, or from the periodic
poll; whenever the next seq is not at hand, the pump reads it from the journal. So order and
completeness come from the journal, never from the bus.

A connection joins in three steps (see `Stream` in web/routes/stream.py): it registers with
the feed (from then on every entry the pump delivers is kept for it), reads a snapshot at some
journal head S (its visible chats, and either the entries after the client's resume position
or a compact catch-up), then drops the kept entries up to S and goes live. Whatever S turns out
to be, nothing is missed and nothing is sent twice.

Visibility is decided when an entry is delivered, from the connection's set of visible chats;
entries that change it (members added or removed, a new role, a revoked session) update it in
journal order, so a removed member gets the removal and nothing after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select

from zunft.accounts.actor import Actor
from zunft.accounts.sessions import get_session_actor
from zunft.chats.service import get_visible_chat_ids
from zunft.db import schema as s
from zunft.errors import Unauthenticated
from zunft.journal.chain import Event
from zunft.journal.read import get_entries
from zunft.realtime.bus import Bus

if TYPE_CHECKING:
    from zunft.context import AppContext

log = logging.getLogger(__name__)

# Entries whose chat decides who sees them.
CHAT_KINDS = frozenset(
    {
        "chat.created",
        "chat.member_added",
        "chat.member_removed",
        "chat.read",
        "message.sent",
        "message.edited",
        "message.deleted",
        "consent.withdrawn",  # staff see "Einwilligung widerrufen" at once
        "report.created",
        "report.status_changed",
        "report.escalated",
    }
)
# Entries every member of staff of the business gets (no content in their payloads).
TENANT_KINDS = frozenset({"user.profile_changed"})
FETCH = 500  # journal entries read at a time when the next ones are not at hand
BATCH_MAX = 256  # frames in one batch frame
YIELD_EVERY = 32  # entries the pump delivers before it lets the senders write
PING_EVERY_MS = 25_000
DEAD_AFTER_MS = 55_000  # nothing heard for this long: the connection is gone (issue: < 60 s)
PRESENCE_TTL_MS = 90_000  # another process's "online" lapses unless it repeats it

# Close codes (4000-4999 are the application's own; docs/realtime.md lists them).
CLOSE_SESSION_ENDED = 4001
CLOSE_TOO_SLOW = 4008
CLOSE_DEAD = 4009
CLOSE_SERVER = 1011


def encode(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


def event_frame(ev: Event) -> dict[str, Any]:
    return {
        "type": "event",
        "seq": ev.seq,
        "kind": ev.kind,
        "ts": ev.ts,
        "actor_id": ev.actor_id,
        "chat_id": ev.chat_id,
        "data": ev.payload,
    }


class Conn:
    """One connected device, as the hub sees it."""

    def __init__(
        self,
        actor: Actor,
        token: str,
        *,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        buffer_max: int,
        now_ms: int,
    ) -> None:
        self.actor = actor
        self.token = token
        self._send = send
        self._close = close
        self.buffer_max = buffer_max
        # None while joining: entries are kept raw in `early` until the snapshot is known.
        self.visible: set[str] | None = None
        self.early: list[Event] = []
        self.queue: deque[tuple[str, int]] = deque()
        self.position = 0  # highest seq given to the client (its resume position)
        # The snapshot's journal head: entries up to it reached the device with the snapshot,
        # even if this process's hub delivers them only later (it may lag the database).
        self.floor = -1
        self.closing: tuple[int, str] | None = None
        self.last_heard = now_ms
        self.last_ping = now_ms
        self.typing_at: dict[str, int] | None = None
        # An idle device has no sender task: one is started when a frame is queued and
        # ends when the queue is empty (memory per idle connection, benchmarks/fanout.py W2).
        self.sender: asyncio.Task[None] | None = None
        self.live = False  # frames are only written once joining has finished
        self.batch = False  # the device asked for batch frames (?batch=1)
        self.peak_queue = 0

    @property
    def tenant_id(self) -> str:
        return self.actor.tenant_id

    # -- fed by the hub ------------------------------------------------------------------

    def push(self, frame: str, seq: int = 0) -> None:
        if self.closing is not None:
            return
        if len(self.queue) >= self.buffer_max:
            # Too far behind: rather than buffer without limit, drop what is queued and tell
            # the device to resume from the last position it saw (close code 4008).
            self.queue.clear()
            self.fail(CLOSE_TOO_SLOW, "too slow: resume")
            return
        self.queue.append((frame, seq))
        if len(self.queue) > self.peak_queue:
            self.peak_queue = len(self.queue)
        if self.sender is None and self.live:
            self.sender = asyncio.get_running_loop().create_task(self._drain())

    def keep_early(self, ev: Event) -> None:
        if len(self.early) >= self.buffer_max:
            self.early.clear()
            self.fail(CLOSE_TOO_SLOW, "too slow: resume")
            return
        self.early.append(ev)

    def fail(self, code: int, reason: str) -> None:
        """End the connection: stop queueing, let the sender close the socket."""
        if self.closing is not None:
            return
        self.closing = (code, reason)
        if self.sender is not None and code in (CLOSE_TOO_SLOW, CLOSE_DEAD):
            # The sender may be stuck writing to a client that does not read.
            self.sender.cancel()
            self.sender = None
        if self.sender is None:
            self.sender = asyncio.get_running_loop().create_task(self._drain())

    def start(self) -> None:
        """Joining has finished: write what is queued, and from now on as it comes."""
        self.live = True
        if self.sender is None and (self.queue or self.closing is not None):
            self.sender = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.queue and self.closing is None:
                if self.batch and len(self.queue) > 1:
                    # Several frames waiting: one batch frame, one write, one system call.
                    take = min(len(self.queue), BATCH_MAX)
                    items = [self.queue.popleft() for _ in range(take)]
                    frame = '{"type":"batch","frames":[' + ",".join(f for f, _ in items) + "]}"
                    seq = max(q for _, q in items)
                else:
                    frame, seq = self.queue.popleft()
                await self._send(frame)
                if seq > self.position:
                    self.position = seq
            if self.closing is not None:
                await self._close(*self.closing)
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away under us; the receiver notices too
            log.debug("stream: sending failed", exc_info=True)
        finally:
            if self.sender is asyncio.current_task():
                self.sender = None

    # -- visibility ----------------------------------------------------------------------

    def offer(self, ev: Event, frame: Callable[[], str]) -> str | None:
        """Queue `ev` if this device may see it, keep the visible set in step with it, and
        say whether the hub must re-read something ("refresh" or "revalidate")."""
        visible = self.visible
        assert visible is not None
        if ev.seq <= self.floor:
            return None  # covered by the snapshot, visibility changes included
        me = self.actor.user_id
        kind = ev.kind
        data = ev.payload
        if kind in CHAT_KINDS:
            chat_id = ev.chat_id or ""
            joins = kind == "chat.member_added" and data.get("user_id") == me
            # Owner and office see every project chat and channel from its first entry on.
            created = (
                kind == "chat.created" and self.actor.is_admin and data.get("kind") != "direct"
            )
            if joins or created:
                visible.add(chat_id)
            if chat_id in visible:
                self.push(frame(), ev.seq)
            if kind == "consent.withdrawn" and data.get("customer_id") == me:
                self.fail(CLOSE_SESSION_ENDED, "consent withdrawn")
                return None
            if kind == "chat.member_removed" and data.get("user_id") == me:
                if self.actor.is_admin:
                    return "refresh"  # owner and office may still see it; ask the database
                visible.discard(chat_id)
            return None
        if kind in TENANT_KINDS and self.actor.kind == "staff":
            self.push(frame(), ev.seq)
            return None
        revoked = kind == "session.revoked" and data.get("session_id") == self.actor.session_id
        if revoked or (kind == "user.disabled" and data.get("user_id") == me):
            self.fail(CLOSE_SESSION_ENDED, "session ended")
        elif kind == "user.role_changed" and data.get("user_id") == me:
            return "refresh"
        elif (kind == "user.password_changed" and data.get("user_id") == me) or (
            kind == "tenant.settings_changed"
        ):
            return "revalidate"
        return None


@dataclass
class Feed:
    """One business's journal as this process follows it."""

    tenant_id: str
    pos: int = -1  # highest seq delivered; -1 until the head was read
    target: int = 0  # highest seq known to exist
    inbox: dict[int, Event] = field(default_factory=dict)
    conns: set[Conn] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    failed: bool = False


@dataclass
class Presence:
    """Who is online in a business: local connections counted, other processes remembered
    until their announcement lapses."""

    local: dict[str, int] = field(default_factory=dict)  # user -> open connections here
    remote: dict[tuple[str, str], int] = field(default_factory=dict)  # (origin, user) -> until


class Hub:
    def __init__(
        self,
        ctx: AppContext,
        bus: Bus,
        *,
        buffer_max: int,
        catchup_max: int,
        poll_seconds: int,
    ) -> None:
        self.ctx = ctx
        self.bus = bus
        self.buffer_max = buffer_max
        self.catchup_max = catchup_max
        self.poll_seconds = poll_seconds
        self.feeds: dict[str, Feed] = {}
        self.presence: dict[str, Presence] = {}
        self.origin = getattr(bus, "origin", "local")
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.bus.start(self)
        self._tasks.append(asyncio.create_task(self._every(5, self._tick), name="zunft-hub-tick"))
        if self.bus.kind != "local":
            self._tasks.append(
                asyncio.create_task(self._every(self.poll_seconds, self.poll), name="zunft-poll")
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for feed in list(self.feeds.values()):
            for conn in list(feed.conns):
                conn.fail(1001, "server going away")
            if feed.task is not None:
                feed.task.cancel()
        self.feeds.clear()
        await self.bus.stop(self)
        self.loop = None

    async def _every(self, seconds: float, fn: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await fn()
            except Exception:
                log.exception("hub: periodic task failed")

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _read(self, fn: Callable[[Any], Any]) -> Any:
        return await asyncio.to_thread(self.ctx.read, fn)

    # -- the bus listener ----------------------------------------------------------------

    def on_local(self, events: list[Event]) -> None:
        """Writer thread: hand the committed batch to the loop."""
        loop = self.loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            loop.call_soon_threadsafe(self._local, events)

    def _local(self, events: list[Event]) -> None:
        heads: dict[str, int] = {}
        for ev in events:
            heads[ev.tenant_id] = max(heads.get(ev.tenant_id, 0), ev.seq)
            feed = self.feeds.get(ev.tenant_id)
            if feed is not None and ev.seq > feed.pos:
                feed.inbox[ev.seq] = ev
        for tenant_id, seq in heads.items():
            feed = self.feeds.get(tenant_id)
            if feed is not None and seq > feed.target:
                feed.target = seq
                feed.wake.set()
        if self.bus.kind != "local":
            self._spawn(self.bus.ring(heads))

    def on_doorbell(self, heads: dict[str, int]) -> None:
        for tenant_id, seq in heads.items():
            feed = self.feeds.get(tenant_id)
            if feed is not None and seq > feed.target:
                feed.target = seq
                feed.wake.set()

    def on_reconnect(self) -> None:
        self._spawn(self.poll())
        self._spawn(self._announce_all())

    def on_signal(self, tenant_id: str, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "presence":
            self._remote_presence(tenant_id, frame)
            return
        feed = self.feeds.get(tenant_id)
        if feed is None:
            return
        text = encode(frame)
        chat_id = frame.get("chat_id")
        for conn in feed.conns:
            if conn.visible is None or conn.actor.user_id == frame.get("user_id"):
                continue
            if chat_id is None or chat_id in conn.visible:
                conn.push(text)

    # -- the pump ------------------------------------------------------------------------

    async def poll(self) -> None:
        """Read the journal heads of the businesses with connections here: the safety net
        for doorbells that never came."""
        tenants = [t for t, f in self.feeds.items() if f.pos >= 0]
        if not tenants:
            return
        heads = await self._read(lambda rx: read_heads(rx, tenants))
        self.on_doorbell(heads)

    def _feed(self, tenant_id: str) -> Feed:
        feed = self.feeds.get(tenant_id)
        if feed is None:
            feed = Feed(tenant_id)
            self.feeds[tenant_id] = feed
            feed.task = asyncio.create_task(self._pump(feed), name=f"zunft-feed-{tenant_id}")
        return feed

    async def _pump(self, feed: Feed) -> None:
        tenant_id = feed.tenant_id
        try:
            head = await self._read(lambda rx: read_heads(rx, [tenant_id]).get(tenant_id, 0))
            feed.pos = head
            feed.target = max(feed.target, head)
            for seq in [q for q in feed.inbox if q <= head]:
                del feed.inbox[seq]
            feed.ready.set()
            delivered = 0
            while True:
                if feed.pos >= feed.target:
                    feed.wake.clear()
                    await feed.wake.wait()
                    continue
                ev = feed.inbox.pop(feed.pos + 1, None)
                if ev is None:
                    fetched: list[Event] = await self._read(
                        functools.partial(_entries_after, tenant_id=tenant_id, after=feed.pos)
                    )
                    if not fetched:
                        feed.target = feed.pos  # rung for more than the journal holds
                        continue
                    for e in fetched:
                        if e.seq > feed.pos:
                            feed.inbox.setdefault(e.seq, e)
                    continue
                await self._deliver(feed, ev)
                feed.pos = ev.seq
                delivered += 1
                if delivered % YIELD_EVERY == 0 and (feed.inbox or feed.pos < feed.target):
                    # More to come: let the senders write what is queued before the next
                    # entry, so a large batch does not pile up in the queues of devices that
                    # read perfectly well.
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("hub: following the journal of %s failed", tenant_id)
            feed.failed = True
            feed.ready.set()
            for conn in list(feed.conns):
                conn.fail(CLOSE_SERVER, "internal error: reconnect")
            if self.feeds.get(tenant_id) is feed:
                del self.feeds[tenant_id]

    async def _deliver(self, feed: Feed, ev: Event) -> None:
        encoded: list[str] = []

        def frame() -> str:
            if not encoded:
                encoded.append(encode(event_frame(ev)))
            return encoded[0]

        followups: list[tuple[Conn, str]] = []
        for conn in list(feed.conns):
            if conn.visible is None:
                conn.keep_early(ev)
                continue
            action = conn.offer(ev, frame)
            if action is not None:
                followups.append((conn, action))
        for conn, action in followups:
            await self._recheck(conn, action)

    async def _recheck(self, conn: Conn, action: str) -> None:
        """Re-read a connection's session (and, for "refresh", its visible chats)."""
        token = conn.token

        def read(rx: Any) -> tuple[Actor, set[str] | None]:
            actor = get_session_actor(rx, token).actor
            chats = set(get_visible_chat_ids(rx, actor)) if action == "refresh" else None
            return actor, chats

        try:
            actor, chats = await self._read(read)
        except Unauthenticated:
            conn.fail(CLOSE_SESSION_ENDED, "session ended")
            return
        conn.actor = actor
        if chats is not None:
            conn.visible = chats

    # -- connections ---------------------------------------------------------------------

    async def register(self, conn: Conn) -> None:
        feed = self._feed(conn.tenant_id)
        feed.conns.add(conn)
        await feed.ready.wait()
        if feed.failed:
            raise RuntimeError("the journal of this business cannot be followed")
        presence = self.presence.setdefault(conn.tenant_id, Presence())
        count = presence.local.get(conn.actor.user_id, 0)
        presence.local[conn.actor.user_id] = count + 1
        if count == 0:
            await self.bus.signal(
                conn.tenant_id,
                {
                    "type": "presence",
                    "user_id": conn.actor.user_id,
                    "online": True,
                    "origin": self.origin,
                },
            )

    async def unregister(self, conn: Conn) -> None:
        feed = self.feeds.get(conn.tenant_id)
        if feed is not None and conn in feed.conns:
            feed.conns.discard(conn)
            if not feed.conns:
                if feed.task is not None:
                    feed.task.cancel()
                del self.feeds[conn.tenant_id]
        presence = self.presence.get(conn.tenant_id)
        if presence is None or conn.actor.user_id not in presence.local:
            return
        presence.local[conn.actor.user_id] -= 1
        if presence.local[conn.actor.user_id] <= 0:
            del presence.local[conn.actor.user_id]
            await self.bus.signal(
                conn.tenant_id,
                {
                    "type": "presence",
                    "user_id": conn.actor.user_id,
                    "online": False,
                    "last_seen": self.ctx.now_ms(),
                    "origin": self.origin,
                },
            )

    def go_live(self, conn: Conn, head: int, visible: set[str]) -> None:
        visible = {sys.intern(c) for c in visible}  # one copy of each id, not one per device
        """Finish joining: the snapshot was read at `head`; entries kept meanwhile that the
        snapshot already covers are dropped, the rest delivered, in order. Runs without
        awaiting, so nothing can slip in between."""
        conn.visible = visible
        conn.floor = head
        conn.position = max(conn.position, head)
        early, conn.early = conn.early, []
        for ev in early:
            action = conn.offer(ev, lambda ev=ev: encode(event_frame(ev)))  # type: ignore[misc]
            if action is not None:
                self._spawn(self._recheck(conn, action))

    def online_users(self, tenant_id: str) -> list[str]:
        presence = self.presence.get(tenant_id)
        if presence is None:
            return []
        now = self.ctx.now_ms()
        users = set(presence.local)
        users.update(u for (_o, u), until in presence.remote.items() if until > now)
        return sorted(users)

    def _remote_presence(self, tenant_id: str, frame: dict[str, Any]) -> None:
        origin = str(frame.get("origin", ""))
        presence = self.presence.setdefault(tenant_id, Presence())
        users = frame.get("users")
        if origin != self.origin:
            now = self.ctx.now_ms()
            if isinstance(users, list):  # a process repeating everyone it has online
                for user in users:
                    presence.remote[(origin, str(user))] = now + PRESENCE_TTL_MS
                return
            key = (origin, str(frame.get("user_id")))
            if frame.get("online"):
                presence.remote[key] = now + PRESENCE_TTL_MS
            else:
                presence.remote.pop(key, None)
        if isinstance(users, list):
            return
        feed = self.feeds.get(tenant_id)
        if feed is None:
            return
        user_id = frame.get("user_id")
        online = user_id in self.online_users(tenant_id)
        if online != bool(frame.get("online")):
            return  # "offline" from one device while another is still connected: no change
        text = encode({k: v for k, v in frame.items() if k != "origin"})
        for conn in feed.conns:
            if conn.visible is not None and conn.actor.kind == "staff":
                conn.push(text)

    async def _announce_all(self) -> None:
        for tenant_id, presence in list(self.presence.items()):
            if presence.local:
                await self.bus.signal(
                    tenant_id,
                    {"type": "presence", "users": sorted(presence.local), "origin": self.origin},
                )

    # -- heartbeats ----------------------------------------------------------------------

    async def _tick(self) -> None:
        self.heartbeat()
        if self.bus.kind != "local":
            await self._announce_all()

    def heartbeat(self) -> None:
        """Ping quiet connections, close dead ones, and tell every device how far the
        journal has come (so a device in a quiet chat resumes from near the head)."""
        now = self.ctx.now_ms()
        for feed in list(self.feeds.values()):
            for conn in list(feed.conns):
                if conn.visible is None:
                    continue
                if now - conn.last_heard >= DEAD_AFTER_MS:
                    conn.fail(CLOSE_DEAD, "no heartbeat")
                elif now - conn.last_ping >= PING_EVERY_MS:
                    conn.last_ping = now
                    if not conn.queue and feed.pos > conn.position:
                        conn.push(encode({"type": "pos", "seq": feed.pos}), feed.pos)
                    conn.push(encode({"type": "ping", "ts": now}))


def _entries_after(rx: Any, *, tenant_id: str, after: int) -> list[Event]:
    return get_entries(rx, tenant_id, after=after, limit=FETCH)


def read_heads(rx: Any, tenant_ids: list[str]) -> dict[str, int]:
    rows = rx.conn.execute(
        select(s.journal_heads.c.tenant_id, s.journal_heads.c.seq).where(
            s.journal_heads.c.tenant_id.in_(tenant_ids)
        )
    ).all()
    return {r.tenant_id: int(r.seq) for r in rows}
