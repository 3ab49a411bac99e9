"""The single writer: every state change goes through one thread that batches concurrent
writes into one transaction (group commit) and answers each caller only after COMMIT.

Each write runs inside a SAVEPOINT, so one failing write (a validation error, a conflict)
rolls back alone and the rest of its batch still commits. After commit the batch's journal
events are handed to `on_commit` (the bus): events are never published for work that did
not commit. Shape after Datasette's write thread; see docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, bindparam, insert, update

from zunft.clock import Clock
from zunft.crypto.envelope import Keyring
from zunft.db import schema as s
from zunft.db.engine import PIPELINE, mark_writer, unmark_writer
from zunft.db.prepared import Prepared
from zunft.db.tx import Head, Tx
from zunft.journal.chain import Event

T = TypeVar("T")
log = logging.getLogger(__name__)

_STOP = object()
_SAVEPOINT = "SAVEPOINT zunft_write"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT zunft_write"
_RELEASE = "RELEASE SAVEPOINT zunft_write"
_UPDATE_HEAD = Prepared(
    update(s.journal_heads)
    .where(s.journal_heads.c.tenant_id == bindparam("b_tenant_id"))
    .values(seq=bindparam("b_seq"), head_hash=bindparam("b_hash"))
)
_INSERT_HEAD = Prepared(insert(s.journal_heads))


def _snapshot(heads: dict[str, Head]) -> dict[str, tuple[int, bytes, bool, bool]]:
    return {k: (h.seq, h.hash, h.exists, h.dirty) for k, h in heads.items()}


def _restore(heads: dict[str, Head], snapshot: dict[str, tuple[int, bytes, bool, bool]]) -> None:
    """Put the cached heads back as they were before a write whose savepoint rolled back."""
    heads.clear()
    for k, (seq, hash_, exists, dirty) in snapshot.items():
        heads[k] = Head(seq, hash_, exists, dirty)


def _close_nested(conn: Any) -> None:
    """A write that failed inside its own begin_nested() leaves SQLAlchemy's savepoint open;
    roll it back through SQLAlchemy so its bookkeeping matches the database again."""
    while conn.in_nested_transaction():
        conn.get_nested_transaction().rollback()


class _LoopReply:
    """The answer to a caller on an event loop (`Writer.asubmit`): an asyncio future, set on
    its loop. All such answers of a batch reach a loop with one wake-up (`_answer`), instead
    of one thread-safe call per write as `asyncio.wrap_future` makes."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self.loop = loop
        self.future = future


Reply = Future[Any] | _LoopReply


def _start(reply: Reply) -> bool:
    """False for a caller that has given up (a cancelled Future): its write is not run."""
    return True if isinstance(reply, _LoopReply) else reply.set_running_or_notify_cancel()


