"""A device that does not read cannot stall the others, and costs bounded memory: once its
queue is full it is told to resume (close 4008) instead of being buffered without limit."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from pathlib import Path

import pytest

from tests.factories import Business, general_chat
from tests.realtime.live import WAIT, Live
from zunft.messages.service import do_send_message


def _wmem_max() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 2**20


def _conns(live: Live) -> dict[str, tuple[int, int, tuple[int, str] | None]]:
    """user id -> (queued frames, peak queue, closing) for every connection of the hub."""
    return live.call(
        lambda: {
            c.actor.user_id: (len(c.queue), c.peak_queue, c.closing)
            for feed in live.hub.feeds.values()
            for c in feed.conns
        }
    )


def test_a_device_that_never_reads_is_cut_loose_and_the_others_get_everything(
    live: Live, biz: Business, request: pytest.FixtureRequest
) -> None:
    chat = general_chat(live.ctx, biz)
    lead, worker, owner = biz.actor("lead"), biz.actor("worker"), biz.actor("owner")
    # The stalled device gets a small bound; the healthy one keeps the default, which is more
    # frames than this test sends, so it cannot be cut loose however slowly this machine
    # lets it read (the test is about the stalled one not holding it up).
    default_max, buffer_max = live.hub.buffer_max, 64
    live.hub.buffer_max = buffer_max  # connections made from now on get this bound
    # The stalled phone: a tiny receive window, a handshake by hand, and then nothing is
    # ever read from the socket again.
    stalled = socket.socket()
    request.addfinalizer(stalled.close)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    stalled.settimeout(WAIT)
    stalled.connect(("127.0.0.1", live.port))
    key = base64.b64encode(os.urandom(16)).decode()
    stalled.sendall(
        (
            "GET /api/v1/stream HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{live.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {live.token(worker)}\r\n\r\n"
        ).encode()
    )
    assert stalled.recv(12) == b"HTTP/1.1 101"

    async def registered() -> None:
        while worker.user_id not in {
            c.actor.user_id for f in live.hub.feeds.values() for c in f.conns
        }:
            await asyncio.sleep(0)

    live.run(registered())
    live.hub.buffer_max = default_max
    # More than the kernel buffers of both ends can hold: the server's send buffer may grow
    # to tcp_wmem's maximum (4 MB by default on Linux) whatever the receiver's window.
    size = 9000
    total = (_wmem_max() + 3 * 2**20) // size
    assert total < default_max
    with live.device(live.token(owner), max_queue=4 * total) as healthy:
        live.ctx.write(
            lambda tx: [
                do_send_message(tx, lead, chat, text=f"{i:04d} " + "x" * size) for i in range(total)
            ]
        )
        got = healthy.events(total)
        assert [f["data"]["text"][:4] for f in got] == [f"{i:04d}" for i in range(total)]
        live.settle()
        state = _conns(live)
        queued, peak, closing = state[worker.user_id]
        assert closing == (4008, "too slow: resume")
        assert queued == 0
        assert peak <= buffer_max
        assert state[owner.user_id][2] is None  # the healthy device goes on
