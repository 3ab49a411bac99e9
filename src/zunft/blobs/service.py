"""The database side of files: uploads in progress, stored files and who may see them.

A file belongs to the chat it was uploaded for: whoever may see that chat may see the file
(chats.service.access_chat), anyone else gets 404 as for a missing id. Functions here take
an Rx/Tx and plain values; the bytes are handled by zunft.blobs.uploads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from zunft.accounts.actor import Actor
from zunft.chats.service import access_chat, access_chat_for_posting
from zunft.config import Settings, parse_limits
from zunft.crypto.envelope import TenantCipher
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Invalid, NotFound, ZunftError
from zunft.retention.keys import do_make_file_key
from zunft.retention.rules import chat_default_class

MAX_NAME = 200
MAX_CAPTION = 1000


class TooLarge(ZunftError):
    status = 413
    code = "file_too_large"


class QuotaExceeded(ZunftError):
    status = 413
    code = "quota_exceeded"


class Gone(ZunftError):
    status = 410
    code = "upload_expired"


def check_name(name: str | None) -> str:
    name = " ".join((name or "").replace("/", " ").replace("\\", " ").split())
    name = "".join(ch for ch in name if ch.isprintable())[:MAX_NAME]
    return name or "Datei"


def check_caption(caption: str | None) -> str | None:
    if caption is None:
        return None
    caption = " ".join(caption.split())
    if len(caption) > MAX_CAPTION:
        raise Invalid(
            f"A caption may have at most {MAX_CAPTION} characters.", code="caption_too_long"
        )
    return caption or None


MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    quota: int  # bytes, all files of the business
    files: dict[str, int]  # bytes per kind

    @property
    def largest(self) -> int:
        return max(self.files.values())


def get_limits(rx: Rx, tenant_id: str, settings: Settings) -> Limits:
    """The business's limits: its own (zunft admin set-media-limits), else the settings."""
    row = rx.conn.execute(
        select(s.media_limits).where(s.media_limits.c.tenant_id == tenant_id)
    ).first()
    quota_mb = int(settings.media_quota_mb)
    files = parse_limits(settings.file_limits_mb)
    if row is not None:
        quota_mb = row.quota_mb if row.quota_mb is not None else quota_mb
        if row.file_limits:
            files = parse_limits(row.file_limits)
    return Limits(quota_mb * MB, {k: v * MB for k, v in files.items()})


def do_set_media_limits(
    tx: Tx, *, tenant_id: str, quota_mb: int | None, file_limits: str | None
) -> None:
    """Set (or with both None: remove) a business's own limits. For the host (CLI)."""
    if quota_mb is not None and quota_mb < 1:
        raise Invalid("The quota is at least 1 MB.", code="invalid_quota")
    if file_limits is not None:
        try:
            parse_limits(file_limits)
        except ValueError as exc:
            raise Invalid(f"File limits: {exc}.", code="invalid_file_limits") from None
        file_limits = file_limits.replace(" ", "")
    tx.conn.execute(delete(s.media_limits).where(s.media_limits.c.tenant_id == tenant_id))
    if quota_mb is not None or file_limits is not None:
        tx.conn.execute(
            insert(s.media_limits),
            {
                "tenant_id": tenant_id,
                "quota_mb": quota_mb,
                "file_limits": file_limits,
                "updated_at": tx.now_ms,
            },
        )
    tx.append(
        tenant_id,
        "tenant.media_limits_set",
        {"quota_mb": quota_mb, "file_limits": file_limits},
    )


def get_media_usage(rx: Rx, actor: Actor, settings: Settings) -> dict[str, Any]:
    limits = get_limits(rx, actor.tenant_id, settings)
    return {
        "used_bytes": get_usage(rx, actor.tenant_id),
        "quota_bytes": limits.quota,
        "file_limits_bytes": limits.files,
    }


def get_usage(rx: Rx, tenant_id: str) -> int:
    """Bytes a business uses: stored files with their previews, plus unfinished uploads."""
    stored = rx.conn.execute(
        select(func.coalesce(func.sum(s.blobs.c.stored_bytes), 0)).where(
            s.blobs.c.tenant_id == tenant_id
        )
    ).scalar_one()
    pending = rx.conn.execute(
        select(func.coalesce(func.sum(s.uploads.c.length), 0)).where(
            s.uploads.c.tenant_id == tenant_id
        )
    ).scalar_one()
    return int(stored) + int(pending)


def check_quota(rx: Rx, tenant_id: str, extra: int, quota_bytes: int) -> None:
    used = get_usage(rx, tenant_id)
    if used + extra > quota_bytes:
        raise QuotaExceeded(
            "The business's storage quota is used up; delete files or ask for more space.",
            used=used,
            quota=quota_bytes,
        )


