"""The search index: a follower of the journal, written by a thread of its own (under
`zunft serve`: by a process of its own, zunft.search.process, which this class then rings).

A send does not write its search postings: the single writer's transaction holds only what
must be durable before the send is acknowledged (message, journal entry, chat state). After
each commit the writer hands the batch's events to `SearchIndex.on_commit`; the indexer
thread turns `message.sent` / `message.edited` / `message.deleted` into postings (keyed
hashes of word stems, zunft.search.tokens) and erasures into removals, and stores how far it
got (`search_progress`) in the same transaction as the postings. Whatever it has not seen
(a restart, a restored backup, a second process's writes, a lost bus message) it reads back
from the journal, which stays the truth: the index can always be rebuilt from it.

Where the postings live:
- SQLite: in a database file of its own next to the main one (`zunft-search.sqlite3`), so
  the indexer has its own write lock and WAL and works on the second core while the writer
  commits. It is derived data, so its commits need no fsync (synchronous=NORMAL): after a
  power cut it may have lost its last transactions, and with them the progress it recorded,
  so it simply redoes them. Backups leave it out; a restored installation rebuilds it.
- PostgreSQL: in the main database, written by the indexer's own connection. Several
  `zunft serve` processes share it; each business's `search_progress` row is locked while
  its postings are written, so two indexers never apply the same entry twice.

Search stays consistent with what was acknowledged: `settle` waits until the index has
caught up with the business's journal head as it was when the search began, so a message
sent before a search is always found by it (tests rely on that, not on timing).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from zunft.crypto.envelope import Keyring, TenantCipher
from zunft.db import schema as s
from zunft.db.engine import make_engine, mark_writer, unmark_writer
from zunft.db.prepared import Prepared
from zunft.db.tx import Rx
from zunft.journal.chain import Event
from zunft.journal.read import iter_entries
from zunft.search.tokens import stems

if TYPE_CHECKING:
    from zunft.config import Settings
    from zunft.search.process import Child

log = logging.getLogger(__name__)

# Where the indexer runs (zunft.context.open_context): a thread of this process, a process of
# its own (zunft.search.process: `zunft serve`, so its work does not compete with the writer
# for the interpreter), or nowhere (commands that never search).
Indexer = Literal["thread", "process", "off"]

TOKEN = 16  # bytes of a posting's keyed hash
SENT, EDITED, DELETED = "message.sent", "message.edited", "message.deleted"
INDEXED = (SENT, EDITED, DELETED)
ERASING = ("retention.erased", "gdpr.erasure_requested", "gdpr.erasure_completed")
CATCH_UP_CHUNK = 2000  # journal entries read back per transaction
SETTLE_TIMEOUT_S = 5.0
# A search right after the server (or a new indexer process) started waits this much longer:
# the indexer has to start and look at every business before it reports anything.
STARTUP_S = 60.0
ROUND_S = 0.05  # commits gathered into one indexer round (docs/performance.md)

_p, _d, _g = s.search_postings, s.search_docs, s.search_progress
# Run on the driver's cursor (zunft.db.prepared): SQLAlchemy's parameter processing cost the
# indexer more than SQLite's own work for ~15 postings a message.
_INSERT_POSTINGS = Prepared(insert(_p))
_DELETE_POSTING = Prepared(
    delete(_p).where(
        _p.c.tenant_id == bindparam("t"), _p.c.token == bindparam("k"), _p.c.seq == bindparam("q")
    )
)
_INSERT_DOC = Prepared(insert(_d))
_SELECT_DOC = select(_d.c.seq, _d.c.chat_id, _d.c.tokens).where(
    _d.c.tenant_id == bindparam("t"), _d.c.message_id == bindparam("m")
)
_DELETE_DOC = delete(_d).where(_d.c.tenant_id == bindparam("t"), _d.c.message_id == bindparam("m"))

_STOP = object()


def index_url(database_url: str) -> str | None:
    """Where the postings of an SQLite database live; None: in the main database."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or database_url in (prefix, prefix + ":memory:"):
        return None
    path = Path(database_url[len(prefix) :])
    return prefix + str(path.with_name(f"{path.stem}-search{path.suffix or '.sqlite3'}"))


