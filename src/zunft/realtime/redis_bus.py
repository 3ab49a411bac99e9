"""The Redis pub/sub bus for several app processes (ZUNFT_BUS_URL=redis://host:port).

Every process subscribes to one channel. After a commit the committing process delivers to
its own connections directly (like the in-process bus) and publishes the new journal heads;
the other processes read the entries from the database. Pub/sub delivers at most once: while
Redis is away, doorbells are lost. So after every (re)connection the hub polls the journal
heads of the businesses it serves, and it polls every ZUNFT_STREAM_POLL_SECONDS anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from zunft.ids import new_token
from zunft.realtime.bus import Bus, BusListener

log = logging.getLogger(__name__)

_RETRY_MIN = 0.1
_RETRY_MAX = 2.0


class RedisBus(Bus):
    kind = "redis"

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.url = url
        self.channel = f"{channel}:bus"
        self.origin = new_token()[:16]  # tells our own messages apart from other processes'
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self, listener: BusListener) -> None:
        await super().start(listener)
        if self._task is not None:
            return
        self._client = aioredis.from_url(
            self.url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=10
        )
        self._task = asyncio.create_task(self._listen(), name="zunft-redis-bus")

    async def stop(self, listener: BusListener) -> None:
        await super().stop(listener)
        if self.listeners:
            return
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._connected = False

    async def _send(self, message: dict[str, Any]) -> None:
        if self._client is None:
            return
        try:
            await self._client.publish(self.channel, json.dumps(message, separators=(",", ":")))
        except (RedisError, OSError) as exc:
            # A doorbell that cannot be rung is only a delay: the other processes poll the
            # journal when they reconnect and every few seconds.
            log.warning("bus: could not publish to Redis (%s)", exc)

    async def ring(self, heads: dict[str, int]) -> None:
        await self._send({"o": self.origin, "k": "d", "h": heads})

    async def signal(self, tenant_id: str, frame: dict[str, Any]) -> None:
        await super().signal(tenant_id, frame)  # our own connections first, without Redis
        await self._send({"o": self.origin, "k": "s", "t": tenant_id, "f": frame})

    async def _listen(self) -> None:
        delay = _RETRY_MIN
        while True:
            client = aioredis.from_url(self.url, socket_connect_timeout=1, health_check_interval=10)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if not self._connected:
                    log.info("bus: subscribed to Redis channel %s", self.channel)
                self._connected = True
                delay = _RETRY_MIN
                # Whatever was rung while we were away is in the journal: look now.
                for listener in list(self.listeners):
                    listener.on_reconnect()
                while True:
                    message = await pubsub.get_message(timeout=30)
                    if message is None:
                        await pubsub.ping()  # a dead connection shows itself here
                        continue
                    if message.get("type") == "message":  # not the answers to pings
                        self._dispatch(message.get("data"))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self._connected:
                    log.warning("bus: lost Redis (%s); retrying", exc)
                self._connected = False
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)

    def _dispatch(self, data: Any) -> None:
        try:
            message = json.loads(data)
            origin, kind = message.get("o"), message.get("k")
            if kind == "d":
                heads = {str(t): int(n) for t, n in message["h"].items()}
            elif kind == "s":
                tenant_id, frame = str(message["t"]), dict(message["f"])
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("bus: ignored a malformed message")
            return
        if origin == self.origin:
            return  # our own: delivered locally already
        for listener in list(self.listeners):
            if kind == "d":
                listener.on_doorbell(heads)
            elif kind == "s":
                listener.on_signal(tenant_id, frame)
