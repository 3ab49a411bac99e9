"""Uploads: the tus 1.0 resumable protocol (core, creation, termination, expiration) and a
plain single-request upload for small files. Bodies stream; the JSON guard lets them by.

tus metadata (Upload-Metadata) keys: chat_id (required), filename, caption, client_id
(a retried creation with the same client_id returns the first upload). The upload's id is
the file's id once the last byte arrived: GET /api/v1/files/{id}.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from zunft.blobs import uploads as up
from zunft.blobs.service import TooLarge, access_file, access_upload
from zunft.errors import Invalid, NotFound, ZunftError
from zunft.web.deps import Ctx, CurrentActor

router = APIRouter(tags=["files"])
STREAM_PREFIXES = ("/api/v1/uploads",)
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
_DIGITS = re.compile(r"^[0-9]{1,19}$")


class PreconditionFailed(ZunftError):
    status = 412
    code = "tus_version_unsupported"


class UnsupportedMediaType(ZunftError):
    status = 415
    code = "unsupported_media_type"


class LengthRequired(ZunftError):
    status = 411
    code = "length_required"


def _http_date(ms: int) -> str:
    return format_datetime(datetime.fromtimestamp(ms / 1000, UTC), usegmt=True)


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, **extra}


def _check_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise PreconditionFailed(
            f"This server speaks tus {TUS_VERSION} (header Tus-Resumable).",
            tus_version=TUS_VERSION,
        )


def _number(request: Request, header: str) -> int:
    value = request.headers.get(header)
    if value is None or not _DIGITS.match(value.strip()):
        raise ZunftError(f"The header {header} must be a whole number.", code="invalid_header")
    return int(value.strip())


def _metadata(header: str | None) -> dict[str, str]:
    """Upload-Metadata: "key base64value,key2 base64value2"."""
    found: dict[str, str] = {}
    for item in (header or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition(" ")
        try:
            found[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ZunftError(
                f"Upload-Metadata: the value of {key!r} is not base64 of UTF-8 text.",
                code="invalid_metadata",
            ) from None
        if "\x00" in found[key]:
            raise ZunftError("Upload-Metadata contains a NUL character.", code="invalid_metadata")
    return found


class _Body:
    """The request body as an async iterator that simply ends when the client goes away."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.disconnected = False

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.request.stream():
                if chunk:
                    yield chunk
        except ClientDisconnect:
            self.disconnected = True


@router.options("/uploads", summary="tus: what this server supports")
def tus_options(ctx: Ctx) -> Response:
    return Response(
        status_code=204,
        headers=_tus_headers(
            **{
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": TUS_EXTENSIONS,
                "Tus-Max-Size": str(up.default_max_file_bytes(ctx)),
            }
        ),
    )


def _bytes_body(media_type: str) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads raw bytes itself."""
    schema = {"type": "string", "format": "binary"}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


@router.post(
    "/uploads",
    status_code=201,
    summary="tus: start an upload (creation)",
    description="Headers: `Tus-Resumable: 1.0.0`, `Upload-Length`, `Upload-Metadata` with "
    "`chat_id` (required), `filename`, `caption`, `client_id` (base64 values). Answers 201 "
    "with `Location` and `Upload-Expires`. docs/media.md.",
)
def tus_create(request: Request, actor: CurrentActor, ctx: Ctx) -> Response:
    _check_tus(request)
    if request.headers.get("upload-defer-length") is not None:
        raise ZunftError(
            "Give Upload-Length; deferred lengths are not supported.", code="length_required"
        )
    length = _number(request, "upload-length")
    meta = _metadata(request.headers.get("upload-metadata"))
    chat_id = meta.get("chat_id")
    if not chat_id:
        raise Invalid("Upload-Metadata needs the chat_id.", code="chat_id_required")
    upload, replayed = up.create_upload(
        ctx,
        actor,
        chat_id=chat_id,
        length=length,
        name=meta.get("filename") or meta.get("name"),
        caption=meta.get("caption"),
        client_id=meta.get("client_id"),
    )
    headers = _tus_headers(
        Location=f"/api/v1/uploads/{upload['id']}",
        **{"Upload-Expires": _http_date(upload["expires_at"])},
    )
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(status_code=201, headers=headers)


def _finished_file(ctx: Ctx, actor: Any, upload_id: str) -> Any:
    """A HEAD after the last PATCH's answer got lost: the upload is now a file."""
    try:
        row = ctx.read(lambda rx: access_file(rx, actor, upload_id))
    except NotFound:
        return None
    return row if row.uploader_id == actor.user_id else None


