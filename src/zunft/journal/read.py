"""Reading the journal back: the seam that realtime resume ("everything after my cursor") and
archive exports build on. Erased payloads come back as None."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import select

from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.journal.chain import Event


def get_entries(rx: Rx, tenant_id: str, *, after: int = 0, limit: int = 1000) -> list[Event]:
    """Up to `limit` entries of one tenant with seq > after, in order, payloads decrypted."""
    return list(iter_entries(rx, tenant_id, after=after, limit=limit))


def iter_entries(
    rx: Rx, tenant_id: str, *, after: int = 0, limit: int | None = None
) -> Iterator[Event]:
    j, p = s.journal, s.journal_payloads
    query = (
        select(j.c.seq, j.c.ts, j.c.kind, j.c.actor_id, j.c.chat_id, p.c.payload_enc)
        .outerjoin(p, (p.c.tenant_id == j.c.tenant_id) & (p.c.seq == j.c.seq))
        .where(j.c.tenant_id == tenant_id, j.c.seq > after)
        .order_by(j.c.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    cipher = rx.cipher(tenant_id)
    for r in rx.conn.execute(query):
        payload = (
            json.loads(cipher.decrypt_bytes(f"journal/{r.seq}", r.payload_enc))
            if r.payload_enc is not None
            else None
        )
        yield Event(tenant_id, r.seq, r.ts, r.kind, r.actor_id, r.chat_id, payload or {})
