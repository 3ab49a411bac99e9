"""`archive verify` in ranges on several processes proves what the serial walk proves, and
names the same first broken entry."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from tests.factories import Business, general_chat
from zunft.archive.parallel import _ranges, verify_all_parallel
from zunft.archive.verify import VerifyResult, verify_all
from zunft.config import Settings
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.messages.service import do_send_message


@pytest.fixture
def journal(ctx: AppContext, biz: Business) -> int:
    chat = general_chat(ctx, biz)
    for i in range(40):
        ctx.write(lambda tx, i=i: do_send_message(tx, biz.actor("worker"), chat, text=f"Nr. {i}"))
    with ctx.engine.connect() as conn:
        [r] = verify_all(conn, ctx.keys)
    return r.count


def _both(ctx: AppContext, settings: Settings) -> tuple[VerifyResult, VerifyResult]:
    with ctx.engine.connect() as conn:
        [serial] = verify_all(conn, ctx.keys)
        [parallel] = verify_all_parallel(settings, conn, ctx.keys, workers=3, min_entries=1)
    return serial, parallel


def test_ranges_cover_every_entry_once() -> None:
    assert _ranges(10, 3) == [(1, 4), (5, 8), (9, 10)]
    assert _ranges(3, 4) == [(1, 1), (2, 2), (3, 3)]


def test_an_intact_journal(ctx: AppContext, settings: Settings, journal: int) -> None:
    serial, parallel = _both(ctx, settings)
    assert parallel == serial
    assert parallel.ok


def _tamper(ctx: AppContext, statement: object) -> None:
    ctx.write(lambda tx: tx.conn.execute(statement))


def test_an_entry_altered_in_the_last_range(
    ctx: AppContext, settings: Settings, journal: int
) -> None:
    bad = journal - 2
    _tamper(ctx, update(s.journal).where(s.journal.c.seq == bad).values(ts=s.journal.c.ts + 1))
    serial, parallel = _both(ctx, settings)
    assert parallel == serial
    assert parallel.bad_seq == bad


def test_an_entry_removed_at_the_end_of_a_range(
    ctx: AppContext, settings: Settings, journal: int
) -> None:
    [(_, end_of_first), *_] = _ranges(journal, 3)
    _tamper(ctx, delete(s.journal_payloads).where(s.journal_payloads.c.seq == end_of_first))
    _tamper(ctx, delete(s.journal).where(s.journal.c.seq == end_of_first))
    serial, parallel = _both(ctx, settings)
    assert parallel == serial
    assert parallel.bad_seq == end_of_first
    assert parallel.problem is not None
    assert "missing" in parallel.problem


def test_a_payload_altered_in_the_middle_range(
    ctx: AppContext, settings: Settings, journal: int
) -> None:
    [_, (lo, _), *_] = _ranges(journal, 3)
    _tamper(
        ctx,
        update(s.journal_payloads)
        .where(s.journal_payloads.c.seq == lo)
        .values(payload_enc=b"\x01" + bytes(60)),
    )
    serial, parallel = _both(ctx, settings)
    assert parallel == serial
    assert parallel.bad_seq == lo
