"""`zunft archive verify` on several cores: a long journal is checked in ranges at once.

Checking an entry costs about 9 µs of CPU (the header hash, decrypting and hashing the
payload, reading the row), so a million entries take about 9 s on one core. The chain can be
cut into ranges checked independently: range [lo, hi] starts from the *stored* hash of entry
lo - 1 and checks that each entry's prev_hash is its predecessor's hash and that each stored
hash is what it recomputes to. The range before it has checked that the stored hash of entry
lo - 1 is the recomputed one, so together the ranges prove exactly what one walk from entry 1
proves. A range that ends early (an entry missing at its end) is named like a gap.

The ranges are fixed before the workers start, from the journal head and the highest
sequence number read in one snapshot: entries a running server appends meanwhile are beyond
them and not judged, as in the serial walk. Each worker is its own process (spawned: no
threads or connections inherited) with its own connection and keys.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from zunft.archive.verify import (
    RangeResult,
    VerifyResult,
    _rows,
    check_head,
    verify_tenant,
    walk_range,
)
from zunft.config import Settings, load_settings
from zunft.crypto.envelope import Keyring
from zunft.db import schema as s
from zunft.journal.chain import GENESIS

PARALLEL_FROM = 200_000  # entries; below that, starting the workers costs more than it saves


def _verify_range(values: dict[str, Any], tenant_id: str, lo: int, hi: int) -> RangeResult:
    """In a worker process: check entries lo..hi."""
    from zunft.context import open_context

    ctx = open_context(load_settings({}, **values), migrate=False, indexer="off")
    try:
        with ctx.engine.connect() as conn:
            prev = GENESIS
            if lo > 1:
                stored = conn.execute(
                    select(s.journal.c.entry_hash).where(
                        s.journal.c.tenant_id == tenant_id, s.journal.c.seq == lo - 1
                    )
                ).scalar()
                if stored is None:
                    return RangeResult(0, GENESIS, lo - 1, f"entry {lo - 1} is missing (removed)")
                prev = stored
            rows = _rows(conn, tenant_id, lo, hi)
            try:
                return walk_range(ctx.keys, tenant_id, rows, lo, prev)
            finally:
                rows.close()
    finally:
        ctx.close()


def _ranges(total: int, parts: int) -> list[tuple[int, int]]:
    size = -(-total // parts)
    return [(lo, min(lo + size - 1, total)) for lo in range(1, total + 1, size)]


def verify_tenant_parallel(
    settings: Settings,
    conn: Connection,
    keys: Keyring,
    tenant_id: str,
    slug: str,
    *,
    workers: int | None = None,
    min_entries: int = PARALLEL_FROM,
) -> VerifyResult:
    workers = workers or os.cpu_count() or 1
    head = conn.execute(
        select(s.journal_heads.c.seq).where(s.journal_heads.c.tenant_id == tenant_id)
    ).scalar()
    highest = conn.execute(
        select(func.max(s.journal.c.seq)).where(s.journal.c.tenant_id == tenant_id)
    ).scalar()
    if workers < 2 or head is None or head < min_entries or highest != head:
        return verify_tenant(conn, keys, tenant_id, slug)  # small, or a head to judge in full
    ranges = _ranges(head, workers)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=spawn) as pool:
        futures = [
            pool.submit(_verify_range, dict(settings.values), tenant_id, lo, hi)
            for lo, hi in ranges
        ]
        results = [f.result() for f in futures]
    count, last = 0, GENESIS
    for (lo, hi), r in zip(ranges, results, strict=True):
        if r.problem is not None:
            return check_head(
                conn,
                tenant_id,
                slug,
                RangeResult(count + r.count, r.last_hash, r.bad_seq, r.problem),
            )
        if r.count != hi - lo + 1:
            missing = lo + r.count
            return check_head(
                conn,
                tenant_id,
                slug,
                RangeResult(
                    count + r.count, r.last_hash, missing, f"entry {missing} is missing (removed)"
                ),
            )
        count, last = count + r.count, r.last_hash
    return check_head(conn, tenant_id, slug, RangeResult(count, last))


def verify_all_parallel(
    settings: Settings,
    conn: Connection,
    keys: Keyring,
    slug: str | None = None,
    *,
    workers: int | None = None,
    min_entries: int = PARALLEL_FROM,
) -> list[VerifyResult]:
    query = select(s.tenants.c.id, s.tenants.c.slug).order_by(s.tenants.c.slug)
    if slug is not None:
        query = query.where(s.tenants.c.slug == slug)
    return [
        verify_tenant_parallel(
            settings, conn, keys, t.id, t.slug, workers=workers, min_entries=min_entries
        )
        for t in conn.execute(query).all()
    ]
