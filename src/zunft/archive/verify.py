"""`zunft archive verify`: recompute a tenant's hash chain from the rows in the database.

It names the first entry that breaks the chain: a missing sequence number (removed), an entry
whose recomputed hash differs from the stored one (altered, or moved to another position), an
entry whose prev_hash is not its predecessor's hash (reordered), a payload whose hash differs
(altered content), and entries cut off the end (the journal head records the last sequence).
Rows are streamed, so memory stays flat however long the journal is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from zunft.crypto.envelope import DecryptionError, Keyring
from zunft.db import schema as s
from zunft.journal.chain import GENESIS, entry_hash


@dataclass(frozen=True)
class VerifyResult:
    tenant_id: str
    slug: str
    count: int
    head_hash: bytes
    bad_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _rows(conn: Connection, tenant_id: str, lo: int = 1, hi: int | None = None) -> Any:
    j, p = s.journal, s.journal_payloads
    query = (
        select(
            j.c.seq,
            j.c.ts,
            j.c.kind,
            j.c.actor_id,
            j.c.chat_id,
            j.c.prev_hash,
            j.c.payload_hash,
            j.c.entry_hash,
            p.c.payload_enc,
            p.c.erased_at,
        )
        .outerjoin(p, (p.c.tenant_id == j.c.tenant_id) & (p.c.seq == j.c.seq))
        .where(j.c.tenant_id == tenant_id, j.c.seq >= lo)
        .order_by(j.c.seq)
    )
    if hi is not None:
        query = query.where(j.c.seq <= hi)
    return conn.execution_options(yield_per=2000).execute(query)


@dataclass(frozen=True)
class RangeResult:
    """A walk over entries lo.. (see walk_range): how many followed each other correctly, the
    hash of the last of them, and the first problem."""

    count: int
    last_hash: bytes
    bad_seq: int | None = None
    problem: str | None = None


def walk_range(keys: Keyring, tenant_id: str, rows: Any, lo: int, prev: bytes) -> RangeResult:
    """Check entries from `lo` on, the one before having the hash `prev`; stops at the first
    problem. Rows are unpacked as tuples: attribute access on a million rows costs seconds
    (docs/performance.md, "Archive")."""
    cipher = keys.cipher(tenant_id)
    expected = lo
    count = 0
    sha256 = hashlib.sha256
    decrypt = cipher.decrypt_bytes

    def fail(seq: int, problem: str) -> RangeResult:
        return RangeResult(count, prev, seq, problem)

    for seq, ts, kind, actor_id, chat_id, prev_hash, digest, stored, enc, erased_at in rows:
        if seq != expected:
            return fail(expected, f"entry {expected} is missing (removed)")
        if prev_hash != prev:
            return fail(seq, f"entry {seq} does not follow entry {seq - 1} (reordered or altered)")
        recomputed = entry_hash(
            tenant_id=tenant_id,
            seq=seq,
            ts=ts,
            kind=kind,
            actor_id=actor_id,
            chat_id=chat_id,
            prev_hash=prev_hash,
            payload_digest=digest,
        )
        if recomputed != stored:
            return fail(seq, f"entry {seq} was altered (its hash does not match)")
        if enc is not None:
            try:
                plain = decrypt(f"journal/{seq}", enc)
            except DecryptionError:
                return fail(seq, f"payload of entry {seq} was altered (it does not decrypt)")
            if sha256(plain).digest() != digest:
                return fail(seq, f"payload of entry {seq} was altered (its hash does not match)")
        elif erased_at is None:
            return fail(seq, f"payload of entry {seq} is missing (removed without an erasure)")
        prev = stored
        count += 1
        expected += 1
    return RangeResult(count, prev)


def verify_tenant(conn: Connection, keys: Keyring, tenant_id: str, slug: str = "") -> VerifyResult:
    rows = _rows(conn, tenant_id)
    try:
        walked = walk_range(keys, tenant_id, rows, 1, GENESIS)
    finally:
        rows.close()  # a server-side cursor on PostgreSQL: close it even when stopping early
    return check_head(conn, tenant_id, slug, walked)


def check_head(conn: Connection, tenant_id: str, slug: str, walked: RangeResult) -> VerifyResult:
    """The walk's result, held against the recorded journal head (entries cut off the end)."""
    count, prev = walked.count, walked.last_hash

    def fail(seq: int, problem: str) -> VerifyResult:
        return VerifyResult(tenant_id, slug, count, prev, seq, problem)

    if walked.problem is not None:
        assert walked.bad_seq is not None
        return fail(walked.bad_seq, walked.problem)
    head = conn.execute(
        select(s.journal_heads.c.seq, s.journal_heads.c.head_hash).where(
            s.journal_heads.c.tenant_id == tenant_id
        )
    ).first()
    if head is not None and head.seq > count:
        return fail(count + 1, f"entries {count + 1} to {head.seq} are missing (cut off the end)")
    if head is not None and head.seq < count:
        return fail(
            head.seq + 1,
            f"the journal head records {head.seq} entries but {count} exist (head altered)",
        )
    if head is not None and head.seq == count and head.head_hash != prev:
        return fail(count, f"entry {count} does not match the recorded journal head")
    return VerifyResult(tenant_id, slug, count, prev)


def verify_all(conn: Connection, keys: Keyring, slug: str | None = None) -> list[VerifyResult]:
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        # One snapshot for the whole walk: a server appending meanwhile must not look like
        # entries cut off the end. (SQLite's read transaction is a snapshot already.)
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    query = select(s.tenants.c.id, s.tenants.c.slug).order_by(s.tenants.c.slug)
    if slug is not None:
        query = query.where(s.tenants.c.slug == slug)
    return [verify_tenant(conn, keys, t.id, t.slug) for t in conn.execute(query).all()]
