"""Messages: history, send, edit, delete, earlier versions; and search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Response

from zunft.accounts.actor import Actor
from zunft.db.tx import Tx
from zunft.messages.service import (
    do_delete_message,
    do_edit_message,
    do_send_message,
    get_history,
    get_revisions,
)
from zunft.search.service import get_search_results
from zunft.web.deps import Ctx, CurrentActor, awrite_once
from zunft.web.models import MessageEditIn, MessageIn

router = APIRouter(tags=["messages"])
# Sequence numbers are 64-bit in both databases; a larger cursor would fail in the driver.
MAX_SEQ = 2**63 - 1


@router.get(
    "/chats/{chat_id}/messages", summary="A page of history (before or after a seq), oldest first"
)
def history(
    chat_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    before: int | None = Query(default=None, ge=0, le=MAX_SEQ),
    after: int | None = Query(default=None, ge=0, le=MAX_SEQ),
    limit: int = Query(default=50, ge=1, le=200),
) -> dict[str, Any]:
    return ctx.read(
        lambda rx: get_history(rx, actor, chat_id, before=before, after=after, limit=limit)
    )


@router.post(
    "/chats/{chat_id}/messages", status_code=201, summary="Send a message (idempotent by client_id)"
)
async def send(
    chat_id: str, body: MessageIn, actor: CurrentActor, response: Response, ctx: Ctx
) -> dict[str, Any]:
    # async: the busiest route waits for its group commit on the event loop, not on one of
    # the worker threads (docs/performance.md, "HTTP").
    request, work = send_request(actor, chat_id, body)
    return await awrite_once(ctx, actor, response, body.client_id, request, work)


def send_request(
    actor: Actor, chat_id: str, body: MessageIn
) -> tuple[dict[str, Any], Callable[[Tx], dict[str, Any]]]:
    """What identifies a send for its client id, and the send itself: one definition for
    this route and the stream's `send` frame, so a retry over either path finds the first."""
    request = {"chat_id": chat_id, **body.model_dump(exclude={"client_id"})}

    def work(tx: Tx) -> dict[str, Any]:
        return do_send_message(
            tx,
            actor,
            chat_id,
            text=body.text,
            reply_to_id=body.reply_to_id,
            mentions=body.mentions,
            attachments=body.attachments,
        )

    return request, work


@router.patch("/messages/{message_id}", summary="Edit my message (earlier versions are kept)")
def edit(message_id: str, body: MessageEditIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(lambda tx: do_edit_message(tx, actor, message_id, text=body.text))


@router.delete("/messages/{message_id}", summary="Delete a message (readers see a tombstone)")
def delete(message_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(lambda tx: do_delete_message(tx, actor, message_id))


@router.get("/messages/{message_id}/revisions", summary="Earlier versions of a message")
def revisions(message_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"revisions": ctx.read(lambda rx: get_revisions(rx, actor, message_id))}


@router.get("/search", summary="Search messages in the chats I may see (German word stems)")
def search(
    actor: CurrentActor,
    ctx: Ctx,
    q: str = Query(max_length=200),
    chat_id: str | None = None,
    before: int | None = Query(default=None, ge=0, le=MAX_SEQ),
    limit: int = Query(default=30, ge=1, le=100),
) -> dict[str, Any]:
    ctx.search.settle(actor.tenant_id)  # everything acknowledged before this search
    return ctx.read(
        lambda rx: get_search_results(
            rx, ctx.search, actor, q, chat_id=chat_id, before=before, limit=limit
        )
    )
