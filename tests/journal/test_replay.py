"""The journal is the record: replaying its events rebuilds what the tables say (Zulip's
"initial state + events = fresh state"), so realtime, resume and export can trust it."""

from __future__ import annotations

from typing import Any

from tests.factories import Business
from zunft.chats.service import do_change_membership, get_members
from zunft.context import AppContext
from zunft.journal.read import get_entries
from zunft.messages.service import do_delete_message, do_edit_message, do_send_message, get_history
from zunft.projects.service import do_create_project


def replay_chat(events: list[Any], chat_id: str) -> tuple[dict[str, dict[str, Any]], set[str]]:
    messages: dict[str, dict[str, Any]] = {}
    members: set[str] = set()
    for e in events:
        p = e.payload
        if e.kind == "message.sent" and p["chat_id"] == chat_id:
            messages[p["message_id"]] = {
                "seq": e.seq,
                "text": p["text"],
                "sender_id": p["sender_id"],
                "deleted": False,
            }
        elif e.kind == "message.edited" and p["chat_id"] == chat_id:
            messages[p["message_id"]]["text"] = p["text"]
        elif e.kind == "message.deleted" and p["chat_id"] == chat_id:
            messages[p["message_id"]].update(text=None, deleted=True)
        elif e.kind == "chat.member_added" and p["chat_id"] == chat_id:
            members.add(p["user_id"])
        elif e.kind == "chat.member_removed" and p["chat_id"] == chat_id:
            members.discard(p["user_id"])
    return messages, members


def test_replayed_events_equal_fresh_state(ctx: AppContext, biz: Business) -> None:
    office, worker, lead = biz.actor("office"), biz.actor("worker"), biz.actor("lead")
    project = ctx.write(
        lambda tx: do_create_project(
            tx, office, name="Kita", member_ids=[biz.users["worker"], biz.users["apprentice"]]
        )
    )
    chat = project["chat_id"]
    a = ctx.write(lambda tx: do_send_message(tx, worker, chat, text="Kessel ist da"))
    b = ctx.write(lambda tx: do_send_message(tx, office, chat, text="Danke"))
    ctx.write(lambda tx: do_edit_message(tx, worker, a["id"], text="Kessel ist geliefert"))
    ctx.write(lambda tx: do_delete_message(tx, office, b["id"]))
    ctx.write(lambda tx: do_change_membership(tx, office, chat, biz.users["apprentice"], add=False))
    ctx.write(lambda tx: do_change_membership(tx, office, chat, biz.users["lead"], add=True))
    ctx.write(lambda tx: do_send_message(tx, lead, chat, text="Ich übernehme"))

    events = ctx.read(lambda rx: get_entries(rx, biz.tenant_id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    replayed, members = replay_chat(events, chat)

    fresh = ctx.read(lambda rx: get_history(rx, office, chat))["messages"]
    assert replayed == {
        m["id"]: {
            "seq": m["seq"],
            "text": m["text"],
            "sender_id": m["sender_id"],
            "deleted": m["deleted"],
        }
        for m in fresh
    }
    assert members == {m["user_id"] for m in ctx.read(lambda rx: get_members(rx, office, chat))}


def test_entries_after_a_cursor(ctx: AppContext, biz: Business) -> None:
    all_events = ctx.read(lambda rx: get_entries(rx, biz.tenant_id))
    cursor = all_events[-3].seq
    tail = ctx.read(lambda rx: get_entries(rx, biz.tenant_id, after=cursor))
    assert [e.seq for e in tail] == [e.seq for e in all_events[-2:]]
    assert (
        ctx.read(lambda rx: get_entries(rx, biz.tenant_id, after=cursor, limit=1))[0].seq
        == cursor + 1
    )
