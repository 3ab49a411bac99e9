"""What domain functions receive: a connection plus the few things every one of them needs.

`Rx` is for reads (any pooled connection). `Tx` is for writes and only exists inside the
single writer's transaction; `Tx.append` is the one way to add a journal entry, and it does
so in the same transaction as the state change it records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.engine import Connection

from zunft.crypto.envelope import Keyring, TenantCipher
from zunft.db import schema as s
from zunft.db.prepared import Prepared
from zunft.journal.chain import GENESIS, Event, canonical, entry_hash

# Built once: constructing a statement costs more Python time than running it (and its
# cache key is memoised on the object), and `append` runs for every write.
_SELECT_HEAD = Prepared(
    select(s.journal_heads.c.seq, s.journal_heads.c.head_hash)
    .where(s.journal_heads.c.tenant_id == bindparam("tenant_id"))
    .with_for_update()
)
_INSERT_ENTRY = Prepared(insert(s.journal))
_INSERT_PAYLOAD = Prepared(insert(s.journal_payloads))


@dataclass
class Rx:
    conn: Connection
    keys: Keyring
    now_ms: int

    def cipher(self, tenant_id: str) -> TenantCipher:
        return self.keys.cipher(tenant_id)


@dataclass
class Head:
    seq: int
    hash: bytes
    exists: bool  # a row in journal_heads already
    dirty: bool = False


@dataclass
class Tx(Rx):
    heads: dict[str, Head] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def append(
        self,
        tenant_id: str,
        kind: str,
        payload: dict[str, Any],
        *,
        actor_id: str | None = None,
        chat_id: str | None = None,
        key: bytes | None = None,
    ) -> Event:
        """Append an entry; `key` is the content key (erasure unit, zunft.retention) its
        payload is encrypted with, else the business's data key."""
        head = self.heads.get(tenant_id) or self._load_head(tenant_id)
        seq = head.seq + 1
        encoded = canonical(payload)
        digest = hashlib.sha256(encoded).digest()  # = journal.chain.payload_hash(payload)
        ehash = entry_hash(
            tenant_id=tenant_id,
            seq=seq,
            ts=self.now_ms,
            kind=kind,
            actor_id=actor_id,
            chat_id=chat_id,
            prev_hash=head.hash,
            payload_digest=digest,
        )
        _INSERT_ENTRY.run(
            self.conn,
            {
                "tenant_id": tenant_id,
                "seq": seq,
                "ts": self.now_ms,
                "kind": kind,
                "actor_id": actor_id,
                "chat_id": chat_id,
                "prev_hash": head.hash,
                "payload_hash": digest,
                "entry_hash": ehash,
            },
        )
        _INSERT_PAYLOAD.run(
            self.conn,
            {
                "tenant_id": tenant_id,
                "seq": seq,
                "payload_enc": self.cipher(tenant_id).encrypt(f"journal/{seq}", encoded, key),
                "erased_at": None,
                "content_key": key,
            },
        )
        head.seq, head.hash, head.dirty = seq, ehash, True
        event = Event(tenant_id, seq, self.now_ms, kind, actor_id, chat_id, payload)
        self.events.append(event)
        return event

    def next_seq(self, tenant_id: str) -> int:
        """The sequence number the next `append` for this tenant will get."""
        head = self.heads.get(tenant_id) or self._load_head(tenant_id)
        return head.seq + 1

    def _load_head(self, tenant_id: str) -> Head:
        """Read (and on PostgreSQL lock) the tenant's journal head, once per batch."""
        row = _SELECT_HEAD.first(self.conn, {"tenant_id": tenant_id})
        head = Head(row[0], bytes(row[1]), True) if row else Head(0, GENESIS, False)
        self.heads[tenant_id] = head
        return head
