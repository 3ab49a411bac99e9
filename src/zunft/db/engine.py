"""The one database seam: engines for SQLite and PostgreSQL with the same durability promise.

SQLite: WAL (readers never block the writer), synchronous=FULL (a commit is on disk before we
answer), foreign keys on. The single writer opens its transactions with BEGIN IMMEDIATE so a
second process (`zunft admin …` while the server runs) waits instead of failing half-way.
PostgreSQL: its defaults (synchronous_commit=on) already mean durable on commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

WRITER = "zunft_writer"  # key in a pooled connection's info: the single writer's connection
PIPELINE = "zunft_pipeline"  # ...and the psycopg pipeline of its batch, while one runs
SQLITE_MMAP_BYTES = 1 << 30  # address space, not memory: pages stay in the OS page cache


def make_engine(url: str, *, pool_size: int = 8, durable: bool = True) -> Engine:
    """`durable=False` only for derived data that can be rebuilt (the search index file):
    its commits skip the fsync, and a power cut may lose the last of them, never corrupt."""
    if url.startswith("sqlite"):
        synchronous = "FULL" if durable else "NORMAL"
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=16,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy (not the driver) decide when transactions begin, so SAVEPOINTs work.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Read the database through a memory map instead of read() calls into each
            # connection's small page cache: search scans index pages, and this halves its
            # p99 (docs/performance.md). Reads only; writes and fsyncs are unchanged.
            cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cur.close()

        # Emit our own BEGIN (the driver's is off, see above). This is the dialect's do_begin
        # rather than a "begin" event listener: any engine event makes SQLAlchemy dispatch
        # (empty) execute events around every statement, ~7 us each on a small machine.
        setattr(engine.dialect, "do_begin", _sqlite_begin)  # noqa: B010 (one engine's dialect)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=16, pool_pre_ping=True)

    @event.listens_for(engine, "after_cursor_execute")
    def _sync_pipeline(conn: Connection, *_args: Any) -> None:
        # Inside the writer's pipeline (db/writer.py) a statement's result arrives only at
        # the next sync, and SQLAlchemy looks at it right after this event: sync here. Only
        # the writer's prepared statements (db/prepared.py) go out without waiting.
        pipe = conn.connection.info.get(PIPELINE)
        if pipe is not None:
            pipe.sync()

    return engine


def _sqlite_begin(dbapi_conn: Any) -> None:
    """BEGIN IMMEDIATE on the single writer's connection (it takes the write lock at once, so
    a `zunft admin …` command running next to the server waits instead of failing half-way),
    plain BEGIN (a consistent snapshot) everywhere else. `dbapi_conn` is the pool's proxy."""
    dbapi_conn.execute("BEGIN IMMEDIATE" if dbapi_conn.info.get(WRITER) else "BEGIN")


def mark_writer(conn: Connection) -> None:
    """Mark a checked-out connection as the single writer's (see `_sqlite_begin`)."""
    conn.connection.info[WRITER] = True


def unmark_writer(conn: Connection) -> None:
    if not conn.invalidated:
        conn.connection.info.pop(WRITER, None)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
