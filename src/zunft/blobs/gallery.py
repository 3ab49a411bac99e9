"""The project gallery: every photo and video of a project's chat in one place, newest
first (by capture time), filterable by period, uploader, kind and tag; captions and tags
per file. Tags: the four every business has (vorher, nachher, Mangel, Material) and any a
business adds by using it."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from zunft.accounts.actor import Actor
from zunft.blobs.service import access_file, check_caption, file_view, get_tags
from zunft.chats.service import access_chat_for_posting
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Invalid
from zunft.projects.service import access_project

DEFAULT_TAGS = ("vorher", "nachher", "Mangel", "Material")
MAX_TAGS = 10
MAX_TAG = 40
PAGE_MAX = 100
GALLERY_KINDS = ("photo", "video")  # without a kind filter: the photo documentation
# With one: any of these (the app's gallery also lists voice messages and files).
FILE_KINDS = ("photo", "video", "voice", "document", "file")
_TAG_CHARS = re.compile(r"^[\w][\w .+&/-]*$")
_CURSOR = re.compile(r"^(\d{1,16}):([0-9a-z]{26})$")


def fold(text: str) -> str:
    """For matching as people type: case, accents and runs of spaces aside ("Kühn" finds
    "KUHN"; the ß folds to "ss")."""
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def check_tag(tag: str) -> str:
    tag = " ".join(unicodedata.normalize("NFC", tag).split())
    if not tag or len(tag) > MAX_TAG or not _TAG_CHARS.match(tag):
        raise Invalid(
            f"A tag is 1 to {MAX_TAG} letters, digits, spaces or . + & / -.", code="invalid_tag"
        )
    for default in DEFAULT_TAGS:  # "Vorher" and "vorher" are one tag
        if tag.casefold() == default.casefold():
            return default
    return tag


def do_describe_file(
    tx: Tx,
    actor: Actor,
    file_id: str,
    *,
    caption: str | None = None,
    set_caption: bool = False,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """Change a file's caption and/or tags (anyone who may post in its chat)."""
    row = access_file(tx, actor, file_id)
    access_chat_for_posting(tx, actor, row.chat_id)
    cipher = tx.cipher(actor.tenant_id).keyed(row.content_key)  # the file's own key
    payload: dict[str, Any] = {"file_id": file_id, "chat_id": row.chat_id}
    if set_caption:
        clean = check_caption(caption)
        tx.conn.execute(
            update(s.blobs)
            .where(s.blobs.c.id == file_id)
            .values(caption_enc=cipher.encrypt_opt(f"blobs.caption/{file_id}", clean))
        )
        payload["caption"] = clean
    if tags is not None:
        clean_tags = sorted({check_tag(t) for t in tags})
        if len(clean_tags) > MAX_TAGS:
            raise Invalid(f"A file may have at most {MAX_TAGS} tags.", code="too_many_tags")
        tx.conn.execute(delete(s.blob_tags).where(s.blob_tags.c.blob_id == file_id))
        if clean_tags:
            tx.conn.execute(
                insert(s.blob_tags),
                [{"blob_id": file_id, "tenant_id": actor.tenant_id, "tag": t} for t in clean_tags],
            )
        payload["tags"] = clean_tags
    tx.append(
        actor.tenant_id,
        "file.described",
        payload,
        actor_id=actor.user_id,
        chat_id=row.chat_id,
        key=row.content_key,
    )
    fresh = access_file(tx, actor, file_id)
    return file_view(cipher, fresh, actor, tags=get_tags(tx, [file_id])[file_id])


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(a)))


def get_tag_list(rx: Rx, actor: Actor) -> list[str]:
    """The default tags and every tag the business has used."""
    used = rx.conn.execute(
        select(s.blob_tags.c.tag).where(s.blob_tags.c.tenant_id == actor.tenant_id).distinct()
    ).scalars()
    own = sorted(set(used) - set(DEFAULT_TAGS), key=str.casefold)
    return [*DEFAULT_TAGS, *own]


