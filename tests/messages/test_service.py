"""Messages: send, reply, mention, edit with history, delete as tombstone, pages, read state."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.factories import Business, general_chat, journal_kinds
from zunft.chats.service import do_mark_read, get_chats
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.errors import Forbidden, Invalid, NotFound
from zunft.messages.service import (
    MAX_TEXT,
    do_delete_message,
    do_edit_message,
    do_send_message,
    get_history,
    get_revisions,
)
from zunft.projects.service import do_create_project


def send(
    ctx: AppContext, biz: Business, role: str, chat: str, text: str, **kw: Any
) -> dict[str, Any]:
    return ctx.write(lambda tx: do_send_message(tx, biz.actor(role), chat, text=text, **kw))


def test_send_returns_message_and_journals_it(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    msg = send(ctx, biz, "worker", chat, "  Material ist da.  ")
    assert msg["text"] == "Material ist da."
    assert msg["sender_id"] == biz.users["worker"]
    assert journal_kinds(ctx, biz.tenant_id)[-1] == "message.sent"
    page = ctx.read(lambda rx: get_history(rx, biz.actor("apprentice"), chat))
    assert [m["id"] for m in page["messages"]] == [msg["id"]]
    assert page["messages"][0]["seq"] == msg["seq"]


def test_text_limits(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    assert len(send(ctx, biz, "worker", chat, "x" * MAX_TEXT)["text"]) == MAX_TEXT
    with pytest.raises(Invalid) as exc:
        send(ctx, biz, "worker", chat, "x" * (MAX_TEXT + 1))
    assert exc.value.code == "text_too_long"
    for bad, code in (("   \n ", "empty_text"), ("Hallo\x00Welt", "invalid_text")):
        with pytest.raises(Invalid) as exc:
            send(ctx, biz, "worker", chat, bad)
        assert exc.value.code == code


def test_reply_must_be_in_same_chat(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    project = ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("office"), name="Bad Schneider", member_ids=[biz.users["worker"]]
        )
    )
    first = send(ctx, biz, "worker", chat, "Wer hat den Schlüssel?")
    reply = send(ctx, biz, "lead", chat, "Ich.", reply_to_id=first["id"])
    assert reply["reply_to_id"] == first["id"]
    with pytest.raises(Invalid) as exc:
        send(ctx, biz, "worker", project["chat_id"], "Antwort", reply_to_id=first["id"])
    assert exc.value.code == "invalid_reply_to"


def test_mentions_of_members_and_everyone(ctx: AppContext, biz: Business) -> None:
    project = ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("office"), name="Kita", member_ids=[biz.users["worker"]]
        )
    )
    msg = send(
        ctx, biz, "office", project["chat_id"], "Bitte prüfen", mentions=[biz.users["worker"]]
    )
    assert msg["mentions"] == [biz.users["worker"]]
    assert not msg["mention_all"]
    assert send(ctx, biz, "office", project["chat_id"], "@alle Treffen um 7")["mention_all"]
    assert not send(ctx, biz, "office", project["chat_id"], "mail@alle.de")["mention_all"]
    with pytest.raises(Invalid) as exc:
        send(ctx, biz, "office", project["chat_id"], "Hallo", mentions=[biz.users["apprentice"]])
    assert exc.value.code == "invalid_mention"


def test_edit_keeps_every_earlier_version(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    msg = send(ctx, biz, "worker", chat, "Termin Montag")
    ctx.write(
        lambda tx: do_edit_message(tx, biz.actor("worker"), msg["id"], text="Termin Dienstag")
    )
    edited = ctx.write(
        lambda tx: do_edit_message(tx, biz.actor("worker"), msg["id"], text="Termin Mittwoch")
    )
    assert edited["text"] == "Termin Mittwoch"
    assert edited["edit_count"] == 2
    assert edited["seq"] == msg["seq"]  # an edit does not move the message
    revs = ctx.read(lambda rx: get_revisions(rx, biz.actor("owner"), msg["id"]))
    assert [r["text"] for r in revs] == ["Termin Montag", "Termin Dienstag"]
    assert journal_kinds(ctx, biz.tenant_id)[-2:] == ["message.edited", "message.edited"]
    with pytest.raises(Forbidden):
        ctx.write(lambda tx: do_edit_message(tx, biz.actor("lead"), msg["id"], text="Meins"))
    with pytest.raises(Forbidden):
        ctx.read(lambda rx: get_revisions(rx, biz.actor("apprentice"), msg["id"]))


def test_delete_is_a_tombstone_for_readers_and_kept_for_the_archive(
    ctx: AppContext, biz: Business
) -> None:
    chat = general_chat(ctx, biz)
    msg = send(ctx, biz, "worker", chat, "Versehentlich gesendet")
    with pytest.raises(Forbidden):
        ctx.write(lambda tx: do_delete_message(tx, biz.actor("apprentice"), msg["id"]))
    gone = ctx.write(lambda tx: do_delete_message(tx, biz.actor("worker"), msg["id"]))
    assert gone["deleted"]
    assert gone["text"] is None
    page = ctx.read(lambda rx: get_history(rx, biz.actor("lead"), chat))
    assert page["messages"][-1]["deleted"]
    assert page["messages"][-1]["text"] is None
    row = ctx.read(
        lambda rx: rx.conn.execute(select(s.messages).where(s.messages.c.id == msg["id"])).one()
    )
    kept = ctx.keys.cipher(biz.tenant_id).decrypt(f"messages.body/{msg['id']}", row.body_enc)
    assert kept == "Versehentlich gesendet"
    assert journal_kinds(ctx, biz.tenant_id)[-1] == "message.deleted"
    with pytest.raises(NotFound):
        ctx.write(lambda tx: do_edit_message(tx, biz.actor("worker"), msg["id"], text="neu"))


def test_pages_in_both_directions_have_no_gap_or_duplicate(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    actor = biz.actor("worker")

    def many(tx: Any) -> list[int]:
        return [do_send_message(tx, actor, chat, text=f"Nr {i}")["seq"] for i in range(125)]

    seqs = ctx.write(many)
    seen: list[int] = []
    page = ctx.read(lambda rx: get_history(rx, actor, chat, limit=50))
    while True:
        seen = [m["seq"] for m in page["messages"]] + seen
        if not page["has_more"]:
            break
        oldest = page["messages"][0]["seq"]
        page = ctx.read(
            lambda rx, oldest=oldest: get_history(rx, actor, chat, before=oldest, limit=50)
        )
    assert seen == seqs  # oldest first, every message once
    forward: list[int] = []
    cursor = 0
    while True:
        page = ctx.read(
            lambda rx, cursor=cursor: get_history(rx, actor, chat, after=cursor, limit=40)
        )
        forward += [m["seq"] for m in page["messages"]]
        if not page["has_more"]:
            break
        cursor = forward[-1]
    assert forward == seqs
    with pytest.raises(Invalid):
        ctx.read(lambda rx: get_history(rx, actor, chat, before=5, after=1))


def test_unread_counts_and_read_markers(ctx: AppContext, biz: Business) -> None:
    chat = general_chat(ctx, biz)
    msgs = [send(ctx, biz, "worker", chat, f"Meldung {i}") for i in range(3)]

    def unread(role: str) -> int:
        chats = ctx.read(lambda rx: get_chats(rx, biz.actor(role)))
        return next(c["unread"] for c in chats if c["id"] == chat)

    assert unread("lead") == 3
    assert unread("worker") == 0  # own messages are read
    assert (
        ctx.write(lambda tx: do_mark_read(tx, biz.actor("lead"), chat, msgs[1]["seq"]))
        == msgs[1]["seq"]
    )
    assert unread("lead") == 1
    # A marker never moves back, and never past the chat's end.
    assert ctx.write(lambda tx: do_mark_read(tx, biz.actor("lead"), chat, 1)) == msgs[1]["seq"]
    assert ctx.write(lambda tx: do_mark_read(tx, biz.actor("lead"), chat, 10**9)) == msgs[2]["seq"]
    assert unread("lead") == 0
    doomed = send(ctx, biz, "worker", chat, "weg")
    ctx.write(lambda tx: do_delete_message(tx, biz.actor("worker"), doomed["id"]))
    assert unread("lead") == 0  # deleted messages do not count
