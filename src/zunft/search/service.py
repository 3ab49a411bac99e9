"""Searching the chats a user may see, through the keyed-hash index of word stems
(zunft.search.index keeps it; call its `settle` first to include everything acknowledged)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from zunft.accounts.actor import Actor
from zunft.chats.service import access_chat, get_visible_chat_ids
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.errors import Invalid
from zunft.messages.service import get_attachments, message_view
from zunft.search.index import TOKEN, SearchIndex
from zunft.search.tokens import stems

MAX_TERMS = 8


def get_search_results(
    rx: Rx,
    index: SearchIndex,
    actor: Actor,
    query: str,
    *,
    chat_id: str | None = None,
    before: int | None = None,
    limit: int = 30,
) -> dict[str, Any]:
    """Messages containing every word of the query (by stem), newest first."""
    terms = sorted(stems(query))
    if not terms:
        raise Invalid("Please enter at least one word to search for.", code="empty_query")
    if len(terms) > MAX_TERMS:
        raise Invalid(f"Search for at most {MAX_TERMS} words.", code="too_many_terms")
    if not 1 <= limit <= 100:
        raise Invalid("limit is 1 to 100.", code="invalid_limit")
    if chat_id is not None:
        access_chat(rx, actor, chat_id)
        chats = [chat_id]
    else:
        chats = get_visible_chat_ids(rx, actor)
    if not chats:
        return {"results": [], "has_more": False}
    cipher = rx.cipher(actor.tenant_id)
    tokens = [cipher.index_token("word", t, TOKEN) for t in terms]
    seqs = index.find_seqs(actor.tenant_id, tokens, chats, before=before, limit=limit + 1)
    has_more = len(seqs) > limit
    seqs = seqs[:limit]
    if not seqs:
        return {"results": [], "has_more": False}
    m = s.messages
    rows = rx.conn.execute(
        select(m)
        .where(
            m.c.tenant_id == actor.tenant_id,
            m.c.seq.in_(seqs),
            # The indexer takes deleted and erased messages out right after their commit;
            # until it has, they are left out here.
            m.c.deleted_at.is_(None),
            m.c.erased_at.is_(None),
        )
        .order_by(m.c.seq.desc())
    ).all()
    files = get_attachments(rx, cipher, [r.id for r in rows])
    return {
        "results": [message_view(cipher, r, files.get(r.id)) for r in rows],
        "has_more": has_more,
    }