def get_gallery(
    rx: Rx,
    actor: Actor,
    project_id: str,
    *,
    since: int | None = None,
    until: int | None = None,
    uploader_id: str | None = None,
    kind: str | Sequence[str] | None = None,
    tags: list[str] | None = None,
    before: str | None = None,
    limit: int = 50,
    near: tuple[float, float, float] | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """A page of the gallery, newest capture time first. `since`/`until` are ms (until
    exclusive); `tags` all must be present; `before` is the `next` of the previous page;
    `near` = (lat, lon, radius in m): only photos taken there (staff only); `text`: only
    files whose name or caption contains it (case and accents aside). Positions, names and
    captions are encrypted, so these two filters decrypt the candidates, newest first, until
    the page is full: a project's few thousand files, with no index that erasure would have
    to follow."""
    if not 1 <= limit <= PAGE_MAX:
        raise Invalid(f"limit is 1 to {PAGE_MAX}.", code="invalid_limit")
    _, chat_id = access_project(rx, actor, project_id)
    b, a, m = s.blobs, s.message_attachments, s.messages
    # What the chat shows: files sent with a message that is not deleted (an upload never
    # sent, or a photo whose message was deleted, is not part of the documentation).
    shown = (
        select(a.c.blob_id)
        .join(m, m.c.id == a.c.message_id)
        .where(m.c.chat_id == chat_id, m.c.deleted_at.is_(None))
    )
    query = select(b).where(
        b.c.chat_id == chat_id, b.c.tenant_id == actor.tenant_id, b.c.id.in_(shown)
    )
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    if kinds:
        if any(k not in FILE_KINDS for k in kinds):
            raise Invalid(f"kind is one of {', '.join(FILE_KINDS)}.", code="invalid_kind")
        query = query.where(b.c.kind.in_(kinds))
    else:
        query = query.where(b.c.kind.in_(GALLERY_KINDS))
    if since is not None:
        query = query.where(b.c.taken_at >= since)
    if until is not None:
        query = query.where(b.c.taken_at < until)
    if uploader_id is not None:
        query = query.where(b.c.uploader_id == uploader_id)
    for tag in tags or []:
        query = query.where(
            b.c.id.in_(select(s.blob_tags.c.blob_id).where(s.blob_tags.c.tag == check_tag(tag)))
        )
    if before is not None:
        match = _CURSOR.match(before)
        if match is None:
            raise Invalid("before is the 'next' value of a previous page.", code="invalid_cursor")
        at, last_id = int(match.group(1)), match.group(2)
        query = query.where(or_(b.c.taken_at < at, and_(b.c.taken_at == at, b.c.id < last_id)))
    cipher = rx.cipher(actor.tenant_id)
    query = query.order_by(b.c.taken_at.desc(), b.c.id.desc())
    wanted = fold(text) if text is not None and text.strip() else None
    if near is None and wanted is None:
        rows = list(rx.conn.execute(query.limit(limit + 1)).all())
    else:
        if near is not None and actor.kind != "staff":
            raise Invalid("Only staff search by location.", code="invalid_filter")
        rows = []
        for r in rx.conn.execute(query).all():
            if near is not None:
                gps = json.loads(cipher.decrypt(f"blobs.meta/{r.id}", r.meta_enc)).get("gps")
                if not gps or distance_m(gps["lat"], gps["lon"], near[0], near[1]) > near[2]:
                    continue
            if wanted is not None:
                name = cipher.decrypt(f"blobs.name/{r.id}", r.name_enc)
                caption = cipher.decrypt_opt(f"blobs.caption/{r.id}", r.caption_enc) or ""
                if wanted not in fold(name + "\n" + caption):
                    continue
            rows.append(r)
            if len(rows) > limit:
                break
    more = len(rows) > limit
    rows = rows[:limit]
    tag_map = get_tags(rx, [r.id for r in rows])
    items = [file_view(cipher, r, actor, tags=tag_map[r.id]) for r in rows]
    return {
        "items": items,
        "next": f"{rows[-1].taken_at}:{rows[-1].id}" if more and rows else None,
    }


def get_report_items(
    rx: Rx,
    actor: Actor,
    project_id: str,
    *,
    since: int | None,
    until: int | None,
    tags: list[str] | None,
) -> list[dict[str, Any]]:
    """Every photo of a project in a period, oldest first (for the photo report)."""
    items: list[dict[str, Any]] = []
    before: str | None = None
    while True:
        page = get_gallery(
            rx,
            actor,
            project_id,
            since=since,
            until=until,
            kind="photo",
            tags=tags,
            before=before,
            limit=PAGE_MAX,
        )
        items.extend(page["items"])
        before = page["next"]
        if before is None:
            break
    items.reverse()
    return items
