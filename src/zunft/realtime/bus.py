"""The bus: a doorbell that tells stream hubs "the journal of business T grew to seq N".

The journal in the database is the truth. The bus only says *that* something was committed,
so a hub knows to read it; a lost doorbell delays delivery until the next one or the hub's
periodic poll, it never loses an event. Two implementations:

- `Bus` (the default): in one process. The writer hands each committed batch to the hub
  directly, events included, so nothing has to be read back.
- `RedisBus` (ZUNFT_BUS_URL=redis://...): additionally rings every other process through
  Redis pub/sub. Only business ids and sequence numbers cross Redis, never content; ephemeral
  signals (typing, presence) carry user and chat ids. See docs/realtime.md for why Redis and
  not PostgreSQL LISTEN/NOTIFY.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from zunft.journal.chain import Event

log = logging.getLogger(__name__)


class BusListener(Protocol):
    """What a hub offers the bus. `on_local` runs in the writer thread; the others run on
    the hub's event loop."""

    def on_local(self, events: list[Event]) -> None: ...

    def on_doorbell(self, heads: dict[str, int]) -> None: ...

    def on_signal(self, tenant_id: str, frame: dict[str, Any]) -> None: ...

    def on_reconnect(self) -> None: ...


class Bus:
    """In-process bus: committed batches go to the subscribers of this process only."""

    kind = "local"

    def __init__(self) -> None:
        self._subscribers: list[Callable[[list[Event]], None]] = []
        # Usually one hub; tests may run two apps on one context.
        self.listeners: list[BusListener] = []

    def subscribe(self, fn: Callable[[list[Event]], None]) -> None:
        """Call fn(events) in the writer thread after each commit (tests, diagnostics)."""
        self._subscribers.append(fn)

    def publish(self, events: list[Event]) -> None:
        """Called by the writer thread after COMMIT with the batch's journal entries."""
        for fn in list(self._subscribers):
            fn(events)
        for listener in list(self.listeners):
            listener.on_local(events)

    async def start(self, listener: BusListener) -> None:
        self.listeners.append(listener)

    async def stop(self, listener: BusListener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    async def ring(self, heads: dict[str, int]) -> None:
        """Tell other processes the journal heads grew (nothing to do in one process)."""

    async def signal(self, tenant_id: str, frame: dict[str, Any]) -> None:
        """An ephemeral frame (typing, presence) for every process's connections."""
        for listener in list(self.listeners):
            listener.on_signal(tenant_id, frame)

    @property
    def connected(self) -> bool:
        return True


def make_bus(url: str, channel: str) -> Bus:
    if not url:
        return Bus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from zunft.realtime.redis_bus import RedisBus

        return RedisBus(url, channel)
    raise ValueError(f"unsupported bus URL {url!r}: use redis://host:port or leave it empty")
