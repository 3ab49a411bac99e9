"""Files: what a file is (JSON), its bytes (with Range and ETag), its previews, and its
caption and tags.

Responses with file bytes are private to the people who may see the chat: Cache-Control
"private, no-cache" (a browser keeps them but asks again, so access is checked on every
use; an unchanged file costs a 304). Only photos, videos and voice messages are shown
inline; everything else (HTML, SVG, PDF, office files, text) is an attachment download,
and every file response carries nosniff and a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from zunft.blobs import segments
from zunft.blobs import uploads as up
from zunft.blobs.segments import BlobReader
from zunft.blobs.service import get_file, get_media_usage
from zunft.errors import ZunftError
from zunft.web.deps import Ctx, CurrentActor

router = APIRouter(tags=["files"])
INLINE_TYPES = frozenset(
    {
        "image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/avif",
        "video/mp4", "video/quicktime", "video/webm",
        "audio/webm", "audio/ogg", "audio/mp4",
    }
)  # fmt: skip
FILE_CSP = "default-src 'none'; sandbox; frame-ancestors 'none'"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ZunftError):
    status = 416
    code = "range_not_satisfiable"


def _disposition(kind: str, name: str) -> str:
    fallback = (
        "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)
        or "datei"
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) of a single "bytes=" range; None for the whole file. Several ranges
    at once are answered with the whole file, as RFC 9110 allows."""
    if header is None or "," in header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable("The range is empty.", size=size)
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or end < start:
        raise RangeNotSatisfiable(f"The file has {size} bytes.", size=size)
    return start, end


def _serve(
    request: Request, reader: BlobReader, *, etag: str, content_type: str, disposition: str
) -> Response:
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Accept-Ranges": "bytes",
        "Content-Disposition": disposition,
        "Content-Security-Policy": FILE_CSP,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    inm = request.headers.get("if-none-match")
    if inm is not None and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    size = reader.size
    if_range = request.headers.get("if-range")
    wanted = request.headers.get("range") if if_range in (None, etag) else None
    try:
        span = _byte_range(wanted, size)
    except RangeNotSatisfiable:
        return Response(
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    first, last = span if span is not None else (0, size - 1)
    if span is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)

    def body() -> Iterator[bytes]:
        if size:
            yield from reader.iter_range(first, last)

    return StreamingResponse(
        body(),
        status_code=206 if span is not None else 200,
        media_type=content_type,
        headers=headers,
    )


@router.get("/media/usage", summary="The business's storage: used, quota, largest file per kind")
def media_usage(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: get_media_usage(rx, actor, ctx.settings))


@router.get("/files/{file_id}", summary="What a file is: type, size, name, previews, metadata")
def file_info(file_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: get_file(rx, actor, file_id))


@router.get(
    "/files/{file_id}/content",
    summary="The original bytes (Range requests answered with 206)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def file_content(file_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> Response:
    row, reader = await run_in_threadpool(up.open_file, ctx, actor, file_id, segments.ORIGINAL)
    inline = row.content_type in INLINE_TYPES
    name = ctx.keys.cipher(actor.tenant_id).decrypt(f"blobs.name/{row.id}", row.name_enc)
    return _serve(
        request,
        reader,
        etag=f'"{row.id}"',
        content_type=row.content_type if inline else _download_type(row.content_type),
        disposition=_disposition("inline" if inline else "attachment", name),
    )


def _download_type(content_type: str) -> str:
    """Scriptable types leave as bytes to save, never as something a browser runs."""
    if content_type in {"text/html", "image/svg+xml"} or "xml" in content_type:
        return "application/octet-stream"
    if content_type == "text/plain":
        return "text/plain; charset=utf-8"
    return content_type


@router.get(
    "/files/{file_id}/preview",
    summary="A preview: size=thumb (320 px) or large (1280 px), upright, without location",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def file_preview(
    file_id: str,
    request: Request,
    actor: CurrentActor,
    ctx: Ctx,
    size: Literal["thumb", "large"] = "thumb",
) -> Response:
    row, reader = await run_in_threadpool(up.open_file, ctx, actor, file_id, size)
    return _serve(
        request,
        reader,
        etag=f'"{row.id}-{size}"',
        content_type="image/jpeg",
        disposition=_disposition("inline", f"{size}.jpg"),
    )
