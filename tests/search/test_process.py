"""The search indexer of `zunft serve`, in a process of its own: it follows the journal when
rung, the server's search waits for it, and a child that dies is replaced without losing
anything."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from tests.factories import Business, general_chat
from zunft.context import AppContext
from zunft.messages.service import do_send_message
from zunft.search.index import SearchIndex
from zunft.search.service import get_search_results


@contextmanager
def index_process(ctx: AppContext) -> Iterator[SearchIndex]:
    index = SearchIndex(ctx.engine, ctx.keys, ctx.settings.effective_database_url)
    ctx.bus.subscribe(index.on_commit)
    index.start(process=ctx.settings)
    try:
        yield index
    finally:
        index.stop()


def search(ctx: AppContext, index: SearchIndex, biz: Business, q: str) -> list[str]:
    assert index.settle(biz.tenant_id, timeout=60)  # generous: a child takes a moment to start
    out = ctx.read(lambda rx: get_search_results(rx, index, biz.actor("owner"), q))
    return [m["text"] for m in out["results"]]


def send(ctx: AppContext, biz: Business, text: str) -> None:
    chat = general_chat(ctx, biz)
    ctx.write(lambda tx: do_send_message(tx, biz.actor("worker"), chat, text=text))


def test_the_child_indexes_what_is_sent_and_is_replaced_when_it_dies(
    ctx: AppContext, biz: Business
) -> None:
    ctx.search.stop()  # only the child follows in this test
    with index_process(ctx) as index:
        send(ctx, biz, "Heizkörper im Obergeschoss entlüftet")
        assert search(ctx, index, biz, "Heizkoerper") == ["Heizkörper im Obergeschoss entlüftet"]
        child = index.child_pid
        assert child is not None
        assert child != os.getpid()
        os.kill(child, signal.SIGKILL)
        send(ctx, biz, "Heizkörper im Keller getauscht")
        assert search(ctx, index, biz, "Heizkörper") == [
            "Heizkörper im Keller getauscht",
            "Heizkörper im Obergeschoss entlüftet",
        ]
        assert index.child_pid not in (None, child)  # a new child did that
