"""Erasure by destroying keys (crypto-shredding), the daily job that does it when retention
ends, and moving content written before content keys into them (docs/compliance.md,
docs/security.md "Content keys").

Destroying a unit's key, in one transaction:
- the key's wrapped copy is set to NULL (`content_keys.destroyed_at`): every ciphertext made
  with it, in this database and in any copy or backup of it made afterwards, is unreadable;
- its ciphertexts are removed from the live database as well: message text and earlier
  versions, search tokens, journal payloads (`payload_enc` NULL, `erased_at` set: `zunft archive
  verify` accepts an erased payload, the entry's hash still chains), problem reports' text
  and position (the row stays, with `erased_at`), a project's name, address and customer
  name (it reads "Auftrag vom … (gelöscht)"), and file rows;
- one journal entry `retention.erased` says what was erased and why.
File contents are deleted from the blob store after the commit; should that fail, what is
left there is ciphertext under a destroyed key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update

from zunft.blobs import segments
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.db.tx import Tx
from zunft.journal.read import iter_entries
from zunft.retention.classify import (
    edit_seqs,
    file_class_expr,
    message_class_expr,
    move_message,
    reencrypt_payload,
)
from zunft.retention.holds import get_held_chat_ids
from zunft.retention.keys import (
    PROJECT_KEY_CLASS,
    UnitErased,
    do_record_project_key,
    get_unit_key,
)
from zunft.retention.rules import (
    CLASSES,
    GESCHAEFTSBRIEF,
    LEGAL_TZ,
    erase_from_ms,
    get_retention_years,
    year_of,
)

# Stored answers of idempotent writes (client_writes) hold message text under the data key.
# A retry older than this cannot come: a session ends after ZUNFT_SESSION_DAYS (90) unused,
# and the app empties its outbox when its session has ended. Erasure needs them gone, since
# every erasure is of content at least a calendar year old.
CLIENT_WRITES_KEEP_MS = 180 * 24 * 3600 * 1000
MAX_KEYS_PER_ROUND = 500  # per business and round: bounds one transaction; the next round goes on
LEGACY_BATCH = 500  # messages moved into content keys per round

_k = s.content_keys


@dataclass
class Erased:
    units: list[dict[str, Any]] = field(default_factory=list)
    messages: int = 0
    reports: int = 0
    projects: int = 0
    files: list[tuple[str, str]] = field(default_factory=list)  # (tenant, blob) to delete


def destroy_keys(tx: Tx, tenant_id: str, key_ids: list[bytes], erased: Erased) -> None:
    """Destroy content keys and remove what they encrypted (no journal entry: callers add
    one for the whole batch)."""
    if not key_ids:
        return
    m, p = s.messages, s.journal_payloads
    message_ids = list(
        tx.conn.execute(
            select(m.c.id).where(m.c.tenant_id == tenant_id, m.c.content_key.in_(key_ids))
        ).scalars()
    )
    for chunk in _chunks(message_ids):
        tx.conn.execute(
            delete(s.message_revisions).where(s.message_revisions.c.message_id.in_(chunk))
        )
    tx.conn.execute(
        update(m)
        .where(m.c.tenant_id == tenant_id, m.c.content_key.in_(key_ids))
        .values(body_enc=b"", erased_at=tx.now_ms)
    )
    erased.messages += len(message_ids)
    rp = s.reports
    result = tx.conn.execute(
        update(rp)
        .where(rp.c.tenant_id == tenant_id, rp.c.content_key.in_(key_ids))
        .values(text_enc=b"", position_enc=None, erased_at=tx.now_ms)
    )
    erased.reports += int(result.rowcount or 0)
    for project in tx.conn.execute(
        select(s.projects.c.id, s.projects.c.created_at).where(
            s.projects.c.tenant_id == tenant_id, s.projects.c.content_key.in_(key_ids)
        )
    ).all():
        _blank_project(tx, tenant_id, project.id, project.created_at)
        erased.projects += 1
    tx.conn.execute(
        update(p)
        .where(p.c.tenant_id == tenant_id, p.c.content_key.in_(key_ids))
        .values(payload_enc=None, erased_at=tx.now_ms)
    )
    blob_ids = list(
        tx.conn.execute(
            select(_k.c.blob_id).where(_k.c.id.in_(key_ids), _k.c.blob_id.is_not(None))
        ).scalars()
    )
    erase_files(tx, tenant_id, [str(b) for b in blob_ids], erased)
    tx.conn.execute(
        update(_k)
        .where(_k.c.tenant_id == tenant_id, _k.c.id.in_(key_ids))
        .values(wrapped=None, destroyed_at=tx.now_ms)
    )
    cipher = tx.cipher(tenant_id)
    for key_id in key_ids:
        cipher.forget_content_key(key_id)


def erased_project_name(created_at: int) -> str:
    day = datetime.fromtimestamp(created_at / 1000, LEGAL_TZ).strftime("%d.%m.%Y")
    return f"Auftrag vom {day} (gelöscht)"


def _blank_project(tx: Tx, tenant_id: str, project_id: str, created_at: int) -> None:
    """Replace a project's master data by a neutral name (under the data key: every reader
    of project names goes on working) and mark it erased."""
    cipher = tx.cipher(tenant_id)
    tx.conn.execute(
        update(s.projects)
        .where(s.projects.c.id == project_id)
        .values(
            name_enc=cipher.encrypt(f"projects.name/{project_id}", erased_project_name(created_at)),
            address_enc=None,
            customer_name_enc=None,
            erased_at=tx.now_ms,
        )
    )


def erase_files(tx: Tx, tenant_id: str, blob_ids: list[str], erased: Erased) -> None:
    """Remove files' rows (and any upload still in progress under that id); their contents
    go from the store after the commit."""
    for chunk in _chunks(blob_ids):
        tx.conn.execute(
            delete(s.message_attachments).where(s.message_attachments.c.blob_id.in_(chunk))
        )
        tx.conn.execute(delete(s.blob_tags).where(s.blob_tags.c.blob_id.in_(chunk)))
        tx.conn.execute(
            delete(s.blobs).where(s.blobs.c.tenant_id == tenant_id, s.blobs.c.id.in_(chunk))
        )
        tx.conn.execute(
            delete(s.uploads).where(s.uploads.c.tenant_id == tenant_id, s.uploads.c.id.in_(chunk))
        )
    erased.files.extend((tenant_id, b) for b in blob_ids)


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def get_due_keys(tx: Tx, tenant_id: str, *, limit: int = MAX_KEYS_PER_ROUND) -> list[Any]:
    """Content keys whose retention has ended and that no legal hold keeps."""
    years = get_retention_years(tx, tenant_id)
    this_year = year_of(tx.now_ms)
    held = get_held_chat_ids(tx, tenant_id)
    due: list[Any] = []
    for doc_class in CLASSES:
        # Content of year Y kept N years may go from 1 January of Y + N + 1.
        last_due_year = this_year - years[doc_class] - 1
        rows = tx.conn.execute(
            select(_k.c.id, _k.c.chat_id, _k.c.doc_class, _k.c.year, _k.c.blob_id)
            .where(
                _k.c.tenant_id == tenant_id,
                _k.c.doc_class == doc_class,
                _k.c.year <= last_due_year,
                _k.c.destroyed_at.is_(None),
                # In SQL, not after the limit: held units must not starve the others.
                _k.c.chat_id.not_in(sorted(held)),
            )
            .order_by(_k.c.year)
            .limit(limit)
        ).all()
        due.extend(rows)
    return due[:limit]


def get_due_project_keys(tx: Tx, tenant_id: str, *, limit: int = MAX_KEYS_PER_ROUND) -> list[Any]:
    """Keys of projects whose master data may go: completed or archived in a year whose
    business-letter period has ended, no legal hold on it, and nothing of its chats kept any
    more (every content key of its chats destroyed: a voucher kept eight years keeps the
    name of its project with it)."""
    years = get_retention_years(tx, tenant_id)[GESCHAEFTSBRIEF]
    boundary = erase_from_ms(year_of(tx.now_ms) - years - 1, 0)
    held = get_held_chat_ids(tx, tenant_id)
    p, c = s.projects, s.chats
    project_chats = select(c.c.id).where(c.c.project_id == p.c.id)
    live_content = (
        select(_k.c.id)
        .where(
            _k.c.chat_id.in_(project_chats),
            _k.c.doc_class != PROJECT_KEY_CLASS,
            _k.c.destroyed_at.is_(None),
        )
        .exists()
    )
    # Content from before content keys, not yet moved into units (or, for files, not yet
    # deleted): it is not erased yet either, so the project's name stays with it.
    m, rp, b = s.messages, s.reports, s.blobs
    legacy_content = or_(
        select(m.c.id)
        .where(m.c.chat_id.in_(project_chats), m.c.content_key.is_(None), m.c.erased_at.is_(None))
        .exists(),
        select(rp.c.id)
        .where(rp.c.project_id == p.c.id, rp.c.content_key.is_(None), rp.c.erased_at.is_(None))
        .exists(),
        select(b.c.id).where(b.c.chat_id.in_(project_chats), b.c.content_key.is_(None)).exists(),
    )
    held_chat = select(c.c.id).where(c.c.project_id == p.c.id, c.c.id.in_(sorted(held))).exists()
    rows = tx.conn.execute(
        select(p.c.id, p.c.content_key)
        .where(
            p.c.tenant_id == tenant_id,
            p.c.status.in_(["completed", "archived"]),
            p.c.erased_at.is_(None),
            p.c.content_key.is_not(None),
            p.c.updated_at < boundary,
            ~live_content,
            ~legacy_content,
            ~held_chat,
        )
        .limit(limit)
    ).all()
    return list(rows)


def get_due_legacy_files(tx: Tx, tenant_id: str, *, limit: int = MAX_KEYS_PER_ROUND) -> list[str]:
    """Files stored before content keys (no key to destroy) whose retention has ended."""
    years = get_retention_years(tx, tenant_id)
    this_year = year_of(tx.now_ms)
    held = get_held_chat_ids(tx, tenant_id)
    b = s.blobs
    due: list[str] = []
    for doc_class in CLASSES:
        # Uploaded before 1 January of (this year - N): its year + N has ended.
        boundary = erase_from_ms(this_year - years[doc_class] - 1, 0)
        rows = tx.conn.execute(
            select(b.c.id, b.c.chat_id)
            .join(s.chats, s.chats.c.id == b.c.chat_id)
            .where(
                b.c.tenant_id == tenant_id,
                b.c.content_key.is_(None),
                file_class_expr() == doc_class,
                b.c.created_at < boundary,
                b.c.chat_id.not_in(sorted(held)),
            )
            .limit(limit)
        ).all()
        due.extend(r.id for r in rows)
    return due[:limit]


def do_erase_due(tx: Tx) -> tuple[int, list[tuple[str, str]]]:
    """The daily job's writing part: destroy every due key of every business. Returns the
    number of keys destroyed and the files whose contents to delete once this committed."""
    total = 0
    files: list[tuple[str, str]] = []
    for tenant_id in list(tx.conn.execute(select(s.tenants.c.id)).scalars()):
        erased = Erased()
        due = get_due_keys(tx, tenant_id)
        legacy_files = get_due_legacy_files(tx, tenant_id)
        if legacy_files:
            erase_files(tx, tenant_id, legacy_files, erased)
            tx.append(
                tenant_id,
                "retention.erased",
                {
                    "reason": "retention_ended",
                    "file_ids": legacy_files,
                    "messages": 0,
                    "files": len(legacy_files),
                },
            )
            files.extend(erased.files)
            erased = Erased()
        if due:
            destroy_keys(tx, tenant_id, [bytes(r.id) for r in due], erased)
            units: dict[tuple[str, str, int], int] = {}
            for r in due:
                unit = (r.chat_id, r.doc_class, r.year)
                units[unit] = units.get(unit, 0) + 1
            tx.append(
                tenant_id,
                "retention.erased",
                {
                    "reason": "retention_ended",
                    "units": [
                        {"chat_id": c, "doc_class": d, "year": y, "keys": n}
                        for (c, d, y), n in sorted(units.items())
                    ],
                    "messages": erased.messages,
                    "reports": erased.reports,
                    "files": len(erased.files),
                },
            )
            total += len(due)
            files.extend(erased.files)
        projects = get_due_project_keys(tx, tenant_id)
        if projects:
            erased = Erased()
            destroy_keys(tx, tenant_id, [bytes(r.content_key) for r in projects], erased)
            tx.append(
                tenant_id,
                "retention.erased",
                {
                    "reason": "retention_ended",
                    "project_ids": sorted(r.id for r in projects),
                    "messages": 0,
                    "files": 0,
                },
            )
            total += len(projects)
    return total, files


def delete_erased_files(ctx: AppContext, files: list[tuple[str, str]]) -> None:
    if ctx.blobs is None:
        return
    for tenant_id, blob_id in files:
        ctx.blobs.delete_prefix(segments.prefix(tenant_id, blob_id))


def do_migrate_legacy(
    tx: Tx,
    limit: int | None = LEGACY_BATCH,
    *,
    tenant_id: str | None = None,
    sender_id: str | None = None,
) -> int:
    """Move up to `limit` messages written before content keys (under the data key) into
    their units (all of one sender's with `sender_id`). Returns how many moved."""
    m = s.messages
    query = (
        select(m, message_class_expr().label("effective_class"))
        .join(s.chats, s.chats.c.id == m.c.chat_id)
        .where(m.c.content_key.is_(None), m.c.erased_at.is_(None))
        .order_by(m.c.tenant_id, m.c.chat_id)
    )
    if sender_id is not None:
        query = query.where(m.c.tenant_id == tenant_id, m.c.sender_id == sender_id)
    rows = tx.conn.execute(query if limit is None else query.limit(limit)).all()
    by_chat: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        by_chat.setdefault((r.tenant_id, r.chat_id), []).append(r)
    for (tid, chat_id), group in by_chat.items():
        edits = edit_seqs(tx, tid, chat_id, {r.id for r in group})
        for r in group:
            try:
                key = get_unit_key(
                    tx,
                    tid,
                    chat_id=chat_id,
                    doc_class=r.effective_class,
                    year=year_of(r.created_at),
                    author_id=r.sender_id,
                )
            except UnitErased:
                # Its unit was shredded already: it is past its retention, erase it as well.
                key = None
            if key is None:
                _erase_legacy_message(tx, r, edits.get(r.id, []))
            else:
                move_message(tx, r, key, edits.get(r.id, []))
    return len(rows)


def _erase_legacy_message(tx: Tx, row: Any, edits: list[int]) -> None:
    p = s.journal_payloads
    tx.conn.execute(delete(s.message_revisions).where(s.message_revisions.c.message_id == row.id))
    tx.conn.execute(
        update(s.messages)
        .where(s.messages.c.id == row.id)
        .values(body_enc=b"", erased_at=tx.now_ms)
    )
    tx.conn.execute(
        update(p)
        .where(p.c.tenant_id == row.tenant_id, p.c.seq.in_([row.seq, *edits]))
        .values(payload_enc=None, erased_at=tx.now_ms)
    )
    tx.append(
        row.tenant_id,
        "retention.erased",
        {"reason": "retention_ended", "message_ids": [row.id], "messages": 1, "files": 0},
    )


def do_migrate_legacy_reports(
    tx: Tx,
    limit: int | None = LEGACY_BATCH,
    *,
    tenant_id: str | None = None,
    author_id: str | None = None,
) -> int:
    """Move up to `limit` reports stored before migration 0006 (under the data key) into
    their units: text, position and their `report.created` payload (all of one author's with
    `author_id`). A report whose unit is shredded already is erased. Returns how many."""
    from zunft.reports.service import report_unit_key  # reports build on retention

    rp, c = s.reports, s.chats
    query = (
        select(rp, c.c.id.label("team_chat"))
        .join(c, (c.c.project_id == rp.c.project_id) & (c.c.kind == "project"))
        .where(rp.c.content_key.is_(None), rp.c.erased_at.is_(None))
        .order_by(rp.c.tenant_id, rp.c.created_at)
    )
    if author_id is not None:
        query = query.where(rp.c.tenant_id == tenant_id, rp.c.created_by == author_id)
    rows = tx.conn.execute(query if limit is None else query.limit(limit)).all()
    created: dict[str, dict[str, tuple[int, str | None]]] = {}
    for r in rows:
        if r.tenant_id not in created:
            created[r.tenant_id] = _created_entries(tx, r.tenant_id, "report.created", "report_id")
        seq = created[r.tenant_id].get(r.id, (None, None))[0]
        try:
            key: bytes | None = report_unit_key(
                tx, r.tenant_id, r.team_chat, r.created_by, r.created_at
            )
        except UnitErased:
            key = None
        _move_or_erase_report(tx, r, seq, key)
    return len(rows)


def do_migrate_legacy_projects(tx: Tx, limit: int | None = LEGACY_BATCH) -> int:
    """Give projects stored before migration 0007 their own key: name, address, customer
    name and the `project.created` payload are re-encrypted under it. Returns how many."""
    p = s.projects
    query = (
        select(p, s.chats.c.id.label("team_chat"))
        .join(s.chats, (s.chats.c.project_id == p.c.id) & (s.chats.c.kind == "project"))
        .where(p.c.content_key.is_(None), p.c.erased_at.is_(None))
        .order_by(p.c.tenant_id, p.c.created_at)
    )
    rows = tx.conn.execute(query if limit is None else query.limit(limit)).all()
    created: dict[str, dict[str, tuple[int, str | None]]] = {}
    for r in rows:
        if r.tenant_id not in created:
            created[r.tenant_id] = _created_entries(
                tx, r.tenant_id, "project.created", "project_id"
            )
        seq, author = created[r.tenant_id].get(r.id, (None, None))
        author = author or r.lead_id or _an_owner(tx, r.tenant_id)
        cipher = tx.cipher(r.tenant_id)
        key, wrapped = cipher.new_content_key()
        do_record_project_key(tx, r.tenant_id, key, wrapped, chat_id=r.team_chat, author_id=author)

        values: dict[str, Any] = {"content_key": key}
        for column, purpose in (
            ("name_enc", "projects.name"),
            ("address_enc", "projects.address"),
            ("customer_name_enc", "projects.customer_name"),
        ):
            blob = getattr(r, column)
            if blob is not None:
                plain = cipher.decrypt_bytes(f"{purpose}/{r.id}", blob)
                values[column] = cipher.encrypt(f"{purpose}/{r.id}", plain, key)
        tx.conn.execute(update(p).where(p.c.id == r.id).values(**values))
        if seq is not None:
            reencrypt_payload(tx, r.tenant_id, seq, key)
    return len(rows)


def _created_entries(
    tx: Tx, tenant_id: str, kind: str, id_field: str
) -> dict[str, tuple[int, str | None]]:
    """What a business's `kind` entries created: the payload's `id_field` -> (seq, actor).
    Read once per business and batch (legacy rows only: their number shrinks to nothing)."""
    return {
        e.payload[id_field]: (e.seq, e.actor_id)
        for e in iter_entries(tx, tenant_id, kinds=[kind], shredded_as_empty=True)
        if id_field in e.payload
    }


def _an_owner(tx: Tx, tenant_id: str) -> str:
    u = s.users
    return str(
        tx.conn.execute(
            select(u.c.id)
            .where(u.c.tenant_id == tenant_id, u.c.kind == "staff", u.c.role == "owner")
            .order_by(u.c.created_at)
        )
        .scalars()
        .first()
    )


def _move_or_erase_report(tx: Tx, r: Any, seq: int | None, key: bytes | None) -> None:
    cipher = tx.cipher(r.tenant_id)
    rp, p = s.reports, s.journal_payloads
    if key is None:
        tx.conn.execute(
            update(rp)
            .where(rp.c.id == r.id)
            .values(text_enc=b"", position_enc=None, erased_at=tx.now_ms)
        )
        if seq is not None:
            tx.conn.execute(
                update(p)
                .where(p.c.tenant_id == r.tenant_id, p.c.seq == seq)
                .values(payload_enc=None, erased_at=tx.now_ms)
            )
        tx.append(
            r.tenant_id,
            "retention.erased",
            {"reason": "retention_ended", "report_ids": [r.id], "messages": 0, "files": 0},
        )
        return

    def again(purpose: str, blob: bytes) -> bytes:
        return cipher.encrypt(purpose, cipher.decrypt_bytes(purpose, blob), key)

    tx.conn.execute(
        update(rp)
        .where(rp.c.id == r.id)
        .values(
            text_enc=again(f"reports.text/{r.id}", r.text_enc),
            position_enc=(
                None
                if r.position_enc is None
                else again(f"reports.position/{r.id}", r.position_enc)
            ),
            content_key=key,
        )
    )
    if seq is not None:
        reencrypt_payload(tx, r.tenant_id, seq, key)


def get_legacy_files_of(tx: Tx, tenant_id: str, uploader_id: str, doc_class: str) -> list[str]:
    """A person's files of one class stored before content keys (erased by deletion)."""
    b = s.blobs
    return list(
        tx.conn.execute(
            select(b.c.id)
            .join(s.chats, s.chats.c.id == b.c.chat_id)
            .where(
                b.c.tenant_id == tenant_id,
                b.c.uploader_id == uploader_id,
                b.c.content_key.is_(None),
                file_class_expr() == doc_class,
            )
        ).scalars()
    )


def do_expire_client_writes(tx: Tx) -> int:
    """Forget stored answers of idempotent writes older than CLIENT_WRITES_KEEP_MS."""
    c = s.client_writes
    result = tx.conn.execute(delete(c).where(c.c.created_at < tx.now_ms - CLIENT_WRITES_KEEP_MS))
    return int(result.rowcount or 0)


def run_erasure(ctx: AppContext) -> dict[str, int]:
    """One round of the daily work: move old content into units, erase what is due, finish
    GDPR erasures whose kept part has fallen due, then delete the erased files' contents."""
    from zunft.retention.gdpr import do_finish_erasures  # gdpr builds on this module

    ctx.write(do_expire_client_writes)
    migrated = (
        ctx.write(do_migrate_legacy)
        + ctx.write(do_migrate_legacy_reports)
        + ctx.write(do_migrate_legacy_projects)
    )
    erased, files = ctx.write(do_erase_due)
    delete_erased_files(ctx, files)  # after the commit: never for a rolled-back erasure
    finished = ctx.write(do_finish_erasures)
    return {"migrated": migrated, "erased_keys": erased, "gdpr_finished": finished}