def do_create_upload(
    tx: Tx,
    actor: Actor,
    *,
    upload_id: str,
    chat_id: str,
    length: int,
    name: str | None,
    caption: str | None,
    max_bytes: int,
    quota_bytes: int,
    expiry_ms: int,
) -> dict[str, Any]:
    chat = access_chat_for_posting(tx, actor, chat_id)
    if length <= 0:
        raise Invalid("The file is empty.", code="empty_file")
    if length > max_bytes:
        raise TooLarge(f"A file may have at most {max_bytes} bytes.", limit=max_bytes)
    check_quota(tx, actor.tenant_id, length, quota_bytes)
    # The file's own content key (zunft.retention.keys), made now: its bytes are encrypted
    # with it from the first segment on. Its id travels in the upload's metadata.
    key = do_make_file_key(
        tx,
        actor.tenant_id,
        chat_id=chat_id,
        doc_class=chat.doc_class or chat_default_class(chat.kind),
        author_id=actor.user_id,
        blob_id=upload_id,
    )
    meta = {"name": check_name(name), "caption": check_caption(caption), "key": key.hex()}
    tx.conn.execute(
        insert(s.uploads),
        {
            "id": upload_id,
            "tenant_id": actor.tenant_id,
            "chat_id": chat_id,
            "user_id": actor.user_id,
            "length": length,
            "offset": 0,
            "meta_enc": tx.cipher(actor.tenant_id).encrypt(
                f"uploads.meta/{upload_id}", json.dumps(meta)
            ),
            "created_at": tx.now_ms,
            "expires_at": tx.now_ms + expiry_ms,
        },
    )
    return {"id": upload_id, "length": length, "offset": 0, "expires_at": tx.now_ms + expiry_ms}


def access_upload(rx: Rx, actor: Actor, upload_id: str) -> Any:
    """An upload of this user; an expired one answers 410 (tus: "Gone")."""
    row = rx.conn.execute(
        select(s.uploads).where(
            s.uploads.c.id == upload_id,
            s.uploads.c.tenant_id == actor.tenant_id,
            s.uploads.c.user_id == actor.user_id,
        )
    ).first()
    if row is None:
        raise NotFound("No such upload.")
    if row.expires_at <= rx.now_ms:
        raise Gone("The upload has expired; please start it again.")
    return row


def upload_meta(rx: Rx, row: Any) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(
        rx.cipher(row.tenant_id).decrypt(f"uploads.meta/{row.id}", row.meta_enc)
    )
    return meta


def upload_key(meta: dict[str, Any]) -> bytes | None:
    """The content key of an upload's file (None: an upload begun before content keys)."""
    found = meta.get("key")
    return bytes.fromhex(found) if isinstance(found, str) else None


def do_advance_upload(
    tx: Tx, actor: Actor, upload_id: str, *, old: int, new: int, expiry_ms: int
) -> int:
    """Move an upload's offset from `old` to `new` (compare and set); returns expires_at."""
    access_upload(tx, actor, upload_id)
    expires_at = tx.now_ms + expiry_ms
    result = tx.conn.execute(
        update(s.uploads)
        .where(s.uploads.c.id == upload_id, s.uploads.c.offset == old)
        .values(offset=new, expires_at=expires_at)
    )
    if result.rowcount != 1:
        raise Conflict("Another request moved this upload on.", code="offset_mismatch")
    return expires_at


def do_delete_upload_row(tx: Tx, upload_id: str) -> None:
    tx.conn.execute(delete(s.uploads).where(s.uploads.c.id == upload_id))


def get_expired_uploads(rx: Rx, limit: int = 100) -> list[tuple[str, str]]:
    rows = rx.conn.execute(
        select(s.uploads.c.tenant_id, s.uploads.c.id)
        .where(s.uploads.c.expires_at <= rx.now_ms)
        .order_by(s.uploads.c.expires_at)
        .limit(limit)
    ).all()
    return [(r.tenant_id, r.id) for r in rows]