@router.head(
    "/uploads/{upload_id}",
    summary="tus: how much of the upload is stored",
    description="Answers `Upload-Offset`, `Upload-Length`, `Upload-Expires` (410 once expired).",
)
def tus_head(upload_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> Response:
    # The id first: an upload of someone else answers 404 whatever the headers say.
    try:
        row = ctx.read(lambda rx: access_upload(rx, actor, upload_id))
    except NotFound:
        done = _finished_file(ctx, actor, upload_id)
        if done is None:
            raise
        _check_tus(request)
        return Response(
            status_code=200,
            headers=_tus_headers(
                **{
                    "Upload-Offset": str(done.size),
                    "Upload-Length": str(done.size),
                    "Cache-Control": "no-store",
                }
            ),
        )
    _check_tus(request)
    return Response(
        status_code=200,
        headers=_tus_headers(
            **{
                "Upload-Offset": str(row.offset),
                "Upload-Length": str(row.length),
                "Upload-Expires": _http_date(row.expires_at),
                "Cache-Control": "no-store",
            }
        ),
    )


@router.patch(
    "/uploads/{upload_id}",
    status_code=204,
    summary="tus: append bytes at an offset",
    description="Headers: `Tus-Resumable: 1.0.0`, `Upload-Offset`, `Content-Type: "
    "application/offset+octet-stream`. Answers 204 with the new `Upload-Offset`; the request "
    "that completes the upload also gets `Zunft-File-Id` (the file, GET /files/{id}).",
    openapi_extra=_bytes_body(OFFSET_STREAM),
)
async def tus_patch(upload_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> Response:
    row = await run_in_threadpool(ctx.read, lambda rx: access_upload(rx, actor, upload_id))
    _check_tus(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != OFFSET_STREAM:
        raise UnsupportedMediaType(f"Send the bytes as {OFFSET_STREAM}.")
    offset = _number(request, "upload-offset")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and offset + int(declared) > row.length:
        raise TooLarge(
            "The request carries more bytes than the upload's declared length.",
            code="upload_length_exceeded",
        )
    body = _Body(request)
    received = await up.receive(ctx, actor, upload_id, offset, body.chunks())
    headers = _tus_headers(
        **{
            "Upload-Offset": str(received.offset),
            "Upload-Expires": _http_date(received.expires_at),
        }
    )
    if received.file is not None:
        headers["Zunft-File-Id"] = received.file["id"]
    return Response(status_code=204, headers=headers)


@router.delete("/uploads/{upload_id}", status_code=204, summary="tus: give up an upload")
def tus_delete(upload_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> Response:
    ctx.read(lambda rx: access_upload(rx, actor, upload_id))
    _check_tus(request)
    up.terminate(ctx, actor, upload_id)
    return Response(status_code=204, headers=_tus_headers())


@router.post(
    "/uploads/single",
    status_code=201,
    summary="Upload a small file in one request (the body is the file)",
    description="The body is the file's bytes with a `Content-Length`; the type is detected "
    "from the bytes. Answers 201 with the file (as GET /files/{id}).",
    openapi_extra=_bytes_body("application/octet-stream"),
)
async def single_upload(
    request: Request,
    response: Response,
    actor: CurrentActor,
    ctx: Ctx,
    chat_id: str = Query(max_length=26),
    name: str | None = Query(default=None, max_length=200),
    caption: str | None = Query(default=None, max_length=1000),
    client_id: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is None or not _DIGITS.match(declared):
        raise LengthRequired("Send the file with a Content-Length (or use tus).")
    body = _Body(request)
    file, replayed = await up.single_upload(
        ctx,
        actor,
        chat_id=chat_id,
        length=int(declared),
        name=name,
        caption=caption,
        client_id=client_id,
        chunks=body.chunks(),
    )
    response.status_code = 201
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return file
