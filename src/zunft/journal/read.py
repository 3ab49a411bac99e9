"""Reading the journal back: the seam that realtime resume ("everything after my cursor") and
archive exports build on. Erased payloads come back as None."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from sqlalchemy import select

from zunft.crypto.envelope import DecryptionError
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.journal.chain import Event


def get_entries(rx: Rx, tenant_id: str, *, after: int = 0, limit: int = 1000) -> list[Event]:
    """Up to `limit` entries of one tenant with seq > after, in order, payloads decrypted."""
    return list(iter_entries(rx, tenant_id, after=after, limit=limit))


def iter_entries(
    rx: Rx,
    tenant_id: str,
    *,
    after: int = 0,
    upto: int | None = None,
    limit: int | None = None,
    kinds: Sequence[str] | None = None,
    shredded_as_empty: bool = False,
) -> Iterator[Event]:
    """Entries with after < seq (<= upto), in order, only `kinds` if given. A payload whose
    content key was destroyed (zunft.retention) raises, or with `shredded_as_empty` comes
    back as {} like an erased one: for readers to whom it is simply gone (the search index)."""
    j, p = s.journal, s.journal_payloads
    query = (
        select(j.c.seq, j.c.ts, j.c.kind, j.c.actor_id, j.c.chat_id, p.c.payload_enc)
        .outerjoin(p, (p.c.tenant_id == j.c.tenant_id) & (p.c.seq == j.c.seq))
        .where(j.c.tenant_id == tenant_id, j.c.seq > after)
        .order_by(j.c.seq)
    )
    if upto is not None:
        query = query.where(j.c.seq <= upto)
    if kinds is not None:
        query = query.where(j.c.kind.in_(kinds))
    if limit is not None:
        query = query.limit(limit)
    cipher = rx.cipher(tenant_id)
    for r in rx.conn.execute(query):
        payload = None
        if r.payload_enc is not None:
            try:
                payload = json.loads(cipher.decrypt_bytes(f"journal/{r.seq}", r.payload_enc))
            except DecryptionError:
                if not shredded_as_empty:
                    raise
        yield Event(tenant_id, r.seq, r.ts, r.kind, r.actor_id, r.chat_id, payload or {})
