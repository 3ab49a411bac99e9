"""Content keys: one per erasure unit, chat x document class x calendar year x author
(docs/security.md, "Content keys").

Why this unit: retention ends per class and calendar year, so one key destroys exactly what
fell due; the chat lets a legal hold on a project or customer spare its chats; the author
lets a GDPR erasure request shred one person's internal messages without touching anyone
else's. A business of 30 people writing in 50 chats has a few thousand keys a year.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select

from zunft.db import schema as s
from zunft.db.prepared import Prepared
from zunft.db.tx import Tx
from zunft.retention.rules import year_of

_k = s.content_keys
_FIND = Prepared(
    select(_k.c.id, _k.c.destroyed_at)
    .where(
        _k.c.tenant_id == bindparam("tenant_id"),
        _k.c.chat_id == bindparam("chat_id"),
        _k.c.doc_class == bindparam("doc_class"),
        _k.c.year == bindparam("year"),
        _k.c.author_id == bindparam("author_id"),
        _k.c.blob_id.is_(None),
    )
    .order_by(_k.c.created_at)  # the oldest, should two processes have made one each
)
_INSERT = Prepared(insert(_k))


class UnitErased(Exception):
    """The unit's key is already destroyed: content for it is due for erasure at once."""


def get_unit_key(
    tx: Tx, tenant_id: str, *, chat_id: str, doc_class: str, year: int, author_id: str
) -> bytes:
    """The id of the unit's content key, made (and wrapped by the data key) on first use."""
    params = {
        "tenant_id": tenant_id,
        "chat_id": chat_id,
        "doc_class": doc_class,
        "year": year,
        "author_id": author_id,
    }
    row = _FIND.first(tx.conn, params)
    if row is not None:
        if row[1] is not None:
            raise UnitErased(f"{doc_class} {year} of chat {chat_id} is erased")
        return bytes(row[0])
    key_id, wrapped = tx.cipher(tenant_id).new_content_key()
    _INSERT.run(
        tx.conn,
        {
            **params,
            "id": key_id,
            "blob_id": None,
            "wrapped": wrapped,
            "created_at": tx.now_ms,
            "destroyed_at": None,
        },
    )
    return key_id


def do_make_file_key(
    tx: Tx, tenant_id: str, *, chat_id: str, doc_class: str, author_id: str, blob_id: str
) -> bytes:
    """A file's own content key: its contents, description and journal payloads. A file is
    its own erasure unit, so reclassifying it changes its key's class, never its bytes."""
    key_id, wrapped = tx.cipher(tenant_id).new_content_key()
    _INSERT.run(
        tx.conn,
        {
            "id": key_id,
            "tenant_id": tenant_id,
            "chat_id": chat_id,
            "doc_class": doc_class,
            "year": year_of(tx.now_ms),
            "author_id": author_id,
            "blob_id": blob_id,
            "wrapped": wrapped,
            "created_at": tx.now_ms,
            "destroyed_at": None,
        },
    )
    return key_id


# A project's own key (its name, address and customer name): not a document class, so no
# unit lookup, no class rule and no GDPR request by author ever finds it; only
# zunft.retention.erasure.get_due_project_keys destroys it.
PROJECT_KEY_CLASS = "auftrag"


def do_record_project_key(
    tx: Tx, tenant_id: str, key_id: bytes, wrapped: bytes, *, chat_id: str, author_id: str
) -> None:
    """Store a project's key, made with `new_content_key()` before the project's team chat
    existed (the key row names that chat)."""
    _INSERT.run(
        tx.conn,
        {
            "id": key_id,
            "tenant_id": tenant_id,
            "chat_id": chat_id,
            "doc_class": PROJECT_KEY_CLASS,
            "year": year_of(tx.now_ms),
            "author_id": author_id,
            "blob_id": None,
            "wrapped": wrapped,
            "created_at": tx.now_ms,
            "destroyed_at": None,
        },
    )


def get_key_unit(tx: Tx, key_id: bytes) -> tuple[str, str, int, str] | None:
    """(chat, class, year, author) of a content key."""
    row = tx.conn.execute(
        select(_k.c.chat_id, _k.c.doc_class, _k.c.year, _k.c.author_id).where(_k.c.id == key_id)
    ).first()
    return None if row is None else (row.chat_id, row.doc_class, row.year, row.author_id)
