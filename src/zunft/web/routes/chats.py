"""Chats: list, channels, direct chats, members, read markers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from zunft.chats.service import (
    access_chat,
    do_change_membership,
    do_create_channel,
    do_mark_read,
    do_open_direct_chat,
    get_chats,
    get_members,
)
from zunft.db.tx import Tx
from zunft.web.deps import Ctx, CurrentActor, write_once
from zunft.web.models import ChannelIn, DirectIn, MemberIn, ReadIn

router = APIRouter(tags=["chats"])


def _chat(tx: Tx, actor: Any, chat_id: str) -> dict[str, Any]:
    access_chat(tx, actor, chat_id)
    return next(c for c in get_chats(tx, actor) if c["id"] == chat_id)


@router.get("/chats", summary="My chats with unread counts and last message, newest first")
def list_chats(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"chats": ctx.read(lambda rx: get_chats(rx, actor))}


@router.post("/chats/channels", status_code=201, summary="Create a company channel (owner, office)")
def create_channel(
    body: ChannelIn, actor: CurrentActor, response: Response, ctx: Ctx
) -> dict[str, Any]:
    def work(tx: Tx) -> dict[str, Any]:
        chat_id = do_create_channel(tx, actor, title=body.title, member_ids=body.member_ids)
        return _chat(tx, actor, chat_id)

    return write_once(
        ctx, actor, response, body.client_id, body.model_dump(exclude={"client_id"}), work
    )


@router.post("/chats/direct", summary="Open (or create) my 1:1 chat with a colleague")
def open_direct(body: DirectIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(lambda tx: _chat(tx, actor, do_open_direct_chat(tx, actor, body.user_id)))


@router.get("/chats/{chat_id}", summary="One chat")
def chat(chat_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: _chat(rx, actor, chat_id))  # type: ignore[arg-type]


@router.get("/chats/{chat_id}/members", summary="Members of a chat with their read markers")
def chat_members(chat_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"members": ctx.read(lambda rx: get_members(rx, actor, chat_id))}


@router.post(
    "/chats/{chat_id}/members", status_code=204, summary="Add a member to a channel or project chat"
)
def add_member(chat_id: str, body: MemberIn, actor: CurrentActor, ctx: Ctx) -> Response:
    ctx.write(lambda tx: do_change_membership(tx, actor, chat_id, body.user_id, add=True))
    return Response(status_code=204)


@router.delete("/chats/{chat_id}/members/{user_id}", status_code=204, summary="Remove a member")
def remove_member(chat_id: str, user_id: str, actor: CurrentActor, ctx: Ctx) -> Response:
    ctx.write(lambda tx: do_change_membership(tx, actor, chat_id, user_id, add=False))
    return Response(status_code=204)


@router.post("/chats/{chat_id}/read", summary="Mark the chat read up to a sequence number")
def mark_read(chat_id: str, body: ReadIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"last_read_seq": ctx.write(lambda tx: do_mark_read(tx, actor, chat_id, body.seq))}
