"""Signed checkpoints: made, verified, kept outside the database, daily and by e-mail; and
`verify --checkpoint` names entries cut off or rewritten since."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update

from tests.factories import Business, general_chat
from zunft.archive.checkpoint import (
    CheckpointError,
    check_against_journal,
    make_checkpoint,
    newest_checkpoint_file,
    verify_checkpoint,
    write_checkpoint_file,
)
from zunft.clock import FakeClock
from zunft.config import Settings
from zunft.context import AppContext
from zunft.crypto.signing import load_signing_key, public_bytes
from zunft.db import schema as s
from zunft.due import run_due
from zunft.journal.chain import entry_hash
from zunft.messages.service import do_send_message


def _fill(ctx: AppContext, biz: Business, n: int) -> None:
    chat = general_chat(ctx, biz)
    for i in range(n):
        ctx.write(
            lambda tx, i=i: do_send_message(tx, biz.actor("worker"), chat, text=f"Nachricht {i}")
        )


def _checkpoint(ctx: AppContext, biz: Business) -> bytes:
    key = load_signing_key(ctx.settings)
    return ctx.read(lambda rx: make_checkpoint(rx, biz.tenant_id, key))


def _check(ctx: AppContext, data: bytes) -> Any:
    cp = verify_checkpoint(data, public_key=public_bytes(load_signing_key(ctx.settings)))
    with ctx.engine.connect() as conn:
        return check_against_journal(conn, ctx.keys, cp)


def test_checkpoint_records_count_and_head_and_verifies(ctx: AppContext, biz: Business) -> None:
    _fill(ctx, biz, 3)
    data = _checkpoint(ctx, biz)
    doc = json.loads(data)
    head = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.journal_heads).where(s.journal_heads.c.tenant_id == biz.tenant_id)
        ).one()
    )
    assert doc["entries"] == head.seq
    assert doc["head"] == head.head_hash.hex()
    assert doc["business"] == "mueller"
    assert len(doc["key_id"]) == 16
    assert _check(ctx, data).ok
    _fill(ctx, biz, 2)  # the journal grows: the checkpoint still holds
    result = _check(ctx, data)
    assert result.ok
    assert result.journal_count == head.seq + 2


def test_altered_or_foreign_checkpoints_are_refused(ctx: AppContext, biz: Business) -> None:
    data = _checkpoint(ctx, biz)
    doc = json.loads(data)
    doc["entries"] -= 1
    with pytest.raises(CheckpointError, match="signature is wrong"):
        verify_checkpoint(json.dumps(doc).encode())
    stranger = public_bytes(Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError, match="another key"):
        verify_checkpoint(data, public_key=stranger)
    with pytest.raises(CheckpointError, match=r"malformed|not a checkpoint"):
        verify_checkpoint(b"{}")
    with pytest.raises(CheckpointError, match="malformed"):
        verify_checkpoint(b"\xff\xfe")


def test_entries_cut_off_with_the_head_fixed_up_are_named(ctx: AppContext, biz: Business) -> None:
    """The case the chain alone cannot see: the newest entries deleted and journal_heads set
    back consistently. `verify` passes; the checkpoint does not."""
    _fill(ctx, biz, 4)
    data = _checkpoint(ctx, biz)
    count = json.loads(data)["entries"]
    keep = count - 3
    with ctx.engine.begin() as conn:
        t, jp = biz.tenant_id, s.journal_payloads
        conn.execute(delete(jp).where(jp.c.tenant_id == t, jp.c.seq > keep))
        conn.execute(delete(s.journal).where(s.journal.c.tenant_id == t, s.journal.c.seq > keep))
        new_head = conn.execute(
            select(s.journal.c.entry_hash).where(
                s.journal.c.tenant_id == t, s.journal.c.seq == keep
            )
        ).scalar_one()
        conn.execute(
            update(s.journal_heads)
            .where(s.journal_heads.c.tenant_id == t)
            .values(seq=keep, head_hash=new_head)
        )
    result = _check(ctx, data)
    assert not result.ok
    assert result.problem.startswith(f"entries {keep + 1} to {count} are missing")


def test_a_consistently_rewritten_journal_is_named(ctx: AppContext, biz: Business) -> None:
    """Someone changes an entry and recomputes every later hash and the head: `verify`
    passes, the checkpoint names the position where the journal no longer matches."""
    _fill(ctx, biz, 3)
    data = _checkpoint(ctx, biz)
    count = json.loads(data)["entries"]
    t = biz.tenant_id
    with ctx.engine.begin() as conn:
        rows = conn.execute(
            select(s.journal).where(s.journal.c.tenant_id == t).order_by(s.journal.c.seq)
        ).all()
        prev = rows[count - 3].prev_hash
        for r in rows[count - 3 :]:
            ts = r.ts + 1000 if r.seq == count - 2 else r.ts
            new = entry_hash(
                tenant_id=t, seq=r.seq, ts=ts, kind=r.kind, actor_id=r.actor_id,
                chat_id=r.chat_id, prev_hash=prev, payload_digest=r.payload_hash,
            )  # fmt: skip
            conn.execute(
                update(s.journal)
                .where(s.journal.c.tenant_id == t, s.journal.c.seq == r.seq)
                .values(ts=ts, prev_hash=prev, entry_hash=new)
            )
            prev = new
        conn.execute(
            update(s.journal_heads).where(s.journal_heads.c.tenant_id == t).values(head_hash=prev)
        )
    from zunft.archive.verify import verify_all

    with ctx.engine.connect() as conn:
        [plain] = verify_all(conn, ctx.keys, "mueller")
    assert plain.ok  # the chain alone cannot tell
    result = _check(ctx, data)
    assert not result.ok
    assert result.problem.startswith(f"entry {count} differs")


def test_checkpoint_files_and_the_newest(ctx: AppContext, biz: Business, clock: FakeClock) -> None:
    directory = ctx.settings.checkpoint_path
    assert newest_checkpoint_file(directory, "mueller") is None
    first = write_checkpoint_file(directory, "mueller", _checkpoint(ctx, biz), ctx.now_ms())
    clock.advance(hours=2)
    second = write_checkpoint_file(directory, "mueller", _checkpoint(ctx, biz), ctx.now_ms())
    assert first != second
    assert newest_checkpoint_file(directory, "mueller") == (second, ctx.now_ms())


# --- the daily job and its e-mail ------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def settings(settings: Settings, inbox: tuple[Inbox, int], tmp_path: Path) -> Settings:
    return settings.with_overrides(
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_from="zunft@mueller.example",
        smtp_starttls=False,
        checkpoint_dir=str(tmp_path / "elsewhere"),
    )


def test_daily_checkpoint_is_written_once_a_day_and_mailed_to_the_owner(
    ctx: AppContext, biz: Business, clock: FakeClock, inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    assert run_due(ctx)["checkpoints"] == 1
    assert run_due(ctx)["checkpoints"] == 0  # the file is the state: nothing due
    folder = tmp_path / "elsewhere" / "mueller"
    [written] = list(folder.iterdir())
    [(to, message)] = inbox[0].messages
    assert to == [biz.emails["owner"]]
    assert "Prüfpunkt" in str(message["Subject"])
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == written.read_bytes()
    assert _check(ctx, written.read_bytes()).ok
    clock.advance(hours=23)
    assert run_due(ctx)["checkpoints"] == 0
    clock.advance(hours=1)
    assert run_due(ctx)["checkpoints"] == 1
    assert len(list(folder.iterdir())) == 2
    assert len(inbox[0].messages) == 2