def do_store_file(
    tx: Tx,
    actor: Actor,
    upload_id: str,
    *,
    kind: str,
    content_type: str,
    size: int,
    stored_bytes: int,
    segment_size: int,
    sha256: bytes,
    meta: dict[str, Any],
    taken_at: int | None,
    derivatives: dict[str, Any],
    quota_bytes: int,
) -> dict[str, Any]:
    """Turn a complete upload into a file (same id) and journal `file.uploaded`."""
    upload = access_upload(tx, actor, upload_id)
    if upload.offset != upload.length:
        raise Conflict("The upload is not complete.", code="upload_incomplete")
    access_chat_for_posting(tx, actor, upload.chat_id)
    # The upload's length was counted already; the previews come on top.
    check_quota(tx, actor.tenant_id, stored_bytes - upload.length, quota_bytes)
    names = upload_meta(tx, upload)
    key = upload_key(names)
    cipher = tx.cipher(actor.tenant_id).keyed(key)
    tx.conn.execute(delete(s.uploads).where(s.uploads.c.id == upload_id))
    row = {
        "id": upload_id,
        "tenant_id": actor.tenant_id,
        "chat_id": upload.chat_id,
        "uploader_id": actor.user_id,
        "kind": kind,
        "content_type": content_type,
        "size": size,
        "stored_bytes": stored_bytes,
        "segment_size": segment_size,
        "sha256_enc": cipher.encrypt(f"blobs.sha256/{upload_id}", sha256),
        "name_enc": cipher.encrypt(f"blobs.name/{upload_id}", names["name"]),
        "caption_enc": cipher.encrypt_opt(f"blobs.caption/{upload_id}", names.get("caption")),
        "meta_enc": cipher.encrypt(f"blobs.meta/{upload_id}", json.dumps(meta)),
        "derivatives": json.dumps(derivatives),
        "taken_at": taken_at if taken_at is not None else tx.now_ms,
        "created_at": tx.now_ms,
        "doc_class": None,
        "content_key": key,
        "erased_at": None,
    }
    tx.conn.execute(insert(s.blobs), row)
    tx.append(
        actor.tenant_id,
        "file.uploaded",
        {
            "file_id": upload_id,
            "chat_id": upload.chat_id,
            "kind": kind,
            "content_type": content_type,
            "size": size,
            "sha256": sha256.hex(),
            "name": names["name"],
        },
        actor_id=actor.user_id,
        chat_id=upload.chat_id,
        key=key,
    )
    return file_view(cipher, access_file(tx, actor, upload_id), actor, tags=[])


def access_file(rx: Rx, actor: Actor, file_id: str) -> Any:
    """The file's row if the actor may see its chat; otherwise NotFound like a missing id."""
    row = rx.conn.execute(
        select(s.blobs).where(s.blobs.c.id == file_id, s.blobs.c.tenant_id == actor.tenant_id)
    ).first()
    if row is None:
        raise NotFound("No such file.")
    access_chat(rx, actor, row.chat_id)
    return row


def file_view(
    cipher: TenantCipher, row: Any, actor: Actor, *, tags: list[str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(cipher.decrypt(f"blobs.meta/{row.id}", row.meta_enc))
    if actor.kind != "staff":
        meta.pop("gps", None)  # location is for staff (docs/media.md)
    derivatives = json.loads(row.derivatives)
    return {
        "id": row.id,
        "chat_id": row.chat_id,
        "uploader_id": row.uploader_id,
        "kind": row.kind,
        "content_type": row.content_type,
        "size": row.size,
        "name": cipher.decrypt(f"blobs.name/{row.id}", row.name_enc),
        "caption": cipher.decrypt_opt(f"blobs.caption/{row.id}", row.caption_enc),
        "tags": tags if tags is not None else [],
        "taken_at": row.taken_at,
        "created_at": row.created_at,
        "width": meta.get("width"),
        "height": meta.get("height"),
        "duration_ms": meta.get("duration_ms"),
        "pages": meta.get("pages"),
        "gps": meta.get("gps"),
        "camera": meta.get("camera"),
        "sha256": cipher.decrypt_bytes(f"blobs.sha256/{row.id}", row.sha256_enc).hex(),
        "content_url": f"/api/v1/files/{row.id}/content",
        "previews": {
            name: {
                "url": f"/api/v1/files/{row.id}/preview?size={name}",
                "width": d["width"],
                "height": d["height"],
            }
            for name, d in derivatives.items()
        },
    }


def get_tags(rx: Rx, file_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in file_ids}
    if not file_ids:
        return found
    rows = rx.conn.execute(
        select(s.blob_tags.c.blob_id, s.blob_tags.c.tag)
        .where(s.blob_tags.c.blob_id.in_(file_ids))
        .order_by(s.blob_tags.c.tag)
    ).all()
    for r in rows:
        found[r.blob_id].append(r.tag)
    return found


def get_file(rx: Rx, actor: Actor, file_id: str) -> dict[str, Any]:
    row = access_file(rx, actor, file_id)
    return file_view(rx.cipher(actor.tenant_id), row, actor, tags=get_tags(rx, [file_id])[file_id])
