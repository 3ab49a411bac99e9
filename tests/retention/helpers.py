"""Shared by the retention tests: moving the clock to a date, reading raw rows, verifying."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from tests.factories import Business
from zunft.archive.verify import verify_all
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.retention.rules import LEGAL_TZ


def move_to(clock: FakeClock, year: int, month: int = 1, day: int = 1, hour: int = 0) -> None:
    """Move the clock forward to a German local time (never back)."""
    target = datetime(year, month, day, hour, 0, 1, tzinfo=LEGAL_TZ)
    delta = target - clock.now()
    assert delta.total_seconds() > 0, "the clock only moves forward"
    clock.advance(seconds=delta.total_seconds())


def message_row(ctx: AppContext, message_id: str) -> Any:
    return ctx.read(
        lambda rx: rx.conn.execute(select(s.messages).where(s.messages.c.id == message_id)).one()
    )


def payload_row(ctx: AppContext, tenant_id: str, seq: int) -> Any:
    p = s.journal_payloads
    return ctx.read(
        lambda rx: rx.conn.execute(
            select(p).where(p.c.tenant_id == tenant_id, p.c.seq == seq)
        ).one()
    )


def verified(ctx: AppContext, biz: Business) -> bool:
    with ctx.engine.connect() as conn:
        [result] = verify_all(conn, ctx.keys, biz.slug)
    return bool(result.ok)


def count(ctx: AppContext, table: Any, *where: Any) -> int:
    return int(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(func.count()).select_from(table).where(*where)
            ).scalar_one()
        )
    )


def make_legacy(ctx: AppContext, tenant_id: str, message_id: str) -> None:
    """Turn a message (not edited) into a row as written before content keys: its text and
    its journal payload under the data key, and no content key left for it."""
    from sqlalchemy import delete, update

    cipher = ctx.keys.cipher(tenant_id)
    row = message_row(ctx, message_id)
    text = cipher.decrypt(f"messages.body/{message_id}", row.body_enc)
    p = s.journal_payloads

    def work(tx: Any) -> None:
        tx.conn.execute(
            update(s.messages)
            .where(s.messages.c.id == message_id)
            .values(body_enc=cipher.encrypt(f"messages.body/{message_id}", text), content_key=None)
        )
        enc = tx.conn.execute(
            select(p.c.payload_enc).where(p.c.tenant_id == tenant_id, p.c.seq == row.seq)
        ).scalar_one()
        plain = cipher.decrypt_bytes(f"journal/{row.seq}", enc)
        tx.conn.execute(
            update(p)
            .where(p.c.tenant_id == tenant_id, p.c.seq == row.seq)
            .values(payload_enc=cipher.encrypt(f"journal/{row.seq}", plain), content_key=None)
        )
        tx.conn.execute(delete(s.content_keys).where(s.content_keys.c.id == row.content_key))

    ctx.write(work)


def indexed(ctx: AppContext, biz: Any, message_id: str) -> bool:
    """Whether the search index (once caught up) holds the message and postings for it."""
    assert ctx.search.settle(biz.tenant_id)
    docs, postings = s.search_docs, s.search_postings
    with ctx.search.engine.connect() as conn:
        seq = conn.execute(select(docs.c.seq).where(docs.c.message_id == message_id)).scalar()
        found = conn.execute(
            select(postings.c.token).where(
                postings.c.tenant_id == biz.tenant_id, postings.c.seq == (seq or -1)
            )
        ).first()
    assert (seq is None) == (found is None), "a message's postings go and come with it"
    return seq is not None


def to_data_key(
    ctx: AppContext, tenant_id: str, table: Any, row_id: str, purposes: dict[str, str], seq: int
) -> None:
    """Make a row look as stored before content keys: its columns (`purposes`: column ->
    purpose prefix) and its journal payload at `seq` re-encrypted under the business's data
    key, and its `content_key` NULL."""
    from sqlalchemy import update

    cipher = ctx.keys.cipher(tenant_id)
    row = ctx.read(lambda rx: rx.conn.execute(select(table).where(table.c.id == row_id)).one())

    def again(purpose: str, blob: bytes) -> bytes:
        return cipher.encrypt(purpose, cipher.decrypt_bytes(purpose, blob))

    values: dict[str, Any] = {"content_key": None}
    for column, prefix in purposes.items():
        values[column] = again(f"{prefix}/{row_id}", getattr(row, column))
    p = s.journal_payloads

    def work(tx: Any) -> None:
        tx.conn.execute(update(table).where(table.c.id == row_id).values(**values))
        enc = tx.conn.execute(
            select(p.c.payload_enc).where(p.c.tenant_id == tenant_id, p.c.seq == seq)
        ).scalar_one()
        tx.conn.execute(
            update(p)
            .where(p.c.tenant_id == tenant_id, p.c.seq == seq)
            .values(payload_enc=again(f"journal/{seq}", enc), content_key=None)
        )

    ctx.write(work)


def row_of(ctx: AppContext, table: Any, row_id: str) -> Any:
    return ctx.read(lambda rx: rx.conn.execute(select(table).where(table.c.id == row_id)).one())


def created_seq(ctx: AppContext, tenant_id: str, kind: str, field: str, value: str) -> int:
    """The seq of the one `kind` entry whose payload has `field` == `value`."""
    from zunft.journal.read import iter_entries

    seqs = ctx.read(
        lambda rx: [
            e.seq for e in iter_entries(rx, tenant_id, kinds=[kind]) if e.payload[field] == value
        ]
    )
    [seq] = seqs
    return seq
