"""Which document class a message, file or chat belongs to, and reclassifying them
(docs/compliance.md, "Aufbewahrung").

A message's class is its own (`messages.doc_class`, set by reclassifying), else its chat's
(`chats.doc_class`), else the default of the chat's kind (`rules.CHAT_DEFAULTS`). A message
lives in the erasure unit of its class (zunft.retention.keys): reclassifying it re-encrypts
its text, earlier versions and journal payloads under the new unit's key. The plaintext of a
journal payload does not change, so its hash, and the chain, stay as they were.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.sql.elements import ColumnElement

from zunft.accounts.actor import Actor
from zunft.blobs.service import access_file
from zunft.chats.service import access_chat
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, NotFound
from zunft.messages.service import access_message
from zunft.retention.keys import UnitErased, get_unit_key
from zunft.retention.rules import CHAT_DEFAULTS, INTERN, chat_class_expr, check_class, year_of


def message_class_expr() -> ColumnElement[Any]:
    """SQL for a message's class (needs `messages` joined with its `chats`). For exports:
    `select(...).join(chats, ...).where(message_class_expr() == "geschaeftsbrief")`."""
    return func.coalesce(s.messages.c.doc_class, chat_class_expr())


def file_class_expr() -> ColumnElement[Any]:
    """SQL for a file's class (needs `blobs` joined with its `chats`)."""
    return func.coalesce(s.blobs.c.doc_class, chat_class_expr())


def get_document_class(rx: Rx, tenant_id: str, message_id: str) -> str:
    """The document class of one message (no permission check: a building block)."""
    found = rx.conn.execute(
        select(message_class_expr())
        .select_from(s.messages.join(s.chats, s.chats.c.id == s.messages.c.chat_id))
        .where(s.messages.c.id == message_id, s.messages.c.tenant_id == tenant_id)
    ).scalar()
    if found is None:
        raise NotFound("No such message.")
    return str(found)


def access_message_class(rx: Rx, actor: Actor, message_id: str) -> dict[str, Any]:
    """A message's class, for owner and office (NotFound unless they may see it)."""
    _check_admin(actor)
    access_message(rx, actor, message_id)
    return {
        "message_id": message_id,
        "doc_class": get_document_class(rx, actor.tenant_id, message_id),
    }


def get_file_class(rx: Rx, tenant_id: str, file_id: str) -> str:
    found = rx.conn.execute(
        select(file_class_expr())
        .select_from(s.blobs.join(s.chats, s.chats.c.id == s.blobs.c.chat_id))
        .where(s.blobs.c.id == file_id, s.blobs.c.tenant_id == tenant_id)
    ).scalar()
    if found is None:
        raise NotFound("No such file.")
    return str(found)


def _check_admin(actor: Actor) -> None:
    # The office decides what is a voucher or a business letter; a worker could otherwise
    # shorten how long something is kept by calling it small talk.
    if not actor.is_admin:
        raise Forbidden("Only owner and office classify documents.", code="admin_only")


def edit_seqs(rx: Rx, tenant_id: str, chat_id: str, message_ids: set[str]) -> dict[str, list[int]]:
    """The journal entries of the edits of these messages (their payloads carry the text).
    Reads the chat's `message.edited` entries: rare, and only when moving content."""
    j, p = s.journal, s.journal_payloads
    cipher = rx.cipher(tenant_id)
    found: dict[str, list[int]] = {}
    rows = rx.conn.execute(
        select(j.c.seq, p.c.payload_enc)
        .join(p, (p.c.tenant_id == j.c.tenant_id) & (p.c.seq == j.c.seq))
        .where(j.c.tenant_id == tenant_id, j.c.chat_id == chat_id, j.c.kind == "message.edited")
    )
    for r in rows:
        if r.payload_enc is None:
            continue
        mid = json.loads(cipher.decrypt_bytes(f"journal/{r.seq}", r.payload_enc))["message_id"]
        if mid in message_ids:
            found.setdefault(mid, []).append(r.seq)
    return found


def move_message(tx: Tx, row: Any, key: bytes, edits: list[int]) -> None:
    """Re-encrypt a message (text, earlier versions, its journal payloads) under `key`."""
    cipher = tx.cipher(row.tenant_id)
    mid = row.id
    body = cipher.decrypt_bytes(f"messages.body/{mid}", row.body_enc)
    tx.conn.execute(
        update(s.messages)
        .where(s.messages.c.id == mid)
        .values(body_enc=cipher.encrypt(f"messages.body/{mid}", body, key), content_key=key)
    )
    rv = s.message_revisions
    for r in tx.conn.execute(select(rv.c.rev, rv.c.body_enc).where(rv.c.message_id == mid)):
        purpose = f"message_revisions.body/{mid}/{r.rev}"
        tx.conn.execute(
            update(rv)
            .where(rv.c.message_id == mid, rv.c.rev == r.rev)
            .values(
                body_enc=cipher.encrypt(purpose, cipher.decrypt_bytes(purpose, r.body_enc), key)
            )
        )
    for seq in [row.seq, *edits]:
        reencrypt_payload(tx, row.tenant_id, seq, key)


