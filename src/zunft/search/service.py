"""Searching the chats a user may see, through the keyed-hash index of word stems."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from zunft.accounts.actor import Actor
from zunft.chats.service import access_chat, get_visible_chat_ids
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.errors import Invalid
from zunft.messages.service import get_attachments, message_view
from zunft.search.tokens import stems

MAX_TERMS = 8


def get_search_results(
    rx: Rx,
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
    tokens = [cipher.index_token("word", t) for t in terms]
    t = s.search_tokens
    query_ = select(t.c.seq).where(
        t.c.tenant_id == actor.tenant_id, t.c.token.in_(tokens), t.c.chat_id.in_(chats)
    )
    if before is not None:
        query_ = query_.where(t.c.seq < before)
    if len(tokens) > 1:
        query_ = query_.group_by(t.c.seq).having(func.count() == len(tokens))
    seqs = list(rx.conn.execute(query_.order_by(t.c.seq.desc()).limit(limit + 1)).scalars())
    has_more = len(seqs) > limit
    seqs = seqs[:limit]
    if not seqs:
        return {"results": [], "has_more": False}
    rows = rx.conn.execute(
        select(s.messages)
        .where(s.messages.c.tenant_id == actor.tenant_id, s.messages.c.seq.in_(seqs))
        .order_by(s.messages.c.seq.desc())
    ).all()
    files = get_attachments(rx, cipher, [r.id for r in rows])
    return {
        "results": [message_view(cipher, r, files.get(r.id)) for r in rows],
        "has_more": has_more,
    }
