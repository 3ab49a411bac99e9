"""The search index follows the journal: the send does not write it, whatever the indexer did
not see it reads back from the journal, and it can be rebuilt from nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, func, select

from tests.factories import Business, general_chat
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.journal.read import get_entries
from zunft.messages.service import do_delete_message, do_edit_message, do_send_message
from zunft.search.index import SearchIndex
from zunft.search.service import get_search_results


def found(ctx: AppContext, index: SearchIndex, biz: Business, q: str) -> list[str]:
    assert index.settle(biz.tenant_id)
    out = ctx.read(lambda rx: get_search_results(rx, index, biz.actor("owner"), q))
    return [m["text"] for m in out["results"]]


def counts(index: SearchIndex, biz: Business) -> tuple[int, int]:
    """(messages, postings) the index holds for the business."""
    d, p = s.search_docs, s.search_postings
    with index.engine.connect() as conn:
        docs = conn.execute(
            select(func.count()).select_from(d).where(d.c.tenant_id == biz.tenant_id)
        ).scalar_one()
        postings = conn.execute(
            select(func.count()).select_from(p).where(p.c.tenant_id == biz.tenant_id)
        ).scalar_one()
    return int(docs), int(postings)


def messages_of(ctx: AppContext, biz: Business) -> int:
    m = s.messages
    with ctx.engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(m).where(m.c.tenant_id == biz.tenant_id)
        ).scalar_one()
    return int(total)


@contextmanager
def another_index(ctx: AppContext) -> Iterator[SearchIndex]:
    index = SearchIndex(ctx.engine, ctx.keys, ctx.settings.effective_database_url)
    index.start()
    try:
        yield index
    finally:
        index.stop()


def send(ctx: AppContext, biz: Business, chat: str, text: str) -> str:
    return str(
        ctx.write(lambda tx: do_send_message(tx, biz.actor("worker"), chat, text=text))["id"]
    )


def test_what_the_indexer_missed_is_read_back_from_the_journal(
    ctx: AppContext, biz: Business
) -> None:
    chat = general_chat(ctx, biz)
    send(ctx, biz, chat, "Estrich ist trocken")
    assert found(ctx, ctx.search, biz, "Estrich") == ["Estrich ist trocken"]
    ctx.search.stop()  # from here on nobody follows the commits
    send(ctx, biz, chat, "Estrich im Keller nass")
    docs_before, _ = counts(ctx.search, biz)
    with another_index(ctx) as index:  # a restart: it starts where the stopped one ended
        assert found(ctx, index, biz, "Estrich") == [
            "Estrich im Keller nass",
            "Estrich ist trocken",
        ]
        assert counts(index, biz)[0] == docs_before + 1 == messages_of(ctx, biz)


def test_the_index_is_rebuilt_from_the_journal(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    kept = send(ctx, biz, chat, "Fliesen im Bad verlegt")
    edited = send(ctx, biz, chat, "Rohr im Keller undicht")
    gone = send(ctx, biz, chat, "Fliesen falsch geliefert")
    ctx.write(lambda tx: do_edit_message(tx, biz.actor("worker"), edited, text="Rohr ist dicht"))
    ctx.write(lambda tx: do_delete_message(tx, biz.actor("worker"), gone))
    assert found(ctx, ctx.search, biz, "Fliesen") == ["Fliesen im Bad verlegt"]
    before = counts(ctx.search, biz)
    assert before[0] == messages_of(ctx, biz) - 1  # all but the deleted one
    ctx.search.stop()
    with ctx.search.engine.begin() as conn:  # as after a restore, which leaves the index out
        for table in (s.search_postings, s.search_docs, s.search_progress):
            conn.execute(delete(table))
    with another_index(ctx) as index:
        assert index.settle(biz.tenant_id)
        assert counts(index, biz) == before
        assert found(ctx, index, biz, "Fliesen") == ["Fliesen im Bad verlegt"]
        assert found(ctx, index, biz, "undicht") == []
        assert found(ctx, index, biz, "dicht Rohr") == ["Rohr ist dicht"]
    assert kept


def test_two_indexers_on_one_database_apply_each_entry_once(ctx: AppContext, biz: Business) -> None:
    """Two processes on one PostgreSQL (or two on one SQLite file) each follow the journal;
    the business's progress row decides who writes, so no posting is written twice (the
    primary key would refuse it and the business would never settle)."""
    chat = general_chat(ctx, biz)
    with another_index(ctx) as second:
        ctx.bus.subscribe(second.on_commit)
        texts = [f"Baustelle Huber Nummer {i}" for i in range(40)]
        for t in texts:
            send(ctx, biz, chat, t)
        assert second.settle(biz.tenant_id)
        assert ctx.search.settle(biz.tenant_id)
        docs, postings = counts(second, biz)
        assert docs == messages_of(ctx, biz) >= len(texts)
        assert len(found(ctx, second, biz, "Huber")) == 30  # one page of the 40
        assert counts(ctx.search, biz) == (docs, postings)


def test_events_with_a_gap_are_applied_up_to_it_and_the_rest_read_back(
    ctx: AppContext, biz: Business
) -> None:
    """On PostgreSQL with several processes an indexer is handed its own process's entries
    only; another's may lie between them. It must not skip those."""
    chat = general_chat(ctx, biz)
    with another_index(ctx) as index:  # not subscribed to the bus: it gets what we hand it
        assert index.settle(biz.tenant_id)
        head = ctx.read(lambda rx: get_entries(rx, biz.tenant_id, limit=100_000))[-1].seq
        for text in ("Gerüst steht", "Gerüst wackelt", "Gerüst abgebaut"):
            send(ctx, biz, chat, text)
        first, middle, last = ctx.read(lambda rx: get_entries(rx, biz.tenant_id, after=head))
        assert middle.payload["text"] == "Gerüst wackelt"
        index.on_commit([first, last])  # the middle one was another process's
        assert found(ctx, index, biz, "Gerüst") == [
            "Gerüst abgebaut",
            "Gerüst wackelt",
            "Gerüst steht",
        ]