def reencrypt_payload(tx: Tx, tenant_id: str, seq: int, key: bytes) -> None:
    """Re-encrypt one journal payload under content key `key` (an erased one stays erased).
    Its plaintext, and so its hash and the chain, stay as they were."""
    p = s.journal_payloads
    cipher = tx.cipher(tenant_id)
    enc = tx.conn.execute(
        select(p.c.payload_enc).where(p.c.tenant_id == tenant_id, p.c.seq == seq)
    ).scalar()
    if enc is None:
        return
    plain = cipher.decrypt_bytes(f"journal/{seq}", enc)
    tx.conn.execute(
        update(p)
        .where(p.c.tenant_id == tenant_id, p.c.seq == seq)
        .values(payload_enc=cipher.encrypt(f"journal/{seq}", plain, key), content_key=key)
    )


def message_unit_key(tx: Tx, row: Any, doc_class: str) -> bytes:
    return get_unit_key(
        tx,
        row.tenant_id,
        chat_id=row.chat_id,
        doc_class=doc_class,
        year=year_of(row.created_at),
        author_id=row.sender_id,
    )


def do_reclassify_message(tx: Tx, actor: Actor, message_id: str, doc_class: str) -> dict[str, Any]:
    _check_admin(actor)
    doc_class = check_class(doc_class)
    row = access_message(tx, actor, message_id)
    if row.erased_at is not None:
        raise Conflict("The message was erased.", code="message_erased")
    before = get_document_class(tx, actor.tenant_id, message_id)
    if before == doc_class:
        return {"message_id": message_id, "doc_class": doc_class}
    try:
        key = message_unit_key(tx, row, doc_class)
    except UnitErased:
        raise Conflict(
            f"Content of {year_of(row.created_at)} in class {doc_class} is already past its"
            " retention and erased; it cannot be moved there.",
            code="retention_ended",
        ) from None
    edits = edit_seqs(tx, actor.tenant_id, row.chat_id, {message_id}).get(message_id, [])
    move_message(tx, row, key, edits)
    tx.conn.execute(
        update(s.messages).where(s.messages.c.id == message_id).values(doc_class=doc_class)
    )
    tx.append(
        actor.tenant_id,
        "message.reclassified",
        {"message_id": message_id, "chat_id": row.chat_id, "from": before, "to": doc_class},
        actor_id=actor.user_id,
        chat_id=row.chat_id,
    )
    return {"message_id": message_id, "doc_class": doc_class}


def do_reclassify_file(tx: Tx, actor: Actor, file_id: str, doc_class: str) -> dict[str, Any]:
    """A file is its own erasure unit: its key's class changes, its bytes stay as they are."""
    _check_admin(actor)
    doc_class = check_class(doc_class)
    row = access_file(tx, actor, file_id)
    before = get_file_class(tx, actor.tenant_id, file_id)
    if before == doc_class:
        return {"file_id": file_id, "doc_class": doc_class}
    tx.conn.execute(update(s.blobs).where(s.blobs.c.id == file_id).values(doc_class=doc_class))
    if row.content_key is not None:
        tx.conn.execute(
            update(s.content_keys)
            .where(s.content_keys.c.id == row.content_key)
            .values(doc_class=doc_class)
        )
    tx.append(
        actor.tenant_id,
        "file.reclassified",
        {"file_id": file_id, "chat_id": row.chat_id, "from": before, "to": doc_class},
        actor_id=actor.user_id,
        chat_id=row.chat_id,
    )
    return {"file_id": file_id, "doc_class": doc_class}


def do_set_chat_class(tx: Tx, actor: Actor, chat_id: str, doc_class: str) -> dict[str, Any]:
    """The class of what is written in a chat from now on; earlier content keeps its class
    (reclassify single messages for that)."""
    _check_admin(actor)
    doc_class = check_class(doc_class)
    chat = access_chat(tx, actor, chat_id)
    before = chat.doc_class or CHAT_DEFAULTS.get(chat.kind, INTERN)
    if before != doc_class:
        # Earlier content keeps its class (and so its unit key): pin it before the change.
        for table in (s.messages, s.blobs):
            tx.conn.execute(
                update(table)
                .where(table.c.chat_id == chat_id, table.c.doc_class.is_(None))
                .values(doc_class=before)
            )
        tx.conn.execute(update(s.chats).where(s.chats.c.id == chat_id).values(doc_class=doc_class))
        tx.append(
            actor.tenant_id,
            "chat.reclassified",
            {"chat_id": chat_id, "from": before, "to": doc_class},
            actor_id=actor.user_id,
            chat_id=chat_id,
        )
    return {"chat_id": chat_id, "doc_class": doc_class}
