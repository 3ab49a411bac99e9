"""Sending, editing, deleting and reading messages.

A message's position in its chat is `seq`, the journal sequence number of its send: one
ordering for history, read markers, unread counts and realtime resume.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from zunft.accounts.actor import Actor
from zunft.chats.service import (
    CONSENT_WITHDRAWN_MESSAGE,
    access_chat,
    access_chat_for_posting,
    check_customer_consent,
    is_member,
)
from zunft.crypto.envelope import TenantCipher
from zunft.db import schema as s
from zunft.db.prepared import Prepared
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, Invalid, NotFound
from zunft.ids import new_id
from zunft.retention.keys import get_unit_key
from zunft.retention.rules import chat_class_expr, year_of

MAX_TEXT = 10_000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Unicode category Cc but \t and \n
MAX_MENTIONS = 50
PAGE_MAX = 200
MENTION_ALL = re.compile(r"(?<!\w)@alle\b", re.IGNORECASE)

# The send path's statements, prepared once (docs/performance.md: building and executing
# through SQLAlchemy cost far more than SQLite's own work, and this runs for every message).
_m = s.chat_members
_k = s.content_keys
_POSTING = Prepared(
    select(
        s.chats.c.kind,
        s.projects.c.status,
        _m.c.user_id,
        s.customers.c.withdrawn_at,
        chat_class_expr(),
        _k.c.id,
    )
    .select_from(s.chats)
    .outerjoin(s.projects, s.projects.c.id == s.chats.c.project_id)
    .outerjoin(_m, (_m.c.chat_id == s.chats.c.id) & (_m.c.user_id == bindparam("user_id")))
    # The sender's erasure unit of this chat and year, if made already (zunft.retention.keys):
    # found here, the send needs no query of its own for it.
    .outerjoin(
        _k,
        (_k.c.tenant_id == s.chats.c.tenant_id)
        & (_k.c.chat_id == s.chats.c.id)
        & (_k.c.doc_class == chat_class_expr())
        & (_k.c.year == bindparam("year"))
        & (_k.c.author_id == bindparam("user_id"))
        & _k.c.blob_id.is_(None)
        & _k.c.destroyed_at.is_(None),
    )
    .outerjoin(s.customer_chats, s.customer_chats.c.chat_id == s.chats.c.id)
    .outerjoin(s.customers, s.customers.c.user_id == s.customer_chats.c.customer_id)
    .where(s.chats.c.id == bindparam("chat_id"), s.chats.c.tenant_id == bindparam("tenant_id"))
)
_INSERT_MESSAGE = Prepared(insert(s.messages))
_INSERT_ATTACHMENTS = Prepared(insert(s.message_attachments))
_ADVANCE_CHAT = Prepared(
    update(s.chats)
    .where(s.chats.c.id == bindparam("b_chat_id"))
    .values(last_seq=bindparam("b_seq"))
)
_SENDER_READ = Prepared(
    update(_m)
    .where(_m.c.chat_id == bindparam("b_chat_id"), _m.c.user_id == bindparam("b_user_id"))
    .values(last_read_seq=bindparam("b_seq"))
)


def check_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        raise Invalid("The text contains control characters.", code="invalid_text")
    text = text.strip()
    if not text:
        raise Invalid("An empty message cannot be sent.", code="empty_text")
    if len(text) > MAX_TEXT:
        raise Invalid(
            f"A message may have at most {MAX_TEXT} characters.",
            code="text_too_long",
            limit=MAX_TEXT,
        )
    return text


def message_view(
    cipher: TenantCipher, row: Any, attachments: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    deleted = row.deleted_at is not None
    erased = row.erased_at is not None
    return {
        "id": row.id,
        "chat_id": row.chat_id,
        "seq": row.seq,
        "sender_id": row.sender_id,
        # A tombstone for readers; the text stays encrypted in the row for the archive,
        # until its retention ends and it is erased (zunft.retention.erasure).
        "text": None
        if deleted or erased
        else cipher.decrypt(f"messages.body/{row.id}", row.body_enc),
        "reply_to_id": row.reply_to_id,
        "mentions": json.loads(row.mentions),
        "mention_all": bool(row.mention_all),
        "created_at": row.created_at,
        "edited_at": row.edited_at,
        "edit_count": row.edit_count,
        "deleted": deleted,
        "erased": erased,
        "attachments": [] if deleted or erased else (attachments or []),
    }


def _check_posting(tx: Tx, actor: Actor, chat_id: str) -> tuple[str, bytes | None]:
    """The rules of chats.service.access_chat_for_posting in one query (the send path).
    Returns the chat's document class and the sender's content key for it this year, if
    there is one yet (zunft.retention)."""
    row = _POSTING.first(
        tx.conn,
        {
            "chat_id": chat_id,
            "tenant_id": actor.tenant_id,
            "user_id": actor.user_id,
            "year": year_of(tx.now_ms),
        },
    )
    if row is None:
        raise NotFound("No such chat.")
    kind, project_status, member, withdrawn_at, doc_class, key = row
    if member is None and not (actor.is_admin and kind != "direct"):
        raise NotFound("No such chat.")  # not visible to this person: same as missing
    if project_status == "archived":
        raise Conflict("The project is archived; its chat is read-only.", code="chat_read_only")
    if withdrawn_at is not None:
        raise Conflict(CONSENT_WITHDRAWN_MESSAGE, code="consent_withdrawn")
    if actor.kind == "customer":
        check_customer_consent(tx, actor)
    return str(doc_class), None if key is None else bytes(key)


def do_send_message(
    tx: Tx,
    actor: Actor,
    chat_id: str,
    *,
    text: str,
    reply_to_id: str | None = None,
    mentions: list[str] | tuple[str, ...] = (),
    attachments: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    # A photo needs no words: with attachments the text may be empty.
    text = "" if attachments and not text.strip() else check_text(text)
    doc_class, key = _check_posting(tx, actor, chat_id)
    files = check_attachments(tx, actor, chat_id, attachments) if attachments else []
    if reply_to_id is not None:
        parent = tx.conn.execute(
            select(s.messages.c.id).where(
                s.messages.c.id == reply_to_id, s.messages.c.chat_id == chat_id
            )
        ).first()
        if parent is None:
            raise Invalid("The message replied to is not in this chat.", code="invalid_reply_to")
    mention_ids = list(dict.fromkeys(mentions))
    if len(mention_ids) > MAX_MENTIONS:
        raise Invalid(f"At most {MAX_MENTIONS} people can be mentioned.", code="too_many_mentions")
    for uid in mention_ids:
        if not is_member(tx, chat_id, uid):
            raise Invalid("Only members of the chat can be mentioned.", code="invalid_mention")
    mention_all = bool(MENTION_ALL.search(text))
    cipher = tx.cipher(actor.tenant_id)
    message_id = new_id()
    seq = tx.next_seq(actor.tenant_id)
    # The message's erasure unit (zunft.retention.keys): its text, later versions and
    # journal payloads are all encrypted with this key, so destroying it shreds them.
    if key is None:
        key = get_unit_key(
            tx,
            actor.tenant_id,
            chat_id=chat_id,
            doc_class=doc_class,
            year=year_of(tx.now_ms),
            author_id=actor.user_id,
        )
    row = {
        "id": message_id,
        "tenant_id": actor.tenant_id,
        "chat_id": chat_id,
        "seq": seq,
        "sender_id": actor.user_id,
        "body_enc": cipher.encrypt(f"messages.body/{message_id}", text, key),
        "reply_to_id": reply_to_id,
        "mentions": json.dumps(mention_ids),
        "mention_all": mention_all,
        "created_at": tx.now_ms,
        "edited_at": None,
        "edit_count": 0,
        "deleted_at": None,
        "deleted_by": None,
        "doc_class": None,
        "content_key": key,
        "erased_at": None,
    }
    _INSERT_MESSAGE.run(tx.conn, row)
    payload: dict[str, Any] = {
        "message_id": message_id,
        "chat_id": chat_id,
        "sender_id": actor.user_id,
        "text": text,
        "reply_to_id": reply_to_id,
        "mentions": mention_ids,
        "mention_all": mention_all,
    }
    if files:
        _INSERT_ATTACHMENTS.run_many(
            tx.conn,
            [
                {
                    "message_id": message_id,
                    "position": i,
                    "blob_id": f.id,
                    "tenant_id": actor.tenant_id,
                }
                for i, f in enumerate(files)
            ],
        )
        payload["attachments"] = [f.id for f in files]
    event = tx.append(
        actor.tenant_id,
        "message.sent",
        payload,
        actor_id=actor.user_id,
        chat_id=chat_id,
        key=key,
    )
    assert event.seq == seq  # the message's seq is its journal entry's
    _ADVANCE_CHAT.run(tx.conn, {"b_chat_id": chat_id, "b_seq": seq})
    # The sender has read what they wrote.
    _SENDER_READ.run(tx.conn, {"b_chat_id": chat_id, "b_user_id": actor.user_id, "b_seq": seq})
    # Search postings are not written here: the indexer follows the journal
    # (zunft.search.index), so the acknowledged transaction holds only what must be durable.
    return _public(row, text, mention_ids, [attachment_view(cipher, f) for f in files])


def _public(
    row: dict[str, Any], text: str, mention_ids: list[str], attachments: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "chat_id": row["chat_id"],
        "seq": row["seq"],
        "sender_id": row["sender_id"],
        "text": text,
        "reply_to_id": row["reply_to_id"],
        "mentions": mention_ids,
        "mention_all": row["mention_all"],
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "edit_count": row["edit_count"],
        "deleted": False,
        "erased": False,
        "attachments": attachments,
    }


MAX_ATTACHMENTS = 20


def check_attachments(
    rx: Rx, actor: Actor, chat_id: str, file_ids: list[str] | tuple[str, ...]
) -> list[Any]:
    """The files to attach, in order: each uploaded for this chat (any other id, of another
    chat or business, is as unknown as a missing one)."""
    ids = list(dict.fromkeys(file_ids))
    if len(ids) > MAX_ATTACHMENTS:
        raise Invalid(
            f"A message may carry at most {MAX_ATTACHMENTS} files.", code="too_many_attachments"
        )
    rows = {
        r.id: r
        for r in rx.conn.execute(
            select(s.blobs).where(
                s.blobs.c.id.in_(ids),
                s.blobs.c.tenant_id == actor.tenant_id,
                s.blobs.c.chat_id == chat_id,
            )
        ).all()
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound("No such file in this chat.", code="not_found", file_id=missing[0])
    return [rows[i] for i in ids]


def attachment_view(cipher: TenantCipher, row: Any) -> dict[str, Any]:
    """What a message shows of a file (no location: that is in GET /files/{id} for staff)."""
    meta = json.loads(cipher.decrypt(f"blobs.meta/{row.id}", row.meta_enc))
    return {
        "id": row.id,
        "kind": row.kind,
        "content_type": row.content_type,
        "size": row.size,
        "name": cipher.decrypt(f"blobs.name/{row.id}", row.name_enc),
        "width": meta.get("width"),
        "height": meta.get("height"),
        "duration_ms": meta.get("duration_ms"),
        "previews": sorted(json.loads(row.derivatives)),
    }


def get_attachments(rx: Rx, cipher: TenantCipher, message_ids: list[str]) -> dict[str, list[Any]]:
    """The attachments of several messages at once (a history page), in their order."""
    found: dict[str, list[Any]] = {}
    if not message_ids:
        return found
    a = s.message_attachments
    rows = rx.conn.execute(
        select(a.c.message_id, s.blobs)
        .join(s.blobs, s.blobs.c.id == a.c.blob_id)
        .where(a.c.message_id.in_(message_ids))
        .order_by(a.c.message_id, a.c.position)
    ).all()
    for r in rows:
        found.setdefault(r.message_id, []).append(attachment_view(cipher, r))
    return found


def _view(rx: Rx, cipher: TenantCipher, row: Any) -> dict[str, Any]:
    return message_view(cipher, row, get_attachments(rx, cipher, [row.id]).get(row.id))


def access_message(rx: Rx, actor: Actor, message_id: str) -> Any:
    row = rx.conn.execute(
        select(s.messages).where(
            s.messages.c.id == message_id, s.messages.c.tenant_id == actor.tenant_id
        )
    ).first()
    if row is None:
        raise NotFound("No such message.")
    access_chat(rx, actor, row.chat_id)
    return row


def do_edit_message(tx: Tx, actor: Actor, message_id: str, *, text: str) -> dict[str, Any]:
    text = check_text(text)
    row = access_message(tx, actor, message_id)
    if row.sender_id != actor.user_id:
        raise Forbidden("Only the sender can edit a message.", code="not_sender")
    if row.deleted_at is not None:
        raise NotFound("No such message.")
    if row.erased_at is not None:
        raise Conflict("The message was erased.", code="message_erased")
    access_chat_for_posting(tx, actor, row.chat_id)
    cipher = tx.cipher(actor.tenant_id)
    old = cipher.decrypt(f"messages.body/{message_id}", row.body_enc)
    if old == text:
        return _view(tx, cipher, row)
    rev = row.edit_count
    tx.conn.execute(
        insert(s.message_revisions),
        {
            "message_id": message_id,
            "rev": rev,
            "tenant_id": actor.tenant_id,
            "body_enc": cipher.encrypt(
                f"message_revisions.body/{message_id}/{rev}", old, row.content_key
            ),
            "written_at": row.edited_at or row.created_at,
            "replaced_at": tx.now_ms,
        },
    )
    tx.conn.execute(
        update(s.messages)
        .where(s.messages.c.id == message_id)
        .values(
            body_enc=cipher.encrypt(f"messages.body/{message_id}", text, row.content_key),
            edited_at=tx.now_ms,
            edit_count=rev + 1,
        )
    )
    tx.append(
        actor.tenant_id,
        "message.edited",
        {"message_id": message_id, "chat_id": row.chat_id, "text": text, "rev": rev + 1},
        actor_id=actor.user_id,
        chat_id=row.chat_id,
        key=row.content_key,
    )
    return _view(tx, cipher, access_message(tx, actor, message_id))


def do_delete_message(tx: Tx, actor: Actor, message_id: str) -> dict[str, Any]:
    row = access_message(tx, actor, message_id)
    if row.sender_id != actor.user_id and not actor.is_admin:
        raise Forbidden("Only the sender, owner or office delete a message.", code="not_sender")
    cipher = tx.cipher(actor.tenant_id)
    if row.deleted_at is not None:
        return _view(tx, cipher, row)
    tx.conn.execute(
        update(s.messages)
        .where(s.messages.c.id == message_id)
        .values(deleted_at=tx.now_ms, deleted_by=actor.user_id)
    )
    tx.append(
        actor.tenant_id,
        "message.deleted",
        {"message_id": message_id, "chat_id": row.chat_id},
        actor_id=actor.user_id,
        chat_id=row.chat_id,
    )
    return _view(tx, cipher, access_message(tx, actor, message_id))


def get_history(
    rx: Rx,
    actor: Actor,
    chat_id: str,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of a chat: the newest `limit` before `before`, or the oldest after `after`.
    Messages come oldest first either way; has_more says whether the page was cut."""
    if not 1 <= limit <= PAGE_MAX:
        raise Invalid(f"limit is 1 to {PAGE_MAX}.", code="invalid_limit")
    if before is not None and after is not None:
        raise Invalid("Give before or after, not both.", code="invalid_cursor")
    access_chat(rx, actor, chat_id)
    query = select(s.messages).where(s.messages.c.chat_id == chat_id)
    if after is not None:
        query = query.where(s.messages.c.seq > after).order_by(s.messages.c.seq.asc())
    else:
        if before is not None:
            query = query.where(s.messages.c.seq < before)
        query = query.order_by(s.messages.c.seq.desc())
    rows = list(rx.conn.execute(query.limit(limit + 1)).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    if after is None:
        rows.reverse()
    cipher = rx.cipher(actor.tenant_id)
    files = get_attachments(rx, cipher, [r.id for r in rows])
    return {
        "messages": [message_view(cipher, r, files.get(r.id)) for r in rows],
        "has_more": has_more,
    }


def get_revisions(rx: Rx, actor: Actor, message_id: str) -> list[dict[str, Any]]:
    """Every earlier version of a message (sender, owner and office)."""
    row = access_message(rx, actor, message_id)
    if row.sender_id != actor.user_id and not actor.is_admin:
        raise Forbidden("Only the sender, owner or office see earlier versions.", code="not_sender")
    cipher = rx.cipher(actor.tenant_id)
    revs = rx.conn.execute(
        select(s.message_revisions)
        .where(s.message_revisions.c.message_id == message_id)
        .order_by(s.message_revisions.c.rev)
    ).all()
    return [
        {
            "rev": r.rev,
            "text": cipher.decrypt(f"message_revisions.body/{message_id}/{r.rev}", r.body_enc),
            "written_at": r.written_at,
            "replaced_at": r.replaced_at,
        }
        for r in revs
    ]