def _settle(answers: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """On the event loop: set the futures of one batch (a caller gone meanwhile is skipped)."""
    for future, ok, value in answers:
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


def _answer(outcomes: list[tuple[Reply, bool, Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for reply, ok, value in outcomes:
        if isinstance(reply, _LoopReply):
            by_loop.setdefault(reply.loop, []).append((reply.future, ok, value))
        elif ok:
            reply.set_result(value)
        else:
            reply.set_exception(value)
    for loop, answers in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, answers)
        except RuntimeError:  # the loop has closed: nobody is waiting there any more
            log.debug("%d answers for a closed event loop dropped", len(answers))


def _fail(batch: list[tuple[Any, Reply]], exc: BaseException) -> None:
    _answer(
        [
            (reply, False, exc)
            for _fn, reply in batch
            if isinstance(reply, _LoopReply) or not reply.done()
        ]
    )


@contextmanager
def _pipeline(conn: Any) -> Iterator[Any]:
    """On PostgreSQL, psycopg's pipeline mode for the batch: the prepared statements whose
    results nobody reads (INSERT, UPDATE, SAVEPOINT: most of a send) go out without waiting
    for the server, and each write ends with one sync, so its errors are still its own.
    Statements through SQLAlchemy sync at once (db/engine.py), since SQLAlchemy reads a
    result right after executing. A send waited for about ten round trips before
    (docs/performance.md). SQLite: nothing."""
    if conn.dialect.name != "postgresql":
        yield None
        return
    with conn.connection.dbapi_connection.pipeline() as pipe:
        conn.connection.info[PIPELINE] = pipe
        try:
            yield pipe
        finally:
            conn.connection.info.pop(PIPELINE, None)


def _discard(conn: Any) -> None:
    try:
        unmark_writer(conn)
        conn.invalidate()  # a broken connection must not go back into the pool
        conn.close()
    except Exception:  # closing what is already broken
        log.debug("discarding the writer's connection failed", exc_info=True)


class Writer:
    def __init__(
        self,
        engine: Engine,
        keys: Keyring,
        clock: Clock,
        *,
        max_batch: int = 256,
        on_commit: Callable[[list[Event]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._clock = clock
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.batches = 0  # counters for benchmarks and tests of the batching itself
        self.writes = 0

    def start(self) -> None:
        if self._thread is None:
            self._closed = False
            self._thread = threading.Thread(target=self._run, name="zunft-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def submit(self, fn: Callable[[Tx], T]) -> Future[T]:
        fut: Future[T] = Future()
        self._enqueue(fn, fut)
        return fut

    def asubmit(self, fn: Callable[[Tx], T]) -> asyncio.Future[T]:
        """Like `submit`, for a caller on the running event loop: the future is set on that
        loop, together with the others of its batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._enqueue(fn, _LoopReply(loop, future))
        return future

    def _enqueue(self, fn: Callable[[Tx], Any], reply: Reply) -> None:
        if threading.current_thread() is self._thread:
            # Waiting for our own queue from inside a write would wait forever.
            raise RuntimeError("a write cannot submit another write; call the domain function")
        with self._lock:  # never enqueue behind a writer that has stopped draining
            if self._thread is None or self._closed:
                raise RuntimeError("writer is not running")
            self._queue.put((fn, reply))

    @property
    def queued(self) -> int:
        """Writes submitted and not yet taken into a batch."""
        return self._queue.qsize()

    def write(self, fn: Callable[[Tx], T]) -> T:
        """Run fn in the writer's transaction and return its result once it is durable."""
        return self.submit(fn).result()

    async def awrite(self, fn: Callable[[Tx], T]) -> T:
        return await self.asubmit(fn)

    def _run(self) -> None:
        conn: Any = None
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch = [item]
                stop_after = False
                while len(batch) < self._max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop_after = True
                        break
                    batch.append(nxt)
                try:
                    if conn is None:
                        conn = self._engine.connect()
                    committed = self._commit_batch(conn, batch)
                except Exception as exc:  # no connection: every caller hears of it
                    log.exception("the writer cannot reach the database")
                    _fail(batch, exc)
                    committed = False
                if not committed and conn is not None:
                    # After a failed commit the connection may be broken (a restarted
                    # PostgreSQL, a full disk): the next batch starts on a fresh one.
                    _discard(conn)
                    conn = None
                if stop_after:
                    return
        finally:
            with self._lock:
                self._closed = True
            if conn is not None:
                _discard(conn)
            # Whatever is still queued will never run: say so instead of leaving callers
            # waiting forever.
            leftover = []
            while True:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is not _STOP:
                    leftover.append(nxt)
            _fail(leftover, RuntimeError("the writer has stopped"))

    def _commit_batch(self, conn: Any, batch: list[tuple[Callable[[Tx], Any], Reply]]) -> bool:
        """Run and commit one batch; False when the transaction as a whole failed."""
        heads: dict[str, Head] = {}
        outcomes: list[tuple[Reply, bool, Any]] = []
        events: list[Event] = []
        try:
            mark_writer(conn)  # each batch: a connection invalidated meanwhile is a new one
            with conn.begin(), _pipeline(conn) as pipe:
                # Savepoints go straight to the driver: SQLAlchemy's begin_nested() costs
                # ~0.2 ms a write in Python (more than the SQL itself), raw ones ~2 us.
                cursor = conn.connection.cursor()
                for fn, fut in batch:
                    if not _start(fut):
                        continue
                    snapshot = _snapshot(heads)
                    tx = Tx(conn, self._keys, int(self._clock.now().timestamp() * 1000), heads)
                    cursor.execute(_SAVEPOINT)
                    try:
                        result = fn(tx)
                        if pipe is not None:
                            pipe.sync()  # an error of this write's statements surfaces here
                    except BaseException as exc:
                        _close_nested(conn)
                        cursor.execute(_ROLLBACK_TO)
                        cursor.execute(_RELEASE)
                        _restore(heads, snapshot)
                        outcomes.append((fut, False, exc))
                        continue
                    cursor.execute(_RELEASE)
                    outcomes.append((fut, True, result))
                    events.extend(tx.events)
                self._flush_heads(conn, heads)
                cursor.close()
        except BaseException as exc:
            log.exception("group commit failed; %d writes rolled back", len(batch))
            _fail(batch, exc)  # every caller of the batch, also those not reached yet
            return False
        self.batches += 1
        self.writes += len(outcomes)
        _answer(outcomes)
        if events and self._on_commit is not None:
            try:
                self._on_commit(events)
            except Exception:  # the bus is a doorbell; the journal stays the truth
                log.exception("publishing %d committed events failed", len(events))
        return True

    @staticmethod
    def _flush_heads(conn: Any, heads: dict[str, Head]) -> None:
        for tenant_id, head in heads.items():
            if not head.dirty:
                continue
            if head.exists:
                _UPDATE_HEAD.run(
                    conn, {"b_tenant_id": tenant_id, "b_seq": head.seq, "b_hash": head.hash}
                )
            else:
                _INSERT_HEAD.run(
                    conn, {"tenant_id": tenant_id, "seq": head.seq, "head_hash": head.hash}
                )
