"""The app context: database, writer, keys, clock and settings, passed explicitly to whatever
needs them (no globals, no service locator)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine, select

from zunft.accounts.login import ShadowThrottle
from zunft.accounts.passwords import Hasher
from zunft.blobs.store import BlobStore, open_store
from zunft.clock import Clock, SystemClock
from zunft.config import Settings
from zunft.crypto.envelope import Keyring
from zunft.crypto.kek import load_kek, read_kek
from zunft.crypto.rotate import finish_rotation
from zunft.db import schema as s
from zunft.db.engine import make_engine
from zunft.db.migrate import upgrade
from zunft.db.tx import Rx, Tx
from zunft.db.writer import Writer
from zunft.realtime.bus import Bus, make_bus
from zunft.search.index import Indexer, SearchIndex

T = TypeVar("T")


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    keys: Keyring
    writer: Writer
    search: SearchIndex  # the search index, following the journal (zunft.search.index)
    clock: Clock
    hasher: Hasher
    bus: Bus = field(default_factory=Bus)
    # Throttle state of e-mail addresses without an account (accounts/login.py).
    login_shadow: ShadowThrottle = field(default_factory=ShadowThrottle)
    blobs: BlobStore | None = None  # file contents, encrypted (zunft.blobs)

    def now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def read(self, fn: Callable[[Rx], T]) -> T:
        with self.engine.connect() as conn:
            return fn(Rx(conn, self.keys, self.now_ms()))

    def read_snapshot(self, fn: Callable[[Rx], T]) -> T:
        """Like `read`, but every query sees the same committed state (SQLite's reader BEGIN
        does that already; PostgreSQL needs REPEATABLE READ)."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return fn(Rx(conn, self.keys, self.now_ms()))

    def write(self, fn: Callable[[Tx], T]) -> T:
        return self.writer.write(fn)

    def close(self) -> None:
        self.writer.stop()
        self.search.stop()
        self.engine.dispose()


def open_keyring(settings: Settings, engine: Engine) -> Keyring:
    """The KEK and the business keys it unwraps, read from `engine` on first use."""
    kek = load_kek(settings.kek, settings.data_path)

    def load_keys(tenant_id: str) -> list[tuple[int, bytes]]:
        with engine.connect() as conn:
            rows = conn.execute(
                select(s.tenant_keys.c.key_id, s.tenant_keys.c.wrapped).where(
                    s.tenant_keys.c.tenant_id == tenant_id
                )
            ).all()
        return [(r.key_id, r.wrapped) for r in rows]

    def load_content_key(tenant_id: str, key_id: bytes) -> bytes | None:
        # A destroyed key (wrapped NULL) and an unknown one look the same: unreadable.
        with engine.connect() as conn:
            return conn.execute(
                select(s.content_keys.c.wrapped).where(
                    s.content_keys.c.id == key_id, s.content_keys.c.tenant_id == tenant_id
                )
            ).scalar()

    return Keyring(
        kek,
        load_keys,
        load_content_key,
        reread=lambda: read_kek(settings.kek, settings.data_path),
    )


def open_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    hasher: Hasher | None = None,
    migrate: bool = True,
    indexer: Indexer = "thread",
) -> AppContext:
    """Open the database (migrating it), the keys and the writer thread, and the search
    indexer (zunft.search.index): on a thread of this process, in a process of its own
    (`zunft serve`), or "off" for commands that never search and leave it to the server."""
    # The data directory holds the key file and the database: nobody else's business.
    settings.data_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    if migrate:
        upgrade(engine)
    finish_rotation(engine, settings.kek, settings.data_path)
    keys = open_keyring(settings, engine)
    clock = clock or SystemClock()
    bus = make_bus(settings.bus_url, settings.bus_channel)
    search = SearchIndex(engine, keys, settings.effective_database_url)
    if indexer != "off":
        bus.subscribe(search.on_commit)
        search.start(process=settings if indexer == "process" else None)
    writer = Writer(engine, keys, clock, max_batch=settings.group_commit_max, on_commit=bus.publish)
    writer.start()
    return AppContext(
        settings=settings,
        engine=engine,
        keys=keys,
        writer=writer,
        search=search,
        clock=clock,
        hasher=hasher
        or Hasher(memory_kib=settings.argon2_memory_kib, time_cost=settings.argon2_time_cost),
        bus=bus,
        blobs=open_store(
            settings.blob_url,
            settings.data_path,
            endpoint=settings.s3_endpoint,
            min_free_bytes=int(settings.blob_min_free_mb) * 1024 * 1024,
        ),
    )
