"""The single writer: group commit, one failing write rolls back alone, events after commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from concurrent.futures import Future
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError

from tests.factories import Business, general_chat
from zunft.archive.verify import verify_all
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.db.tx import Tx
from zunft.errors import Invalid
from zunft.journal.chain import Event
from zunft.messages.service import do_send_message, get_history


def _hold_writer(ctx: AppContext) -> tuple[threading.Event, Future[None]]:
    """Occupy the writer until the returned event is set, so later writes queue up."""
    started, release = threading.Event(), threading.Event()

    def block(_tx: Tx) -> None:
        started.set()
        release.wait(timeout=30)

    fut = ctx.writer.submit(block)
    assert started.wait(timeout=30)
    return release, fut


def test_concurrent_writes_share_one_commit(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    worker = biz.actor("worker")
    release, blocker = _hold_writer(ctx)
    batches_before = ctx.writer.batches
    futures = [
        ctx.writer.submit(lambda tx, i=i: do_send_message(tx, worker, chat, text=f"Nr {i}"))
        for i in range(40)
    ]
    release.set()
    blocker.result()
    results = [f.result() for f in futures]
    # The held write's batch and then one batch for all 40 queued writes.
    assert ctx.writer.batches - batches_before <= 2
    assert [r["seq"] for r in results] == sorted(r["seq"] for r in results)
    assert len({r["id"] for r in results}) == 40


def test_a_failing_write_rolls_back_alone(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    worker = biz.actor("worker")
    published: list[Event] = []
    ctx.bus.subscribe(published.extend)

    def half_then_fail(tx: Tx) -> None:
        do_send_message(tx, worker, chat, text="halb geschrieben")
        raise Invalid("stop", code="stop")

    def count() -> int:
        return int(
            ctx.read(
                lambda rx: rx.conn.execute(
                    select(func.count()).select_from(s.messages)
                ).scalar_one()
            )
        )

    before = count()
    release, blocker = _hold_writer(ctx)
    ok1 = ctx.writer.submit(lambda tx: do_send_message(tx, worker, chat, text="vorher"))
    bad = ctx.writer.submit(half_then_fail)
    ok2 = ctx.writer.submit(lambda tx: do_send_message(tx, worker, chat, text="nachher"))
    release.set()
    blocker.result()
    first, second = ok1.result(), ok2.result()
    with pytest.raises(Invalid):
        bad.result()
    assert count() == before + 2
    assert second["seq"] == first["seq"] + 1  # the failed write left no gap in the journal
    texts = [e.payload.get("text") for e in published if e.kind == "message.sent"]
    assert texts == ["vorher", "nachher"]
    with ctx.engine.connect() as conn:
        assert all(r.ok for r in verify_all(conn, ctx.keys))


def test_nested_write_is_refused_not_deadlocked(ctx: AppContext) -> None:
    def nested(_tx: Tx) -> Any:
        return ctx.write(lambda tx: None)

    with pytest.raises(RuntimeError):
        ctx.write(nested)


def test_a_broken_connection_fails_its_batch_and_the_next_one_reconnects(
    ctx: AppContext, biz: Business
) -> None:
    chat = general_chat(ctx, biz)
    worker = biz.actor("worker")

    def break_connection(tx: Tx) -> None:
        do_send_message(tx, worker, chat, text="geht verloren")
        tx.conn.connection.dbapi_connection.close()  # type: ignore[union-attr]

    release, blocker = _hold_writer(ctx)
    doomed = ctx.writer.submit(break_connection)
    neighbour = ctx.writer.submit(
        lambda tx: do_send_message(tx, worker, chat, text="im selben Stapel")
    )
    release.set()
    blocker.result()
    for fut in (doomed, neighbour):
        with pytest.raises((DBAPIError, sqlite3.Error, psycopg.Error)):
            fut.result(timeout=30)
    after = ctx.write(lambda tx: do_send_message(tx, worker, chat, text="danach"))
    texts = [m["text"] for m in ctx.read(lambda rx: get_history(rx, worker, chat))["messages"]]
    assert texts == ["danach"]  # nothing of the failed batch was stored, nothing acknowledged lost
    assert after["seq"] > 0
    with ctx.engine.connect() as conn:
        assert all(r.ok for r in verify_all(conn, ctx.keys))


def test_after_stop_writes_are_refused_not_left_waiting(ctx: AppContext) -> None:
    ctx.writer.stop()
    with pytest.raises(RuntimeError):
        ctx.writer.submit(lambda tx: None)
    ctx.writer.start()  # the fixture closes the context, and that stops the writer again
    assert ctx.write(lambda tx: 42) == 42


def test_an_unreachable_database_fails_writes_instead_of_hanging(ctx: AppContext) -> None:
    from zunft.clock import FakeClock
    from zunft.db.engine import make_engine
    from zunft.db.writer import Writer

    engine = make_engine("postgresql+psycopg://zunft@127.0.0.1:1/nirgends")
    writer = Writer(engine, ctx.keys, FakeClock())
    writer.start()
    try:
        for _ in range(2):  # and the writer thread survives to answer the next one
            with pytest.raises(DBAPIError):
                writer.submit(lambda tx: None).result(timeout=30)
    finally:
        writer.stop()
        engine.dispose()


def test_callers_on_an_event_loop_are_answered_with_one_wake_up_per_batch(
    ctx: AppContext, biz: Business, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = general_chat(ctx, biz)
    worker = biz.actor("worker")
    wake_ups: list[int] = []

    async def scenario() -> tuple[list[Any], BaseException | None]:
        loop = asyncio.get_running_loop()
        plain = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any) -> Any:
            wake_ups.append(len(args[0]) if args and isinstance(args[0], list) else 0)
            return plain(callback, *args)

        monkeypatch.setattr(loop, "call_soon_threadsafe", counted)
        release, blocker = await asyncio.to_thread(_hold_writer, ctx)
        futures = [
            ctx.writer.asubmit(lambda tx, i=i: do_send_message(tx, worker, chat, text=f"A{i}"))
            for i in range(10)
        ]
        refused = ctx.writer.asubmit(
            lambda tx: do_send_message(tx, worker, "no-such-chat", text="x")
        )
        release.set()
        await asyncio.wrap_future(blocker)
        results = await asyncio.gather(*futures)
        try:
            await refused
        except Exception as exc:  # the refused one fails alone, with its own error
            return results, exc
        return results, None

    wake_ups_before = len(wake_ups)
    results, error = asyncio.run(scenario())
    assert [r["text"] for r in results] == [f"A{i}" for i in range(10)]
    assert [r["seq"] for r in results] == sorted(r["seq"] for r in results)
    assert type(error).__name__ == "NotFound"
    # The eleven answers of the one batch came with one call into the loop (the held write
    # was answered through its concurrent Future, which wrap_future adds a call for).
    batched = [n for n in wake_ups[wake_ups_before:] if n]
    assert batched == [11], wake_ups


def test_an_event_loop_caller_hears_of_a_stopped_writer(ctx: AppContext) -> None:
    ctx.writer.stop()
    try:

        async def submit() -> None:
            ctx.writer.asubmit(lambda tx: None)

        with pytest.raises(RuntimeError, match="not running"):
            asyncio.run(submit())
    finally:
        ctx.writer.start()


def test_a_write_failing_in_the_database_rolls_back_alone(ctx: AppContext, biz: Business) -> None:
    """A statement refused by the database itself (here a duplicate key) fails its own write
    only, also where statements go out without waiting for their results (PostgreSQL's
    pipeline: the error arrives at the write's sync, db/writer.py)."""
    from zunft.db.prepared import Prepared

    insert_member = Prepared(insert(s.chat_members))
    chat = general_chat(ctx, biz)
    worker = biz.actor("worker")

    def send_then_duplicate(tx: Tx) -> None:
        do_send_message(tx, worker, chat, text="halb geschrieben")
        insert_member.run(  # the worker is a member already: the primary key refuses it
            tx.conn,
            {
                "chat_id": chat,
                "user_id": worker.user_id,
                "tenant_id": worker.tenant_id,
                "joined_at": tx.now_ms,
                "last_read_seq": 0,
            },
        )

    release, blocker = _hold_writer(ctx)
    ok1 = ctx.writer.submit(lambda tx: do_send_message(tx, worker, chat, text="vorher"))
    bad = ctx.writer.submit(send_then_duplicate)
    ok2 = ctx.writer.submit(lambda tx: do_send_message(tx, worker, chat, text="nachher"))
    release.set()
    blocker.result()
    first, second = ok1.result(), ok2.result()
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
        bad.result()
    assert second["seq"] == first["seq"] + 1
    texts = [m["text"] for m in ctx.read(lambda rx: get_history(rx, worker, chat))["messages"]]
    assert "halb geschrieben" not in texts
    assert texts[-2:] == ["vorher", "nachher"]
    with ctx.engine.connect() as conn:
        assert all(r.ok for r in verify_all(conn, ctx.keys))
