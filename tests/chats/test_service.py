"""Who sees which chat; channels, direct chats, members, read-only archived projects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import Business, general_chat, journal_kinds, make_business
from zunft.chats.service import (
    access_chat,
    do_change_membership,
    do_create_channel,
    do_open_direct_chat,
    get_chats,
)
from zunft.context import AppContext
from zunft.errors import Conflict, Forbidden, Invalid, NotFound
from zunft.messages.service import do_send_message, get_history
from zunft.projects.service import do_create_project, do_update_project


def chat_ids(ctx: AppContext, biz: Business, role: str) -> set[str]:
    return {c["id"] for c in ctx.read(lambda rx: get_chats(rx, biz.actor(role)))}


def project(ctx: AppContext, biz: Business, members: list[str]) -> dict[str, Any]:
    return ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("office"), name="Dach Weber", member_ids=[biz.users[r] for r in members]
        )
    )


def test_everyone_is_in_allgemein(ctx: AppContext, biz: Business) -> None:
    general = general_chat(ctx, biz)
    for role in biz.users:
        chats = ctx.read(lambda rx, role=role: get_chats(rx, biz.actor(role)))
        assert [c["title"] for c in chats if c["id"] == general] == ["Allgemein"]


def test_workers_see_member_chats_admins_see_all_but_others_directs(
    ctx: AppContext, biz: Business
) -> None:
    p = project(ctx, biz, ["worker"])
    direct = ctx.write(lambda tx: do_open_direct_chat(tx, biz.actor("worker"), biz.users["lead"]))
    assert p["chat_id"] in chat_ids(ctx, biz, "worker")
    assert p["chat_id"] not in chat_ids(ctx, biz, "apprentice")
    for role in ("owner", "office"):
        assert p["chat_id"] in chat_ids(ctx, biz, role)
        assert direct not in chat_ids(ctx, biz, role)  # 1:1 chats stay between their two
    assert direct in chat_ids(ctx, biz, "lead")
    with pytest.raises(NotFound):
        ctx.read(lambda rx: access_chat(rx, biz.actor("apprentice"), p["chat_id"]))
    with pytest.raises(NotFound):
        ctx.read(lambda rx: get_history(rx, biz.actor("owner"), direct))


def test_direct_chat_is_created_once(ctx: AppContext, biz: Business) -> None:
    first = ctx.write(lambda tx: do_open_direct_chat(tx, biz.actor("worker"), biz.users["lead"]))
    again = ctx.write(lambda tx: do_open_direct_chat(tx, biz.actor("lead"), biz.users["worker"]))
    assert first == again
    with pytest.raises(Invalid):
        ctx.write(lambda tx: do_open_direct_chat(tx, biz.actor("lead"), biz.users["lead"]))
    titles = {c["id"]: c["title"] for c in ctx.read(lambda rx: get_chats(rx, biz.actor("worker")))}
    assert titles[first] == "Lead mueller"
    # Each side is told who the other is (the app shows their presence); others have none.
    for me, other in (("worker", "lead"), ("lead", "worker")):
        peers = {
            c["id"]: c["peer_id"] for c in ctx.read(lambda rx, me=me: get_chats(rx, biz.actor(me)))
        }
        assert peers[first] == biz.users[other]
        assert peers[general_chat(ctx, biz)] is None


def test_channels_only_by_owner_and_office(ctx: AppContext, biz: Business) -> None:
    with pytest.raises(Forbidden):
        ctx.write(
            lambda tx: do_create_channel(tx, biz.actor("lead"), title="Werkstatt", member_ids=[])
        )
    chat = ctx.write(
        lambda tx: do_create_channel(
            tx, biz.actor("office"), title="Werkstatt", member_ids=[biz.users["worker"]]
        )
    )
    assert chat in chat_ids(ctx, biz, "worker")
    assert chat not in chat_ids(ctx, biz, "apprentice")
    assert journal_kinds(ctx, biz.tenant_id)[-3:] == [
        "chat.created",
        "chat.member_added",
        "chat.member_added",
    ]


def test_removed_member_loses_access_at_once(ctx: AppContext, biz: Business) -> None:
    p = project(ctx, biz, ["worker", "apprentice"])
    ctx.write(lambda tx: do_send_message(tx, biz.actor("worker"), p["chat_id"], text="Hallo"))
    # The project's lead (none here) or admins manage members; a worker may not.
    with pytest.raises(Forbidden):
        ctx.write(
            lambda tx: do_change_membership(
                tx, biz.actor("worker"), p["chat_id"], biz.users["apprentice"], add=False
            )
        )
    ctx.write(
        lambda tx: do_change_membership(
            tx, biz.actor("office"), p["chat_id"], biz.users["apprentice"], add=False
        )
    )
    assert p["chat_id"] not in chat_ids(ctx, biz, "apprentice")
    with pytest.raises(NotFound):
        ctx.read(lambda rx: get_history(rx, biz.actor("apprentice"), p["chat_id"]))
    assert journal_kinds(ctx, biz.tenant_id)[-1] == "chat.member_removed"


def test_default_channel_and_direct_members_are_fixed(ctx: AppContext, biz: Business) -> None:
    general = general_chat(ctx, biz)
    with pytest.raises(Forbidden):
        ctx.write(
            lambda tx: do_change_membership(
                tx, biz.actor("owner"), general, biz.users["worker"], add=False
            )
        )


def test_archived_project_chat_is_read_only(ctx: AppContext, biz: Business) -> None:
    p = project(ctx, biz, ["worker"])
    ctx.write(
        lambda tx: do_update_project(tx, biz.actor("office"), p["id"], {"status": "archived"})
    )
    with pytest.raises(Conflict) as exc:
        ctx.write(
            lambda tx: do_send_message(tx, biz.actor("worker"), p["chat_id"], text="Noch was")
        )
    assert exc.value.code == "chat_read_only"
    assert ctx.read(lambda rx: get_history(rx, biz.actor("worker"), p["chat_id"]))["messages"] == []


def test_other_business_chats_are_invisible(ctx: AppContext, biz: Business) -> None:
    other = make_business(ctx, slug="schulz", name="Schulz Elektro")
    theirs = general_chat(ctx, other)
    assert theirs not in chat_ids(ctx, biz, "owner")
    with pytest.raises(NotFound):
        ctx.read(lambda rx: access_chat(rx, biz.actor("owner"), theirs))
    with pytest.raises(NotFound):
        ctx.write(lambda tx: do_send_message(tx, biz.actor("owner"), theirs, text="Hallo Nachbar"))
    with pytest.raises(NotFound):
        ctx.write(lambda tx: do_open_direct_chat(tx, biz.actor("owner"), other.users["owner"]))
