"""Scale-out and crashes with real processes: two `zunft serve` on one PostgreSQL and one
Redis (a device on one process gets what is sent through the other, also across a Redis
outage), and kill -9 during a burst of sends (nothing acknowledged is lost; resending with
the same client ids creates no duplicates)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.factories import Business, general_chat, make_business
from tests.realtime.live import WAIT, Device
from tests.realtime.procs import RedisServer, ZunftServer
from zunft.accounts.actor import Actor
from zunft.accounts.sessions import do_create_session
from zunft.config import Settings
from zunft.context import AppContext, open_context
from zunft.ids import new_token


@pytest.fixture
def real_ctx(settings: Settings) -> Iterator[AppContext]:
    """The test's own view of the database, on the real clock (the servers use it too)."""
    context = open_context(settings, migrate=False)
    yield context
    context.close()


def _token(ctx: AppContext, actor: Actor) -> str:
    new = ctx.write(
        lambda tx: do_create_session(
            tx,
            tenant_id=actor.tenant_id,
            user_id=actor.user_id,
            kind="bearer",
            device_name="Test",
            days=1,
        )
    )
    return str(new.token)


def _post(server: ZunftServer, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = server.request("POST", f"/api/v1{path}", body, token)
    assert status in (200, 201), answer
    return dict(answer)


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "ZUNFT_DATA_DIR": str(settings.data_path),
        "ZUNFT_DATABASE_URL": settings.database_url,
        **extra,
    }


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_processes_one_database_one_redis(
    real_ctx: AppContext, settings: Settings, tmp_path: Path
) -> None:
    biz: Business = make_business(real_ctx)
    chat = general_chat(real_ctx, biz)
    lead_token = _token(real_ctx, biz.actor("lead"))
    worker_token = _token(real_ctx, biz.actor("worker"))
    office_token = _token(real_ctx, biz.actor("office"))
    redis = RedisServer().start()
    env = _env(
        settings,
        ZUNFT_BUS_URL=redis.url,
        ZUNFT_BUS_CHANNEL=f"zunft-test-{new_token()[:8]}",
        ZUNFT_STREAM_POLL_SECONDS="1",
    )
    a = ZunftServer(env, tmp_path / "a.log").start()
    b = ZunftServer(env, tmp_path / "b.log").start()
    try:
        headers_w = {"Authorization": f"Bearer {worker_token}"}
        headers_o = {"Authorization": f"Bearer {office_token}"}
        with (
            connect(a.ws, additional_headers=headers_w, open_timeout=WAIT) as ws_a,
            connect(b.ws, additional_headers=headers_o, open_timeout=WAIT) as ws_b,
        ):
            on_a, on_b = Device(ws_a), Device(ws_b)
            on_a.next("ready")
            on_b.next("ready")
            sent: list[int] = []

            def send(i: int) -> None:
                body = {"client_id": f"msg-{i:05d}", "text": f"Nachricht {i}"}
                sent.append(_post(b, lead_token, f"/chats/{chat}/messages", body)["seq"])

            for i in range(30):
                send(i)
            assert [f["seq"] for f in on_a.events(30)] == sent[:30]
            # Redis goes away for a while; the sends go on.
            redis.stop()
            for i in range(30, 50):
                send(i)
            redis.start()
            for i in range(50, 55):
                send(i)
            assert [f["seq"] for f in on_a.events(25)] == sent[30:]
            assert [f["seq"] for f in on_b.events(55)] == sent
            # Nothing arrives twice: the next event after a marker is the marker itself.
            send(55)
            assert [f["seq"] for f in on_a.events(1)] == [sent[55]]
    finally:
        a.stop()
        b.stop()
        redis.stop()


def test_kill_9_during_a_burst_loses_nothing_acknowledged(
    real_ctx: AppContext, settings: Settings, tmp_path: Path
) -> None:
    biz: Business = make_business(real_ctx)
    chat = general_chat(real_ctx, biz)
    worker = biz.actor("worker")
    token = _token(real_ctx, worker)
    real_ctx.close()  # the server owns the database from now on (SQLite: one writer)
    total = 600
    server = ZunftServer(_env(settings), tmp_path / "serve.log").start()
    headers = {"Authorization": f"Bearer {token}"}
    acked: dict[str, str] = {}  # client id -> message id
    enough = threading.Event()

    def frame(i: int) -> dict[str, Any]:
        return {
            "type": "send",
            "chat_id": chat,
            "client_id": f"burst-{i:05d}",
            "text": f"Foto {i} hochgeladen",
        }

    with connect(server.ws, additional_headers=headers, open_timeout=WAIT) as ws:
        dev = Device(ws)
        dev.next("ready")

        def read_acks() -> None:
            try:
                while True:
                    f = dev.next("ack")
                    acked[f["client_id"]] = f["message"]["id"]
                    if len(acked) >= 100:
                        enough.set()
            except (ConnectionClosed, TimeoutError):
                enough.set()

        reader = threading.Thread(target=read_acks)
        reader.start()
        try:
            for i in range(total):
                dev.send(frame(i))
        except ConnectionClosed:
            pass
        assert enough.wait(WAIT)
        server.kill()  # in the middle of the burst
        reader.join(WAIT)
    assert 100 <= len(acked) < total, "the kill should land while sends are in flight"

    server = ZunftServer(_env(settings), tmp_path / "serve2.log").start()
    try:
        with connect(server.ws, additional_headers=headers, open_timeout=WAIT) as ws:
            dev = Device(ws)
            dev.next("ready")
            for i in range(total):  # the phone resends everything it has no ack for (and more)
                dev.send(frame(i))
            again: dict[str, str] = {}
            while len(again) < total:
                f = dev.next("ack")
                again[f["client_id"]] = f["message"]["id"]
    finally:
        server.stop()
    # Every acknowledged message survived with the id it was acknowledged with ...
    assert {c: again[c] for c in acked} == acked
    # ... and the chat holds each client id's message exactly once.
    check = open_context(settings, migrate=False)
    try:
        from sqlalchemy import func, select

        from zunft.db import schema as s

        count = check.read(
            lambda rx: rx.conn.execute(
                select(func.count()).select_from(s.messages).where(s.messages.c.chat_id == chat)
            ).scalar_one()
        )
    finally:
        check.close()
    assert count == total
    assert len(set(again.values())) == total
