"""Moving bytes: uploads (tus and single request) into the encrypted store, finishing a
complete upload (type detection, checks, previews, the file row), expiry, and reading
files back for download.

Memory stays flat whatever the file size: at most two segments (1 MiB each: one being
written, one being received) plus one network chunk are held per request. Acknowledged
means durable: segments are fsynced (or PUT to S3) before the new offset is committed, and
the offset is committed before the client hears it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from zunft.accounts.actor import Actor
from zunft.blobs import segments
from zunft.blobs.media import process
from zunft.blobs.segments import SEGMENT_SIZE, BlobReader, SegmentWriter, write_whole
from zunft.blobs.service import (
    Limits,
    TooLarge,
    access_file,
    access_upload,
    do_advance_upload,
    do_create_upload,
    do_delete_upload_row,
    do_store_file,
    get_expired_uploads,
    get_file,
    get_limits,
    upload_key,
    upload_meta,
)
from zunft.blobs.sniff import HEAD_BYTES, sniff
from zunft.blobs.store import BlobStore
from zunft.config import parse_limits
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.errors import Conflict, Forbidden, Invalid, NotFound, ZunftError
from zunft.idempotency import check_client_id, do_once
from zunft.ids import new_id
from zunft.journal.chain import canonical

log = logging.getLogger(__name__)
MB = 1024 * 1024


class Unavailable(ZunftError):
    status = 503
    code = "storage_unavailable"


_busy: set[str] = set()  # uploads a request of this process is writing to right now
_handled: dict[str, int] = {}  # requests that wrote to an upload and have ended, per upload
_idle = threading.Condition()


def _release(upload_id: str) -> None:
    with _idle:
        _busy.discard(upload_id)
        _handled[upload_id] = _handled.get(upload_id, 0) + 1
        if len(_handled) > 10_000:  # only for waiting on recent uploads: stay bounded
            _handled.clear()
        _idle.notify_all()


def wait_for_requests(upload_id: str, count: int, timeout: float = 30.0) -> bool:
    """Wait until `count` requests writing to the upload have ended in this process (after
    a broken connection the server may still be storing what it got); False on timeout."""
    with _idle:
        return _idle.wait_for(
            lambda: _handled.get(upload_id, 0) >= count and upload_id not in _busy, timeout
        )


def store_of(ctx: AppContext) -> BlobStore:
    if ctx.blobs is None:
        raise RuntimeError("the context has no blob store")
    return ctx.blobs


def limits(ctx: AppContext, tenant_id: str) -> Limits:
    """A business's quota and file limits (its own, else the settings)."""
    return ctx.read(lambda rx: get_limits(rx, tenant_id, ctx.settings))


def default_max_file_bytes(ctx: AppContext) -> int:
    """The largest file the settings allow (tus's Tus-Max-Size, asked before login)."""
    return max(parse_limits(ctx.settings.file_limits_mb).values()) * MB


def expiry_ms(ctx: AppContext) -> int:
    return int(ctx.settings.upload_expiry_hours) * 3600 * 1000


def _stored_answer(
    ctx: AppContext, actor: Actor, client_id: str, request: dict[str, Any]
) -> dict[str, Any] | None:
    """The first answer to this client id, if the write already happened."""
    check_client_id(client_id)

    def read(rx: Rx) -> Any:
        return rx.conn.execute(
            select(s.client_writes).where(
                s.client_writes.c.tenant_id == actor.tenant_id,
                s.client_writes.c.user_id == actor.user_id,
                s.client_writes.c.client_id == client_id,
            )
        ).first()

    row = ctx.read(read)
    if row is None:
        return None
    if row.request_hash != hashlib.sha256(canonical(request)).digest():
        raise Conflict("This client_id was used for a different request.", code="client_id_reused")
    answer: dict[str, Any] = json.loads(
        ctx.keys.cipher(actor.tenant_id).decrypt(
            f"client_writes/{actor.user_id}/{client_id}", row.response_enc
        )
    )
    return answer


