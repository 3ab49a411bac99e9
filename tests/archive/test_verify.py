"""`zunft archive verify` finds the first altered, removed or reordered journal entry."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from tests.factories import Business
from zunft.archive.verify import verify_all
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.messages.service import do_send_message
from zunft.tenants.service import get_tenant_by_slug


def _general_chat(ctx: AppContext, biz: Business) -> str:
    return ctx.read(
        lambda rx: rx.conn.execute(
            select(s.chats.c.id).where(
                s.chats.c.tenant_id == biz.tenant_id, s.chats.c.is_default.is_(True)
            )
        ).scalar_one()
    )


def _fill(ctx: AppContext, biz: Business, n: int = 10) -> None:
    chat = _general_chat(ctx, biz)
    for i in range(n):
        ctx.write(
            lambda tx, i=i: do_send_message(tx, biz.actor("worker"), chat, text=f"Nachricht {i}")
        )


def _verify(ctx: AppContext, slug: str = "mueller") -> object:
    with ctx.engine.connect() as conn:
        [result] = verify_all(conn, ctx.keys, slug)
    return result


def _raw(ctx: AppContext, stmt: object) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(stmt)  # type: ignore[call-overload]


def test_intact_journal_verifies_with_count_and_head(ctx: AppContext, biz: Business) -> None:
    _fill(ctx, biz)
    result = _verify(ctx)
    head = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.journal_heads).where(s.journal_heads.c.tenant_id == biz.tenant_id)
        ).one()
    )
    assert result.ok
    assert result.count == head.seq > 10
    assert result.head_hash == head.head_hash


def test_altered_payload_is_named(ctx: AppContext, biz: Business) -> None:
    _fill(ctx, biz)
    victim = _verify(ctx).count - 3
    other = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.journal_payloads.c.payload_enc).where(
                s.journal_payloads.c.tenant_id == biz.tenant_id,
                s.journal_payloads.c.seq == victim - 1,
            )
        ).scalar_one()
    )
    _raw(
        ctx,
        update(s.journal_payloads)
        .where(s.journal_payloads.c.tenant_id == biz.tenant_id, s.journal_payloads.c.seq == victim)
        .values(payload_enc=other),
    )
    result = _verify(ctx)
    assert not result.ok
    assert result.bad_seq == victim
    assert "payload" in result.problem


def test_altered_entry_field_is_named(ctx: AppContext, biz: Business) -> None:
    _fill(ctx, biz)
    _raw(
        ctx,
        update(s.journal)
        .where(s.journal.c.tenant_id == biz.tenant_id, s.journal.c.seq == 7)
        .values(kind="message.deleted"),
    )
    result = _verify(ctx)
    assert (result.ok, result.bad_seq) == (False, 7)
    assert "altered" in result.problem


def test_removed_entry_is_named(ctx: AppContext, biz: Business) -> None:
    _fill(ctx, biz)
    for table in (s.journal_payloads, s.journal):
        _raw(ctx, delete(table).where(table.c.tenant_id == biz.tenant_id, table.c.seq == 12))
    result = _verify(ctx)
    assert (result.ok, result.bad_seq) == (False, 12)
    assert "missing" in result.problem


def test_swapped_entries_are_named(ctx: AppContext, biz: Business) -> None:
    _fill(ctx, biz)
    j, p = s.journal, s.journal_payloads

    def row(table: object, seq: int) -> dict[str, object]:
        return dict(
            ctx.read(
                lambda rx: (
                    rx.conn.execute(
                        select(table).where(table.c.tenant_id == biz.tenant_id, table.c.seq == seq)  # type: ignore[attr-defined]
                    )
                    .one()
                    ._mapping
                )
            )
        )

    # Exchange the contents of entries 9 and 10, each row keeping its sequence number.
    for table in (j, p):
        nine, ten = row(table, 9), row(table, 10)
        for seq, values in ((9, ten), (10, nine)):
            changes = {k: v for k, v in values.items() if k not in ("tenant_id", "seq")}
            _raw(
                ctx,
                update(table)
                .where(table.c.tenant_id == biz.tenant_id, table.c.seq == seq)
                .values(**changes),
            )
    result = _verify(ctx)
    assert (result.ok, result.bad_seq) == (False, 9)
    assert "does not follow" in result.problem


def test_truncated_tail_is_named(ctx: AppContext, biz: Business) -> None:
    _fill(ctx, biz)
    last = _verify(ctx).count
    for table in (s.journal_payloads, s.journal):
        _raw(ctx, delete(table).where(table.c.tenant_id == biz.tenant_id, table.c.seq >= last - 1))
    result = _verify(ctx)
    assert (result.ok, result.bad_seq) == (False, last - 1)
    assert "cut off" in result.problem


def test_other_tenant_unaffected(ctx: AppContext, biz: Business) -> None:
    from tests.factories import make_business

    make_business(ctx, slug="schulz", name="Schulz Elektro")
    _raw(
        ctx,
        update(s.journal)
        .where(s.journal.c.tenant_id == biz.tenant_id, s.journal.c.seq == 2)
        .values(ts=1),
    )
    assert not _verify(ctx, "mueller").ok
    assert _verify(ctx, "schulz").ok
    assert ctx.read(lambda rx: get_tenant_by_slug(rx, "schulz")) is not None


def test_head_that_records_fewer_entries_is_named(ctx: AppContext, biz: Business) -> None:
    _fill(ctx, biz, 3)
    count = _verify(ctx).count
    _raw(
        ctx,
        update(s.journal_heads)
        .where(s.journal_heads.c.tenant_id == biz.tenant_id)
        .values(seq=count - 2),
    )
    result = _verify(ctx)
    assert (result.ok, result.bad_seq) == (False, count - 1)
    assert "head" in result.problem


def test_verify_while_the_business_keeps_writing(ctx: AppContext, biz: Business) -> None:
    chat = _general_chat(ctx, biz)
    with ctx.engine.connect() as conn:
        results = verify_all(conn, ctx.keys, "mueller")
        # Writes that commit during the walk belong to the next verification.
        ctx.write(lambda tx: do_send_message(tx, biz.actor("worker"), chat, text="währenddessen"))
        results += verify_all(conn, ctx.keys, "mueller")
        conn.rollback()
    assert all(r.ok for r in results)
    assert results[0].count == results[1].count
    assert _verify(ctx).count == results[0].count + 1
