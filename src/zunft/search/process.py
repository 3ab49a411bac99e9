"""The search indexer in a process of its own (`zunft serve`).

Python runs one thread at a time per process. On a thread of the server, the indexer's work
(stemming, keyed hashes, binding ~15 postings per message) took turns with the single writer
and made every send slower (docs/performance.md). In a child process it runs on the other
core instead. The server only rings it: "business T has new journal entries" (ids, never
content), through a pipe. The child reads those entries back from the journal itself (with
its own connection and keyring), writes the postings exactly as the thread would
(`SearchIndex`), and answers how far each business is indexed, which `SearchIndex.settle`
in the server waits for.

If the child dies, the server starts a new one, which catches up from `search_progress`:
the index may lag meanwhile, never lose anything. Stopping the server stops the child in
order; a child whose parent vanished sees its pipe close and ends.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zunft.config import Settings
    from zunft.search.index import SearchIndex

log = logging.getLogger(__name__)

ALL = "all"
STOP_WAIT_S = 30.0


class Child:
    """The server's side: relays the index's queue to the child, hears its progress."""

    def __init__(self, index: SearchIndex, settings: Settings) -> None:
        self._index = index
        self._values = dict(settings.values)
        self._lock = threading.Lock()  # the pipe to the child and the process itself
        self._stopping = False
        self._spawn()

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        to_child_r, to_child_w = ctx.Pipe(duplex=False)
        from_child_r, from_child_w = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=child_main,
            args=(self._values, to_child_r, from_child_w),
            name="zunft-indexer",
            daemon=True,
        )
        proc.start()
        to_child_r.close()
        from_child_w.close()
        self._to_child, self._proc = to_child_w, proc
        threading.Thread(
            target=self._listen,
            args=(from_child_r, proc),
            name="zunft-indexer-reports",
            daemon=True,
        ).start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def relay(self) -> None:
        """The index's thread: hand each round's businesses to the child until stopped."""
        while True:
            items, stop = self._index.gather()
            tenants = self._index.tenants_of(items)
            if tenants is None:
                self._send(ALL)
            elif tenants:
                self._send(sorted(tenants))
            if stop:
                self._stop()
                return

    def _send(self, message: Any) -> None:
        with self._lock:
            try:
                self._to_child.send(message)
            except OSError:  # the child is gone; _listen starts a new one, which catches up
                log.warning("search indexer process is not running")

    def _listen(self, reports: Connection, proc: Any) -> None:
        while True:
            try:
                tenant_id, seq = reports.recv()
            except (EOFError, OSError):
                break
            self._index.advance(tenant_id, seq)
        reports.close()
        with self._lock:
            if self._stopping or proc is not self._proc:
                return
            log.error(
                "search indexer process ended (exit code %s); starting a new one", proc.exitcode
            )
            proc.join(timeout=1)
            self._to_child.close()
            self._index.restarted()
            self._spawn()
        self._send(ALL)

    def _stop(self) -> None:
        with self._lock:
            self._stopping = True
            with contextlib.suppress(OSError):  # already gone
                self._to_child.send(None)
            proc = self._proc
        proc.join(timeout=STOP_WAIT_S)
        if proc.is_alive():
            proc.terminate()
            proc.join()
        self._to_child.close()


def child_main(values: dict[str, Any], orders: Connection, reports: Connection) -> None:
    """The child process: follow the journal when rung, report progress, end when told or
    when the server is gone."""
    # Ctrl-C in a terminal reaches the whole process group; the server stops us in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from zunft.config import load_settings
    from zunft.context import open_keyring
    from zunft.db.engine import make_engine
    from zunft.search.index import SearchIndex

    settings = load_settings({}, **values)
    url = settings.effective_database_url
    engine = make_engine(url, pool_size=2)
    index = SearchIndex(
        engine,
        open_keyring(settings, engine),
        url,
        on_progress=lambda tenant_id, seq: reports.send((tenant_id, seq)),
    )
    index.start()
    try:
        while True:
            message = orders.recv()
            if message is None:
                break
            if message == ALL:
                index.kick_all()
            else:
                for tenant_id in message:
                    index.kick(tenant_id)
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    finally:
        index.stop()
        engine.dispose()
        reports.close()