def create_upload(
    ctx: AppContext,
    actor: Actor,
    *,
    chat_id: str,
    length: int,
    name: str | None,
    caption: str | None,
    client_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """A new upload (tus creation). With a client id, a retry returns the first upload.
    Returns (upload, replayed)."""
    expire_uploads(ctx)  # opportunistic: abandoned uploads go when new ones come
    upload_id = new_id()

    def work(tx: Any) -> dict[str, Any]:
        business = get_limits(tx, actor.tenant_id, ctx.settings)
        return do_create_upload(
            tx,
            actor,
            upload_id=upload_id,
            chat_id=chat_id,
            length=length,
            name=name,
            caption=caption,
            max_bytes=business.largest,
            quota_bytes=business.quota,
            expiry_ms=expiry_ms(ctx),
        )

    if client_id is None:
        return ctx.write(work), False
    request = {"upload": True, "chat_id": chat_id, "length": length, "name": name}
    _, body, replayed = ctx.write(
        lambda tx: do_once(tx, actor, client_id, request, lambda: work(tx))
    )
    return body, replayed


@dataclass
class Received:
    offset: int
    length: int
    expires_at: int
    file: dict[str, Any] | None  # set when this request completed the upload


async def receive(
    ctx: AppContext,
    actor: Actor,
    upload_id: str,
    offset: int,
    chunks: AsyncIterator[bytes],
    *,
    keep_partial: bool = True,
    client_id: str | None = None,
    request: dict[str, Any] | None = None,
) -> Received:
    """Append the request body at `offset` (which must be the upload's offset).

    When the stream ends early (the connection broke) the bytes received so far are kept
    and committed (tus resumes from there) when `keep_partial`; the file is finished when
    the last byte arrived.
    """
    row = await run_in_threadpool(ctx.read, lambda rx: access_upload(rx, actor, upload_id))
    if offset != row.offset:
        raise Conflict(
            f"Upload-Offset is {offset} but the upload is at {row.offset}.",
            code="offset_mismatch",
            offset=row.offset,
        )
    with _idle:
        if upload_id in _busy:
            raise Conflict("Another request is writing to this upload.", code="upload_busy")
        _busy.add(upload_id)
    try:
        return await _receive(
            ctx, actor, row, chunks, keep_partial=keep_partial, client_id=client_id, request=request
        )
    finally:
        _release(upload_id)


async def _receive(
    ctx: AppContext,
    actor: Actor,
    row: Any,
    chunks: AsyncIterator[bytes],
    *,
    keep_partial: bool,
    client_id: str | None,
    request: dict[str, Any] | None,
) -> Received:
    store = store_of(ctx)
    meta = await run_in_threadpool(ctx.read, lambda rx: upload_meta(rx, row))
    cipher = ctx.keys.cipher(actor.tenant_id).keyed(upload_key(meta))
    old = int(row.offset)
    writer = await run_in_threadpool(
        lambda: SegmentWriter(store, cipher, row.id, size=row.length, offset=old)
    )
    pending = bytearray()
    checked = old > 0  # the kind's size limit is checked once, on the first bytes
    # A request that carries the whole file hashes it on the way (saves a pass in `finish`).
    hasher = hashlib.sha256() if old == 0 else None

    def put(data: bytes) -> None:
        writer.write(data)
        if hasher is not None:
            hasher.update(data)

    # Double buffering: while one segment is encrypted and written in a worker thread, the
    # next one is received (at most two segments and a chunk in memory).
    room = row.length - old
    received = 0
    writing: asyncio.Future[None] | None = None

    async def hand_over(data: bytes) -> None:
        nonlocal writing
        if writing is not None:
            await writing
        writing = asyncio.ensure_future(run_in_threadpool(put, data))

    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > room:
                raise TooLarge(
                    "The request carries more bytes than the upload's declared length.",
                    code="upload_length_exceeded",
                )
            pending += chunk
            if not checked and len(pending) >= min(HEAD_BYTES, row.length):
                checked = True
                await _check_kind_limit(ctx, actor, row, bytes(pending[:HEAD_BYTES]))
            if len(pending) >= SEGMENT_SIZE:
                data = bytes(pending)
                pending.clear()
                await hand_over(data)
        if pending:
            await hand_over(bytes(pending))
        if writing is not None:
            await writing
    except BaseException:
        if writing is not None:
            # Never leave a write running behind the request; the request's own error is
            # the one that counts.
            await asyncio.wait([writing])
            if not writing.cancelled():
                writing.exception()
        raise
    complete = writer.offset == row.length
    if not complete and not keep_partial:
        return Received(writer.offset, row.length, row.expires_at, None)
    await run_in_threadpool(writer.flush_partial)
    expires_at = row.expires_at
    if writer.offset != old:
        new = writer.offset
        expires_at = await ctx.writer.awrite(
            lambda tx: do_advance_upload(
                tx, actor, row.id, old=old, new=new, expiry_ms=expiry_ms(ctx)
            )
        )
        await run_in_threadpool(writer.drop_parts, old)
    file = None
    if complete:
        sha256 = hasher.digest() if hasher is not None else None
        try:
            file = await run_in_threadpool(
                lambda: finish(
                    ctx,
                    actor,
                    row.id,
                    row.length,
                    client_id=client_id,
                    request=request,
                    sha256=sha256,
                )
            )
        except ZunftError:
            raise  # bad content: the upload is gone (finish deleted it)
        except Exception:
            # Not the file's fault (the store or the database was away): take back this
            # request's bytes, so HEAD does not call the upload complete and the client
            # sends them again, which finishes it then.
            log.exception("finishing upload %s failed; it can be resumed", row.id)
            done = writer.offset
            await ctx.writer.awrite(
                lambda tx: do_advance_upload(
                    tx, actor, row.id, old=done, new=old, expiry_ms=expiry_ms(ctx)
                )
            )
            raise Unavailable(
                "The file could not be stored just now; please send the rest again.",
                retry_after=30,
                offset=old,
            ) from None
    return Received(writer.offset, row.length, expires_at, file)


async def _check_kind_limit(ctx: AppContext, actor: Actor, row: Any, head: bytes) -> None:
    """Refuse a file too large for its kind as soon as its first bytes show the kind (a 3 GB
    "photo" is not received whole first). The complete file is checked again in `finish`."""
    kind = sniff(io.BytesIO(head)).kind
    business = await run_in_threadpool(limits, ctx, actor.tenant_id)
    limit = business.files[kind]
    if row.length > limit:
        await run_in_threadpool(forget_upload, ctx, actor.tenant_id, row.id)
        raise TooLarge(f"A {kind} may have at most {limit // MB} MB.", limit=limit, kind=kind)


def finish(
    ctx: AppContext,
    actor: Actor,
    upload_id: str,
    size: int,
    *,
    client_id: str | None = None,
    request: dict[str, Any] | None = None,
    sha256: bytes | None = None,
) -> dict[str, Any]:
    """Check a complete upload and make it a file; on bad content nothing of it remains.
    `sha256` is the file's hash when the request that brought it computed it already."""
    store = store_of(ctx)
    cipher = ctx.keys.cipher(actor.tenant_id)
    try:
        # Previews go under the file's own content key, like its bytes (zunft.retention).
        meta = ctx.read(lambda rx: upload_meta(rx, access_upload(rx, actor, upload_id)))
        cipher = cipher.keyed(upload_key(meta))
        reader = BlobReader(store, cipher, upload_id, size=size)
        if sha256 is None:  # the file came in several requests: one pass over it
            digest = hashlib.sha256()
            for chunk in reader.iter_range(0, size - 1):
                digest.update(chunk)
            sha256 = digest.digest()
        buffered = io.BufferedReader(reader, buffer_size=256 * 1024)
        sniffed = sniff(buffered)
        processed = process(buffered, sniffed)
        business = limits(ctx, actor.tenant_id)
        limit = business.files[processed.kind]
        if size > limit:
            raise TooLarge(
                f"A {processed.kind} may have at most {limit // MB} MB.",
                limit=limit,
                kind=processed.kind,
            )
        derivatives: dict[str, Any] = {}
        stored = size
        for d in processed.derivatives:
            stored += write_whole(store, cipher, upload_id, d.name, d.data)
            derivatives[d.name] = {
                "size": len(d.data),
                "content_type": d.content_type,
                "width": d.width,
                "height": d.height,
            }

        def work(tx: Any) -> dict[str, Any]:
            return do_store_file(
                tx,
                actor,
                upload_id,
                kind=processed.kind,
                content_type=processed.content_type,
                size=size,
                stored_bytes=stored,
                segment_size=SEGMENT_SIZE,
                sha256=sha256,
                meta=processed.meta,
                taken_at=processed.taken_at,
                derivatives=derivatives,
                quota_bytes=business.quota,
            )

        if client_id is None:
            file: dict[str, Any] = ctx.write(work)
            return file
        # The stored answer is the file's id (GPS floats have no canonical JSON form); the
        # view is read fresh, for the first answer and a replay alike.
        _, body, replayed = ctx.write(
            lambda tx: do_once(tx, actor, client_id, request or {}, lambda: {"id": work(tx)["id"]})
        )
        if replayed:  # a concurrent retry won: this copy goes
            forget_upload(ctx, actor.tenant_id, upload_id)
        return ctx.read(lambda rx: get_file(rx, actor, body["id"]))
    except (ZunftError, Invalid):
        forget_upload(ctx, actor.tenant_id, upload_id)
        raise


def forget_upload(ctx: AppContext, tenant_id: str, upload_id: str) -> None:
    """Delete an upload's row and everything stored for it."""
    ctx.write(lambda tx: do_delete_upload_row(tx, upload_id))
    store_of(ctx).delete_prefix(segments.prefix(tenant_id, upload_id))


def terminate(ctx: AppContext, actor: Actor, upload_id: str) -> None:
    """tus termination: the client gives up an upload."""
    ctx.read(lambda rx: access_upload(rx, actor, upload_id))
    if upload_id in _busy:
        raise Conflict("Another request is writing to this upload.", code="upload_busy")
    forget_upload(ctx, actor.tenant_id, upload_id)


def expire_uploads(ctx: AppContext, limit: int = 100) -> int:
    """Delete uploads not continued within ZUNFT_UPLOAD_EXPIRY_HOURS; returns how many."""
    expired = ctx.read(lambda rx: get_expired_uploads(rx, limit))
    for tenant_id, upload_id in expired:
        if upload_id not in _busy:
            forget_upload(ctx, tenant_id, upload_id)
    return len(expired)


async def single_upload(
    ctx: AppContext,
    actor: Actor,
    *,
    chat_id: str,
    length: int,
    name: str | None,
    caption: str | None,
    client_id: str | None,
    chunks: AsyncIterator[bytes],
) -> tuple[dict[str, Any], bool]:
    """A whole file in one request. Anything short of the declared length stores nothing."""
    request = {"single": True, "chat_id": chat_id, "length": length, "name": name}
    if client_id is not None:
        answer = await run_in_threadpool(_stored_answer, ctx, actor, client_id, request)
        if answer is not None:
            file_id = answer["id"]
            view = await run_in_threadpool(ctx.read, lambda rx: get_file(rx, actor, file_id))
            return view, True
    upload, _ = await run_in_threadpool(
        lambda: create_upload(
            ctx, actor, chat_id=chat_id, length=length, name=name, caption=caption
        )
    )
    upload_id = upload["id"]
    try:
        received = await receive(
            ctx,
            actor,
            upload_id,
            0,
            chunks,
            keep_partial=False,
            client_id=client_id,
            request=request,
        )
    except BaseException:
        await run_in_threadpool(forget_upload, ctx, actor.tenant_id, upload_id)
        raise
    if received.file is None:
        await run_in_threadpool(forget_upload, ctx, actor.tenant_id, upload_id)
        raise ZunftError(
            f"The body ended after {received.offset} of {length} bytes (Content-Length).",
            code="incomplete_body",
        )
    return received.file, False


LOCATED_KINDS = frozenset({"photo", "video"})


def open_file(ctx: AppContext, actor: Actor, file_id: str, variant: str) -> tuple[Any, BlobReader]:
    """The file's row and a reader over its original ("o") or a preview."""
    row = ctx.read(lambda rx: access_file(rx, actor, file_id))
    size = row.size
    if variant == segments.ORIGINAL and actor.kind != "staff" and row.kind in LOCATED_KINDS:
        # A photo's or video's original may carry where it was taken: customers get the
        # previews, which carry no metadata at all (docs/media.md).
        raise Forbidden("Customers see the preview of photos and videos.", code="preview_only")
    if variant != segments.ORIGINAL:
        derivative = json.loads(row.derivatives).get(variant)
        if derivative is None:
            raise NotFound("This file has no such preview.", code="no_preview")
        size = derivative["size"]
    reader = BlobReader(
        store_of(ctx),
        ctx.keys.cipher(actor.tenant_id),
        file_id,
        size=size,
        variant=variant,
        segment_size=row.segment_size,
    )
    return row, reader


class Sweeper:
    """A background thread of `zunft serve` that deletes expired uploads every `interval`
    seconds (and at once when woken), so abandoned parts go even when nobody uploads."""

    def __init__(self, ctx: AppContext, interval: float = 600.0) -> None:
        self.ctx = ctx
        self.interval = interval
        self.sweeps = 0
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="zunft-sweeper", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def wait_for_sweeps(self, count: int, timeout: float = 30.0) -> bool:
        with self._done:
            return self._done.wait_for(lambda: self.sweeps >= count, timeout)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                while expire_uploads(self.ctx) >= 100:  # a full batch: there may be more
                    pass
            except Exception:  # the database is away for a moment: next round
                log.exception("deleting expired uploads failed")
            with self._done:
                self.sweeps += 1
                self._done.notify_all()
