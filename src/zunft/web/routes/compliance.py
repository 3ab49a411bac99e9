"""Retention rules, document classes, legal holds, GDPR requests and the audit log
(docs/compliance.md). Owner and office; the domain functions check who may do what."""

from __future__ import annotations

import tempfile
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from zunft.retention.audit import get_audit_log
from zunft.retention.classify import (
    access_message_class,
    do_reclassify_file,
    do_reclassify_message,
    do_set_chat_class,
)
from zunft.retention.gdpr import (
    erasure_answer_pdf,
    get_answer,
    get_people,
    get_requests,
    request_erasure,
    write_access_export,
)
from zunft.retention.holds import do_lift_hold, do_set_hold, get_holds
from zunft.retention.rules import do_set_rule, get_rules
from zunft.web.deps import Ctx, CurrentActor
from zunft.web.models import DocClassIn, LegalHoldIn, RetentionRuleIn

router = APIRouter(tags=["compliance"])


@router.get("/compliance/retention", summary="Retention rules per document class (owner, office)")
def retention(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"rules": ctx.read(lambda rx: get_rules(rx, actor))}


@router.put("/compliance/retention", summary="Lengthen or change a class's retention (owner)")
def set_retention(body: RetentionRuleIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"rules": ctx.write(lambda tx: do_set_rule(tx, actor, body.doc_class, body.years))}


@router.get("/messages/{message_id}/class", summary="A message's document class (owner, office)")
def message_class(message_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: access_message_class(rx, actor, message_id))


@router.put("/messages/{message_id}/class", summary="Reclassify a message (owner, office)")
def reclassify_message(
    message_id: str, body: DocClassIn, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    return ctx.write(lambda tx: do_reclassify_message(tx, actor, message_id, body.doc_class))


@router.put("/files/{file_id}/class", summary="Reclassify a file (owner, office)")
def reclassify_file(
    file_id: str, body: DocClassIn, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    return ctx.write(lambda tx: do_reclassify_file(tx, actor, file_id, body.doc_class))


@router.put("/chats/{chat_id}/class", summary="A chat's class for new content (owner, office)")
def chat_class(chat_id: str, body: DocClassIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(lambda tx: do_set_chat_class(tx, actor, chat_id, body.doc_class))


@router.get("/compliance/holds", summary="Legal holds (owner, office)")
def holds(actor: CurrentActor, ctx: Ctx, include_lifted: bool = False) -> dict[str, Any]:
    return {"holds": ctx.read(lambda rx: get_holds(rx, actor, include_lifted=include_lifted))}


@router.post("/compliance/holds", status_code=201, summary="Set a legal hold (owner, office)")
def set_hold(body: LegalHoldIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(
        lambda tx: do_set_hold(
            tx, actor, target_kind=body.target_kind, target_id=body.target_id, reason=body.reason
        )
    )


@router.post("/compliance/holds/{hold_id}/lift", summary="Lift a legal hold (owner)")
def lift_hold(hold_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(lambda tx: do_lift_hold(tx, actor, hold_id))


@router.get("/compliance/people", summary="Everyone a GDPR request can be about (owner, office)")
def people(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"people": ctx.read(lambda rx: get_people(rx, actor))}


@router.post(
    "/compliance/people/{user_id}/access-export",
    summary="GDPR access export of a person: ZIP with JSON, PDF summary, files (owner, office)",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
async def access_export(user_id: str, actor: CurrentActor, ctx: Ctx) -> Response:
    # Spooled: small exports stay in memory, large ones (photos) go to a temporary file.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (closed below)
    try:
        await run_in_threadpool(write_access_export, ctx, actor, user_id, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)

    def chunks() -> Any:
        try:
            while block := out.read(256 * 1024):
                yield block
        finally:
            out.close()

    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="Auskunft.zip"'},
    )


@router.post(
    "/compliance/people/{user_id}/erasure",
    summary="GDPR erasure request: erase what no duty keeps, schedule the rest (owner, office)",
)
def erasure(user_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return request_erasure(ctx, actor, user_id)


@router.get("/compliance/requests", summary="GDPR requests answered (owner, office)")
def requests(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"requests": ctx.read(lambda rx: get_requests(rx, actor))}


@router.get(
    "/compliance/requests/{request_id}/answer",
    summary="The written answer to an erasure request, as PDF (owner, office)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def answer(request_id: str, actor: CurrentActor, ctx: Ctx) -> Response:
    text = ctx.read(lambda rx: get_answer(rx, actor, request_id))
    return Response(
        erasure_answer_pdf(text),
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="Antwort-Loeschung.pdf"'},
    )


@router.get("/compliance/audit", summary="The audit log: administrative actions (owner)")
def audit(
    actor: CurrentActor,
    ctx: Ctx,
    kind: str | None = Query(None, max_length=64),
    person: str | None = Query(None, max_length=26),
    since: int | None = None,
    until: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    return ctx.read(
        lambda rx: get_audit_log(
            rx,
            actor,
            kind=kind,
            person=person,
            since=since,
            until=until,
            before=before,
            limit=limit,
        )
    )
