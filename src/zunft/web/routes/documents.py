"""The generated compliance documents (Verfahrensdokumentation, Art. 30 record, TOM) as PDF."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from zunft.archive.documents import get_document
from zunft.web.deps import Ctx, CurrentActor

router = APIRouter(tags=["archive"])


@router.get(
    "/archive/documents/{name}",
    summary="A generated document for the tax adviser or data protection officer (owner, office)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def document(
    name: Literal["verfahrensdokumentation", "verzeichnis", "tom"],
    actor: CurrentActor,
    ctx: Ctx,
) -> Response:
    def build() -> tuple[str, bytes]:
        return ctx.read(lambda rx: get_document(rx, ctx.settings, actor, name))

    filename, pdf = await run_in_threadpool(build)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