def index_path(database_url: str) -> Path | None:
    url = index_url(database_url)
    return None if url is None else Path(url[len("sqlite:///") :])


def tokens_of(cipher: TenantCipher, text: str) -> list[bytes]:
    return sorted(cipher.index_token("word", stem, TOKEN) for stem in stems(text))


class _Doc:
    """The postings of one message as the indexer is about to write them."""

    __slots__ = ("chat_id", "seq", "tokens")

    def __init__(self, seq: int, chat_id: str, tokens: list[bytes]) -> None:
        self.seq, self.chat_id, self.tokens = seq, chat_id, tokens


class SearchIndex:
    def __init__(
        self,
        main: Engine,
        keys: Keyring,
        database_url: str,
        *,
        on_progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self._main = main
        self._on_progress = on_progress  # the child process reports its progress with it
        self._keys = keys
        url = index_url(database_url)
        self._own_engine = url is not None
        # Derived data: commits without fsync (see the module docstring).
        self.engine = make_engine(url, durable=False) if url is not None else main
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._done: dict[str, int] = {}  # tenant -> journal seq the index has caught up with
        self._cond = threading.Condition()
        self.applied = 0  # journal entries turned into postings (benchmarks, tests)
        self._child: Child | None = None  # when it runs in a process
        self._started = time.monotonic()
        self._reported = False  # the (current) indexer has reported progress at least once

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, process: Settings | None = None) -> None:
        """Follow on a thread, or (`process`: the settings it opens the database with) in a
        child process that this one only rings (zunft.search.process)."""
        if self._thread is not None:
            return
        self.restarted()
        if self._own_engine:
            s.metadata.create_all(self.engine, tables=[_p, _d, _g])
        if process is None:
            target = self._run
        else:
            from zunft.search.process import Child

            child = self._child = Child(self, process)
            target = child.relay
        self._thread = threading.Thread(target=target, name="zunft-indexer", daemon=True)
        self._thread.start()
        self.kick_all()  # rebuild or finish whatever the journal has beyond us

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        if self._own_engine:
            self.engine.dispose()

    @property
    def child_pid(self) -> int | None:
        """The indexer process's id, when it runs in one."""
        return None if self._child is None else self._child.pid

    def kick(self, tenant_id: str) -> None:
        """Catch this business up with its journal (whatever the indexer was handed)."""
        self._queue.put(("tenant", tenant_id))

    def kick_all(self) -> None:
        self._queue.put(("all",))

    def restarted(self) -> None:
        """A new indexer starts: searches give it STARTUP_S to report first."""
        with self._cond:
            self._started, self._reported = time.monotonic(), False

    def advance(self, tenant_id: str, seq: int) -> None:
        """The index holds the business's journal up to `seq`: wake who waits for it."""
        with self._cond:
            self._reported = True
            if seq > self._done.get(tenant_id, -1):
                self._done[tenant_id] = seq
            self._cond.notify_all()
        if self._on_progress is not None:
            self._on_progress(tenant_id, seq)

    # --- what the rest of zunft calls ----------------------------------------------------

    def on_commit(self, events: list[Event]) -> None:
        """Called by the writer thread after each COMMIT (through the bus): just a hand-over."""
        self._queue.put(events)

    def settle(self, tenant_id: str, timeout: float = SETTLE_TIMEOUT_S) -> bool:
        """Wait until every journal entry the business had when this was called is indexed.
        False when the indexer is still behind after `timeout` (a rebuild of a large archive):
        the search then answers from what is indexed so far."""
        with self._main.connect() as conn:
            head = conn.execute(
                select(s.journal_heads.c.seq).where(s.journal_heads.c.tenant_id == tenant_id)
            ).scalar()
        if head is None:
            return True
        with self._cond:
            if self._done.get(tenant_id, -1) >= head:
                return True
        if self._thread is None:
            return False
        self.kick(tenant_id)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._done.get(tenant_id, -1) < head:
                limit = deadline if self._reported else max(deadline, self._started + STARTUP_S)
                left = limit - time.monotonic()
                if left <= 0:
                    log.warning("search index of %s is behind (%s)", tenant_id, head)
                    return False
                self._cond.wait(left)
        return True

    def find_seqs(
        self,
        tenant_id: str,
        tokens: Sequence[bytes],
        chats: Sequence[str],
        *,
        before: int | None,
        limit: int,
    ) -> list[int]:
        """Journal seqs of the messages in `chats` holding every token, newest first."""
        query = select(_p.c.seq).where(
            _p.c.tenant_id == tenant_id, _p.c.token.in_(tokens), _p.c.chat_id.in_(chats)
        )
        if before is not None:
            query = query.where(_p.c.seq < before)
        if len(tokens) > 1:
            query = query.group_by(_p.c.seq).having(func.count() == len(tokens))
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(_p.c.seq.desc()).limit(limit)).scalars())

    # --- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            items, stop = self.gather()
            try:
                self._round(items)
            except Exception:  # the journal stays the truth: the next round catches up
                log.exception("search indexer round failed")
            if stop:
                return

    def gather(self) -> tuple[list[Any], bool]:
        """The next round's work (blocking until there is some), and whether to stop after it."""
        item = self._queue.get()
        items = [item]
        # Commits arriving within ROUND_S go into one round: fewer, larger transactions
        # cost less per posting, and leave the writer more of the interpreter. A search
        # waiting in `settle` (a tuple item) or a stop ends the wait at once.
        deadline = time.monotonic() + ROUND_S
        while isinstance(items[-1], list):
            left = deadline - time.monotonic()
            try:
                items.append(
                    self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                )
            except queue.Empty:
                break
        while True:  # and whatever else is queued
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return [i for i in items if i is not _STOP], any(i is _STOP for i in items)

    @staticmethod
    def tenants_of(items: list[Any]) -> set[str] | None:
        """The businesses a round's items concern; None: all of them."""
        out: set[str] = set()
        for item in items:
            if isinstance(item, list):
                out.update(e.tenant_id for e in item)
            elif item[0] == "tenant":
                out.add(item[1])
            else:
                return None
        return out

    def _round(self, items: list[Any]) -> None:
        events: dict[str, list[Event]] = defaultdict(list)
        tenants: set[str] = set()
        for item in items:
            if isinstance(item, list):
                for e in item:
                    events[e.tenant_id].append(e)
            elif item[0] == "tenant":
                tenants.add(item[1])
            else:
                with self._main.connect() as conn:
                    tenants.update(conn.execute(select(s.journal_heads.c.tenant_id)).scalars())
        for tenant_id in [*events, *(t for t in tenants if t not in events)]:
            self._follow(tenant_id, events.get(tenant_id, []))

    def _follow(self, tenant_id: str, events: list[Event]) -> None:
        """Bring one business's index up to its journal: from the events at hand where they
        continue the index exactly, else from the journal itself."""
        while True:
            with self.engine.connect() as conn:
                if self._own_engine:
                    mark_writer(conn)  # BEGIN IMMEDIATE: one indexer per file at a time
                try:
                    with conn.begin():
                        done, more = self._step(conn, tenant_id, events)
                finally:
                    if self._own_engine:
                        unmark_writer(conn)
            self.advance(tenant_id, done)
            if not more:
                return
            events = []

    def _step(self, conn: Connection, tenant_id: str, events: list[Event]) -> tuple[int, bool]:
        position = self._position(conn, tenant_id)
        seq, erased_ms = position
        # The events at hand continue the index only up to the first gap (on PostgreSQL
        # another process's entries may lie between two of ours); the rest is read back.
        todo: list[Event] = []
        for e in events:
            if e.seq == seq + len(todo) + 1:
                todo.append(e)
            elif e.seq > seq + len(todo):
                break
        if todo:
            upto = todo[-1].seq
            more = any(e.seq > upto for e in events)
        else:
            todo, upto, more = self._read_back(tenant_id, seq)
        if upto <= seq:
            return seq, False
        cipher = self._keys.cipher(tenant_id)
        work = [e for e in todo if e.kind in INDEXED]
        if work:
            self._apply(conn, cipher, tenant_id, work)
        if any(e.kind in ERASING for e in todo):
            erased_ms = self._sweep_erased(conn, tenant_id, erased_ms)
        conn.execute(
            update(_g).where(_g.c.tenant_id == tenant_id).values(seq=upto, erased_ms=erased_ms)
        )
        self.applied += len(todo)
        return upto, more

    def _position(self, conn: Connection, tenant_id: str) -> tuple[int, int]:
        query = select(_g.c.seq, _g.c.erased_ms).where(_g.c.tenant_id == tenant_id)
        if conn.dialect.name == "postgresql":
            # Another process's indexer may hold the business: wait for it, then go on from
            # where it got to.
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                conn.execute(
                    pg_insert(_g)
                    .values(tenant_id=tenant_id, seq=0, erased_ms=0)
                    .on_conflict_do_nothing()
                )
            else:
                conn.execute(insert(_g).values(tenant_id=tenant_id, seq=0, erased_ms=0))
            row = conn.execute(query).first()
            assert row is not None
        return int(row.seq), int(row.erased_ms)

    def _read_back(self, tenant_id: str, after: int) -> tuple[list[Event], int, bool]:
        """The entries after `after` that change the index, read from the journal (payloads
        decrypted; an erased or shredded one is skipped: there is nothing left to find)."""
        with self._main.connect() as conn:
            head = conn.execute(
                select(s.journal_heads.c.seq).where(s.journal_heads.c.tenant_id == tenant_id)
            ).scalar()
            if head is None or head <= after:
                return [], after, False
            upto = min(head, after + CATCH_UP_CHUNK)
            entries = iter_entries(
                Rx(conn, self._keys, 0),
                tenant_id,
                after=after,
                upto=upto,
                kinds=INDEXED + ERASING,
                shredded_as_empty=True,
            )
            out = [e for e in entries if e.kind not in INDEXED or "message_id" in e.payload]
        return out, upto, upto < head

    def _apply(
        self, conn: Connection, cipher: TenantCipher, tenant_id: str, events: Iterable[Event]
    ) -> None:
        # Postings of the messages sent in this round go in with one executemany; an edit or
        # deletion of one of them first settles it in memory.
        new: dict[str, _Doc] = {}
        for e in events:
            p = e.payload
            mid = p.get("message_id")
            if not isinstance(mid, str):
                continue
            if e.kind == SENT:
                new[mid] = _Doc(
                    e.seq,
                    str(p.get("chat_id") or e.chat_id),
                    tokens_of(cipher, str(p.get("text") or "")),
                )
                continue
            doc = new.get(mid)
            if doc is None:
                doc = self._take_out(conn, tenant_id, mid)
            if doc is not None and e.kind == EDITED:
                doc.tokens = tokens_of(cipher, str(p.get("text") or ""))
                new[mid] = doc
            else:
                new.pop(mid, None)
        if not new:
            return
        _INSERT_DOC.run_many(
            conn,
            [
                {
                    "tenant_id": tenant_id,
                    "message_id": mid,
                    "seq": d.seq,
                    "chat_id": d.chat_id,
                    "tokens": b"".join(d.tokens),
                }
                for mid, d in new.items()
            ],
        )
        postings = [
            {"tenant_id": tenant_id, "token": k, "seq": d.seq, "chat_id": d.chat_id}
            for d in new.values()
            for k in d.tokens
        ]
        _INSERT_POSTINGS.run_many(conn, postings)

    def _take_out(self, conn: Connection, tenant_id: str, message_id: str) -> _Doc | None:
        row = conn.execute(_SELECT_DOC, {"t": tenant_id, "m": message_id}).first()
        if row is None:
            return None
        raw = bytes(row.tokens)
        tokens = [raw[i : i + TOKEN] for i in range(0, len(raw), TOKEN)]
        _DELETE_POSTING.run_many(conn, [{"t": tenant_id, "k": k, "q": row.seq} for k in tokens])
        conn.execute(_DELETE_DOC, {"t": tenant_id, "m": message_id})
        return _Doc(int(row.seq), str(row.chat_id), tokens)

    def _sweep_erased(self, conn: Connection, tenant_id: str, since_ms: int) -> int:
        """Take out every message erased since the last sweep (retention, GDPR)."""
        m = s.messages
        with self._main.connect() as main:
            rows = main.execute(
                select(m.c.id, m.c.erased_at).where(
                    m.c.tenant_id == tenant_id, m.c.erased_at >= since_ms
                )
            ).all()
        for r in rows:
            self._take_out(conn, tenant_id, r.id)
        return max([since_ms, *(int(r.erased_at) for r in rows)])
