"""The verifiable archive export: one ZIP for a tax auditor (docs/archive.md, "Export").

`run_export(ctx, request, path)` reads, in one consistent snapshot of the database, every
chat in the request's scope (business, project, chat, customer or person) and time range, and
writes:

    LIESMICH.txt                    what is in the export and how to check it (German)
    index.xml, gdpdu-01-08-2002.dtd the tables' description (GDPdU Beschreibungsstandard)
    tabellen/*.csv                  chats, messages, earlier versions, participants,
                                    attachments, reports, consents (tables.py)
    protokolle/*.pdf                a readable transcript per chat (transcript.py)
    dateien/<id>-<name>             the original files, byte for byte
    pruefpunkt.json                 the signed checkpoint of the journal at the snapshot
    manifest.json                   path, size and SHA-256 of every file above, the journal
                                    head the export was cut from, signed (Ed25519)

It streams: messages are read a page at a time, files go into the ZIP one by one, segment by
segment, CSV rows go to temporary files on disk, and a long chat's transcript is split into
volumes; memory stays bounded however large the export. The export is journaled
(`archive.exported`: who exported what, and the manifest's hash).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import ColumnElement, and_, func, or_, select

from zunft.archive import tables as t
from zunft.archive.checkpoint import make_checkpoint, write_checkpoint_file
from zunft.archive.transcript import Attachment, Entry, Transcript
from zunft.archive.verify_export import DOMAIN, FORMAT, MANIFEST
from zunft.blobs.segments import ORIGINAL, BlobReader
from zunft.blobs.store import BlobMissing, BlobStore
from zunft.crypto.envelope import TenantCipher
from zunft.crypto.signing import key_id, load_signing_key, public_bytes, sign
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Invalid, NotFound
from zunft.ids import new_id
from zunft.journal.chain import canonical
from zunft.reports.service import REPORT_CLASS, stored_photo_ids
from zunft.retention.rules import chat_class_expr, check_class

if TYPE_CHECKING:
    from zunft.context import AppContext

CHECKPOINT = "pruefpunkt.json"
SCOPES = ("business", "project", "chat", "customer", "person")
PAGE = 500  # messages read per query
CLASS_NAMES = {
    "geschaeftsbrief": "Geschäftsbrief",
    "buchungsbeleg": "Buchungsbeleg",
    "intern": "intern",
}
VOLUME = 5000  # messages per transcript PDF: fpdf2 holds a document's pages until written
CHUNK = 1 << 20

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportRequest:
    tenant_id: str
    scope: str = "business"
    ref_id: str | None = None
    since: int | None = None  # first millisecond included
    until: int | None = None  # first millisecond no longer included
    # Document classes (retention, docs/compliance.md). None: everything; otherwise only
    # messages and files of these classes, and only chats that hold any (_class_clause);
    # reports only with geschaeftsbrief (REPORT_CLASS), and consent records only in a full
    # export: a tax auditor asking for business letters has no claim to consent evidence.
    classes: frozenset[str] | None = None
    # Direct chats between two people are left out unless asked for: the owner cannot read
    # them in the app, and an export is no way around that (docs/architecture.md).
    include_direct: bool = False
    actor_id: str | None = None  # who asked; None: the command line

    def scope_view(self) -> dict[str, Any]:
        return {
            "kind": self.scope,
            "id": self.ref_id,
            "since": self.since,
            "until": self.until,
            "classes": sorted(self.classes) if self.classes is not None else None,
            "include_direct": self.include_direct,
        }


@dataclass
class ExportSummary:
    export_id: str
    path: Path
    chats: int = 0
    messages: int = 0
    files: int = 0
    bytes: int = 0
    journal_count: int = 0
    journal_head: str = ""
    manifest_sha256: str = ""


@dataclass
class _Chat:
    id: str
    kind: str
    title: str
    project_id: str | None
    created_at: int
    pdfs: list[str] = field(default_factory=list)


def check_export_request(rx: Rx, req: ExportRequest) -> ExportRequest:
    """Refuses a request that names an unknown scope, a thing of another business (NotFound,
    like a missing id), or an empty period."""
    if req.scope not in SCOPES:
        raise Invalid(f"Unknown scope {req.scope!r}.", code="invalid_scope")
    if (req.scope == "business") != (req.ref_id is None):
        raise Invalid("Name what to export (except for the whole business).", code="invalid_scope")
    if req.since is not None and req.until is not None and req.until <= req.since:
        raise Invalid("The period ends before it starts.", code="invalid_period")
    if req.classes is not None:
        # An unknown class would silently select nothing; an empty set is never meant.
        if not req.classes:
            raise Invalid(
                "Name at least one document class, or none for all.", code="invalid_doc_class"
            )
        for doc_class in req.classes:
            check_class(doc_class)
    tid = req.tenant_id
    found: Any = True
    if req.scope == "project":
        found = rx.conn.execute(
            select(s.projects.c.id).where(
                s.projects.c.id == req.ref_id, s.projects.c.tenant_id == tid
            )
        ).first()
    elif req.scope == "chat":
        kind = rx.conn.execute(
            select(s.chats.c.kind).where(s.chats.c.id == req.ref_id, s.chats.c.tenant_id == tid)
        ).scalar_one_or_none()
        found = kind is not None and (kind != "direct" or req.include_direct)
    elif req.scope == "customer":
        found = rx.conn.execute(
            select(s.customers.c.user_id).where(
                s.customers.c.user_id == req.ref_id, s.customers.c.tenant_id == tid
            )
        ).first()
    elif req.scope == "person":
        found = rx.conn.execute(
            select(s.users.c.id).where(s.users.c.id == req.ref_id, s.users.c.tenant_id == tid)
        ).first()
    if not found:
        raise NotFound(f"No such {req.scope} to export.")
    return req


def _scope_clause(req: ExportRequest) -> ColumnElement[bool]:
    c = s.chats.c
    clause: ColumnElement[bool] = c.tenant_id == req.tenant_id
    if not req.include_direct:
        clause = and_(clause, c.kind != "direct")
    if req.scope == "project":
        clause = and_(clause, c.project_id == req.ref_id)
    elif req.scope == "chat":
        clause = and_(clause, c.id == req.ref_id)
    elif req.scope == "customer":
        clause = and_(
            clause,
            c.id.in_(
                select(s.customer_chats.c.chat_id).where(
                    s.customer_chats.c.customer_id == req.ref_id
                )
            ),
        )
    elif req.scope == "person":
        member = select(s.chat_members.c.chat_id).where(s.chat_members.c.user_id == req.ref_id)
        sender = select(s.messages.c.chat_id).where(
            s.messages.c.tenant_id == req.tenant_id, s.messages.c.sender_id == req.ref_id
        )
        clause = and_(clause, or_(c.id.in_(member), c.id.in_(sender)))
    if req.classes is not None:
        clause = and_(clause, _chat_class_clause(req))
    return clause


def _chat_class_clause(req: ExportRequest) -> ColumnElement[bool]:
    """A class-limited export holds a chat only when the chat's class, or that of a message
    or file reclassified in it, is asked for: a chat of other classes would otherwise show
    its title and participants to an auditor who asked for nothing of it."""
    classes = sorted(req.classes or ())
    c = s.chats.c
    marked = [
        select(table.c.chat_id).where(
            table.c.tenant_id == req.tenant_id, table.c.doc_class.in_(classes)
        )
        for table in (s.messages, s.blobs)
    ]
    return or_(chat_class_expr().in_(classes), *(c.id.in_(q) for q in marked))


def _class_clause(req: ExportRequest, table: Any = s.messages) -> ColumnElement[bool] | None:
    """Messages (or files) of the asked classes: a row's class is its own, else its chat's,
    else the chat kind's default (retention.classify). Written without a join (the chats of
    a class as a subquery) so the paged queries stay `select(messages)`."""
    if req.classes is None:
        return None
    classes = sorted(req.classes)
    of_chat = select(s.chats.c.id).where(
        s.chats.c.tenant_id == req.tenant_id, chat_class_expr().in_(classes)
    )
    column = table.c
    return or_(
        column.doc_class.in_(classes),
        and_(column.doc_class.is_(None), column.chat_id.in_(of_chat)),
    )


def _message_clause(req: ExportRequest) -> list[ColumnElement[bool]]:
    m = s.messages.c
    where: list[ColumnElement[bool]] = []
    if req.since is not None:
        where.append(m.created_at >= req.since)
    if req.until is not None:
        where.append(m.created_at < req.until)
    classes = _class_clause(req)
    if classes is not None:
        where.append(classes)
    return where


class _Names:
    """User names, decrypted once each."""

    def __init__(self, rx: Rx, cipher: TenantCipher) -> None:
        self.rx, self.cipher, self.cache = rx, cipher, dict[str, str]()

    def __call__(self, user_id: str | None) -> str:
        if user_id is None:
            return ""
        if user_id not in self.cache:
            row = self.rx.conn.execute(
                select(s.users.c.name_enc).where(s.users.c.id == user_id)
            ).first()
            self.cache[user_id] = (
                self.cipher.decrypt(f"users.name/{user_id}", row.name_enc) if row else user_id
            )
        return self.cache[user_id]


def _safe(text: str, limit: int = 60) -> str:
    """A file name part: ASCII letters, digits, '-', '_' and '.' only."""
    plain = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    plain = plain.encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-.")
    return plain[:limit] or "datei"


def get_export_chats(rx: Rx, req: ExportRequest, names: Callable[[str | None], str]) -> list[Any]:
    cipher = rx.cipher(req.tenant_id)
    rows = rx.conn.execute(
        select(s.chats, s.projects.c.name_enc.label("project_name_enc"))
        .outerjoin(s.projects, s.projects.c.id == s.chats.c.project_id)
        .where(_scope_clause(req))
        .order_by(s.chats.c.created_at, s.chats.c.id)
    ).all()
    chats = []
    for r in rows:
        project = (
            cipher.decrypt(f"projects.name/{r.project_id}", r.project_name_enc)
            if r.project_name_enc is not None
            else None
        )
        if r.kind == "channel":
            title = r.title or "Kanal"
        elif r.kind == "project":
            title = project or "Auftrag"
        elif r.kind == "customer":
            customer = rx.conn.execute(
                select(s.customer_chats.c.customer_id).where(s.customer_chats.c.chat_id == r.id)
            ).scalar_one_or_none()
            title = f"Kunde {names(customer)} - {project or ''}".strip(" -")
        else:
            pair = (r.direct_key or "").split(":")
            title = "Direktchat " + " und ".join(names(u) for u in pair if u)
        chats.append(_Chat(r.id, r.kind, title, r.project_id, r.created_at))
    return chats


class _Zip:
    """The ZIP being written, with each member's SHA-256 and size for the manifest."""

    def __init__(self, out: IO[bytes]) -> None:
        self.zf = zipfile.ZipFile(out, "w", allowZip64=True)
        self.entries: list[dict[str, Any]] = []
        self.bytes = 0

    @contextmanager
    def member(
        self, name: str, size_hint: int, *, compress: bool
    ) -> Iterator[Callable[[bytes], None]]:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        digest = hashlib.sha256()
        size = 0
        with self.zf.open(info, "w", force_zip64=size_hint > 0x7FFF0000) as fh:

            def write(data: bytes) -> None:
                nonlocal size
                digest.update(data)
                fh.write(data)
                size += len(data)

            yield write
        self.entries.append({"path": name, "size": size, "sha256": digest.hexdigest()})
        self.bytes += size

    def add(self, name: str, data: bytes, *, compress: bool = True) -> None:
        with self.member(name, len(data), compress=compress) as write:
            write(data)

    def add_file(self, name: str, fh: IO[bytes], *, compress: bool = True) -> None:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(0)
        with self.member(name, size, compress=compress) as write:
            while chunk := fh.read(CHUNK):
                write(chunk)


class _Exporter:
    def __init__(
        self,
        rx: Rx,
        req: ExportRequest,
        out: _Zip,
        store: BlobStore | None,
        progress: Progress | None,
    ) -> None:
        self.rx, self.req, self.zip, self.store = rx, req, out, store
        self.cipher = rx.cipher(req.tenant_id)
        self.names = _Names(rx, self.cipher)
        self.progress = progress
        self.done = 0
        self.total = 0
        self.messages = 0
        self.written: dict[str, str] = {}  # file id -> path in the ZIP
        self.spool: dict[str, tuple[t.CsvTable, IO[bytes]]] = {}
        for table in t.TABLES:
            fh = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close(), after the ZIP)
            self.spool[table.file] = (t.CsvTable(table, fh), fh)

    def csv(self, table: t.TableDef) -> t.CsvTable:
        return self.spool[table.file][0]

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)

    def close(self) -> None:
        for _, fh in self.spool.values():
            fh.close()

    # -- files ---------------------------------------------------------------------------

    def reader(self, row: Any, variant: str, size: int) -> BlobReader:
        assert self.store is not None
        return BlobReader(
            self.store, self.cipher, row.id, size=size, variant=variant,
            segment_size=row.segment_size,
        )  # fmt: skip

    def write_file(self, row: Any, message_id: str | None) -> str:
        """The original into dateien/ (once), its row into anhaenge.csv; returns its path."""
        if row.id in self.written:
            return self.written[row.id]
        name = self.cipher.decrypt(f"blobs.name/{row.id}", row.name_enc)
        path = f"dateien/{row.id}-{_safe(name)}"
        sha = self.cipher.decrypt_bytes(f"blobs.sha256/{row.id}", row.sha256_enc).hex()
        if self.store is not None:
            reader = self.reader(row, ORIGINAL, row.size)
            with self.zip.member(path, row.size, compress=False) as write:
                for chunk in reader.iter_range(0, row.size - 1) if row.size else ():
                    write(chunk)
            if self.zip.entries[-1]["sha256"] != sha:
                raise BlobMissing(f"file {row.id}: the stored bytes do not match its SHA-256")
        self.written[row.id] = path
        self.csv(t.ATTACHMENTS).add(
            [
                row.id, message_id, row.chat_id, row.kind, row.content_type, row.size, name,
                sha, t.date_of(row.created_at), path,
            ]
        )  # fmt: skip
        self.tick()
        return path

    def thumb(self, row: Any) -> Attachment:
        name = self.cipher.decrypt(f"blobs.name/{row.id}", row.name_enc)
        found = Attachment(row.kind, name, row.size)
        preview = json.loads(row.derivatives).get("thumb")
        if preview is not None and self.store is not None:
            try:
                found.thumb = self.reader(row, "thumb", preview["size"]).read()
                found.width, found.height = preview.get("width"), preview.get("height")
            except BlobMissing:
                found.thumb = None
        return found

    # -- messages ------------------------------------------------------------------------

    def chat(self, chat: _Chat, *, business: str, period: str, created: str, head: str) -> None:
        m = s.messages
        where = [m.c.chat_id == chat.id, *_message_clause(self.req)]
        volume = 1

        def new_transcript() -> Transcript:
            return Transcript(
                business=business, title=chat.title, kind=chat.kind, period=period,
                created=created, head=head, volume=volume,
            )  # fmt: skip

        transcript = new_transcript()
        base = f"protokolle/{_safe(chat.title, 40)}-{chat.id}"
        last = -1
        while True:
            rows = self.rx.conn.execute(
                select(m).where(*where, m.c.seq > last).order_by(m.c.seq).limit(PAGE)
            ).all()
            if not rows:
                break
            last = rows[-1].seq
            for entry in self._page(rows):
                transcript.add(entry)
                self.messages += 1
                self.tick()
                if transcript.count >= VOLUME:
                    chat.pdfs.append(f"{base}-teil-{volume}.pdf")
                    self.zip.add(chat.pdfs[-1], transcript.output())
                    volume += 1
                    transcript = new_transcript()
        if transcript.count or volume == 1:
            name = f"{base}.pdf" if volume == 1 else f"{base}-teil-{volume}.pdf"
            chat.pdfs.append(name)
            self.zip.add(name, transcript.output())

    def _page(self, rows: Sequence[Any]) -> Iterator[Entry]:
        ids = [r.id for r in rows]
        a = s.message_attachments
        attached: dict[str, list[Any]] = {}
        for r in self.rx.conn.execute(
            select(a.c.message_id, s.blobs)
            .join(s.blobs, s.blobs.c.id == a.c.blob_id)
            .where(a.c.message_id.in_(ids))
            .order_by(a.c.message_id, a.c.position)
        ).all():
            attached.setdefault(r.message_id, []).append(r)
        revisions: dict[str, list[Any]] = {}
        edited = [r.id for r in rows if r.edit_count]
        if edited:
            rv = s.message_revisions
            for r in self.rx.conn.execute(
                select(rv).where(rv.c.message_id.in_(edited)).order_by(rv.c.message_id, rv.c.rev)
            ).all():
                revisions.setdefault(r.message_id, []).append(r)
        reply_ids = sorted({r.reply_to_id for r in rows if r.reply_to_id})
        replies = {
            r.id: r
            for r in self.rx.conn.execute(
                select(s.messages.c.id, s.messages.c.sender_id, s.messages.c.created_at).where(
                    s.messages.c.id.in_(reply_ids)
                )
            ).all()
        } if reply_ids else {}  # fmt: skip
        messages, revs = self.csv(t.MESSAGES), self.csv(t.REVISIONS)
        for r in rows:
            erased = r.erased_at is not None  # retention ended: no text left to decrypt
            text = "" if erased else self.cipher.decrypt(f"messages.body/{r.id}", r.body_enc)
            files = attached.get(r.id, [])
            messages.add(
                [
                    r.id, r.chat_id, r.seq, t.date_of(r.created_at), t.time_of(r.created_at),
                    r.created_at, r.sender_id, self.names(r.sender_id), r.reply_to_id, text,
                    r.edit_count, t.date_of(r.edited_at), "ja" if r.deleted_at else "nein",
                    t.date_of(r.deleted_at), r.deleted_by, len(files), t.date_of(r.erased_at),
                ]
            )  # fmt: skip
            earlier = []
            for v in revisions.get(r.id, []):
                old = self.cipher.decrypt(f"message_revisions.body/{r.id}/{v.rev}", v.body_enc)
                revs.add([r.id, v.rev, old, t.date_of(v.written_at), v.written_at, v.replaced_at])
                earlier.append((v.rev, v.written_at, old))
            reply = replies.get(r.reply_to_id) if r.reply_to_id else None
            reply_text = None
            if r.reply_to_id:
                reply_text = (
                    f"die Nachricht von {self.names(reply.sender_id)} vom "
                    f"{t.date_of(reply.created_at)} {t.time_of(reply.created_at)}"
                    if reply is not None
                    else "eine Nachricht außerhalb dieses Exports"
                )
            attachments = []
            for f in files:
                self.write_file(f, r.id)
                attachments.append(self.thumb(f))
            yield Entry(
                time_ms=r.created_at,
                author=self.names(r.sender_id),
                text=text,
                reply_to=reply_text,
                edited_at=r.edited_at,
                earlier=earlier,
                deleted_at=r.deleted_at,
                deleted_by=self.names(r.deleted_by) if r.deleted_by else None,
                erased_at=r.erased_at,
                attachments=attachments,
            )

    def loose_files(self, chat_ids: list[str]) -> None:
        """Files of the chats in the period that no exported message carries (report photos,
        files sent in a message outside the period are left out with that message)."""
        b = s.blobs
        where = [b.c.tenant_id == self.req.tenant_id, b.c.chat_id.in_(chat_ids)]
        if self.req.since is not None:
            where.append(b.c.created_at >= self.req.since)
        if self.req.until is not None:
            where.append(b.c.created_at < self.req.until)
        classes = _class_clause(self.req, b)
        if classes is not None:
            where.append(classes)
        unattached = (
            ~select(s.message_attachments.c.blob_id)
            .where(s.message_attachments.c.blob_id == b.c.id)
            .exists()
        )
        last = ""
        while True:
            rows = self.rx.conn.execute(
                select(b).where(*where, unattached, b.c.id > last).order_by(b.c.id).limit(PAGE)
            ).all()
            if not rows:
                return
            last = rows[-1].id
            for r in rows:
                self.write_file(r, None)

    def participants(self, chats: list[_Chat]) -> None:
        cm, u = s.chat_members, s.users
        out = self.csv(t.PARTICIPANTS)
        for chat in chats:
            for r in self.rx.conn.execute(
                select(cm.c.user_id, cm.c.joined_at, u.c.kind, u.c.role)
                .join(u, u.c.id == cm.c.user_id)
                .where(cm.c.chat_id == chat.id)
                .order_by(cm.c.joined_at, cm.c.user_id)
            ).all():
                out.add([chat.id, r.user_id, self.names(r.user_id), r.kind, r.role,
                         t.date_of(r.joined_at)])  # fmt: skip

    def reports(self, project_ids: list[str]) -> None:
        if self.req.classes is not None and REPORT_CLASS not in self.req.classes:
            return  # the table is described in index.xml, and empty
        rp = s.reports
        where = [rp.c.tenant_id == self.req.tenant_id, rp.c.project_id.in_(project_ids)]
        if self.req.since is not None:
            where.append(rp.c.created_at >= self.req.since)
        if self.req.until is not None:
            where.append(rp.c.created_at < self.req.until)
        out = self.csv(t.REPORTS)
        rows = self.rx.conn.execute(select(rp).where(*where).order_by(rp.c.number)).all()
        stored = stored_photo_ids(self.rx, self.req.tenant_id, rows)
        for r in rows:
            erased = r.erased_at is not None
            text = "" if erased else self.cipher.decrypt(f"reports.text/{r.id}", r.text_enc)
            photos = " ".join(i for i in json.loads(r.photo_ids) if i in stored)
            out.add(
                [
                    r.id, r.number, r.project_id, r.category, r.priority, text, r.status,
                    r.created_by, t.date_of(r.created_at), t.time_of(r.created_at),
                    r.assignee_id, photos, t.date_of(r.erased_at),
                ]
            )  # fmt: skip

    def consents(self, chat_ids: list[str]) -> None:
        if self.req.classes is not None:
            return  # only in a full export (ExportRequest.classes)
        j, p = s.journal, s.journal_payloads
        where = [
            j.c.tenant_id == self.req.tenant_id,
            j.c.kind.in_(["consent.given", "consent.withdrawn"]),
            j.c.chat_id.in_(chat_ids),
        ]
        if self.req.since is not None:
            where.append(j.c.ts >= self.req.since)
        if self.req.until is not None:
            where.append(j.c.ts < self.req.until)
        out = self.csv(t.CONSENTS)
        for r in self.rx.conn.execute(
            select(j.c.seq, j.c.kind, j.c.ts, j.c.chat_id, p.c.payload_enc)
            .join(p, (p.c.tenant_id == j.c.tenant_id) & (p.c.seq == j.c.seq))
            .where(*where)
            .order_by(j.c.seq)
        ).all():
            if r.payload_enc is None:
                continue  # erased: nothing left to show
            payload = json.loads(self.cipher.decrypt(f"journal/{r.seq}", r.payload_enc))
            given = r.kind == "consent.given"
            customer = payload.get("customer_id")
            out.add(
                [
                    r.seq, "erteilt" if given else "widerrufen", customer, self.names(customer),
                    r.chat_id, payload.get("version") if given else None,
                    payload.get("sha256") if given else None, t.date_of(r.ts), t.time_of(r.ts),
                    payload.get("device") if given else None,
                ]
            )  # fmt: skip


def _readme(business: str, req: ExportRequest, created: str, head: str, kid: str) -> bytes:
    scope = {
        "business": "der ganze Betrieb",
        "project": f"Auftrag {req.ref_id}",
        "chat": f"Unterhaltung {req.ref_id}",
        "customer": f"Kunde {req.ref_id}",
        "person": f"Person {req.ref_id}",
    }[req.scope]
    since = t.date_of(req.since) if req.since is not None else "Anfang"
    until = t.date_of(req.until - 1) if req.until is not None else "heute"
    classes = ", ".join(CLASS_NAMES[c] for c in sorted(req.classes)) if req.classes else "alle"
    text = f"""Archiv-Export aus zunft
=======================

Betrieb:        {business}
Umfang:         {scope}
Zeitraum:       {since} bis {until}
Dokumentklassen: {classes}
Erstellt:       {created}
Journal-Stand:  {head}
Schlüssel-ID:   {kid}

Inhalt
------
protokolle/     ein lesbares Gesprächsprotokoll (PDF) je Unterhaltung
tabellen/       die Daten als CSV-Tabellen (Semikolon, UTF-8), beschrieben in index.xml
                nach dem Beschreibungsstandard der GDPdU (für Prüfsoftware wie IDEA)
dateien/        die Originaldateien (Fotos, Dokumente), unverändert
pruefpunkt.json der signierte Stand des Journals, aus dem dieser Export stammt
manifest.json   Größe und SHA-256-Prüfsumme jeder Datei, mit Ed25519 signiert

Prüfen
------
zunft archive verify-export DIESE-DATEI.zip [--public-key SCHLÜSSEL]

prüft ohne Server und ohne Datenbank, dass keine Datei verändert, hinzugefügt,
entfernt oder umbenannt wurde und die Signatur stimmt. Den öffentlichen Schlüssel
der Installation zeigt "zunft archive public-key".
"""
    return text.encode("utf-8")


def _snapshot(ctx: AppContext) -> Any:
    conn = ctx.engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def count_export(rx: Rx, req: ExportRequest) -> int:
    """Messages and files the export will hold (for its progress)."""
    m = s.messages
    chats = select(s.chats.c.id).where(_scope_clause(req))
    messages = rx.conn.execute(
        select(func.count()).where(m.c.chat_id.in_(chats), *_message_clause(req))
    ).scalar_one()
    files = rx.conn.execute(select(func.count()).where(s.blobs.c.chat_id.in_(chats))).scalar_one()
    return int(messages) + int(files)


def write_export(
    rx: Rx,
    req: ExportRequest,
    out: IO[bytes],
    *,
    key: Ed25519PrivateKey,
    store: BlobStore | None,
    export_id: str,
    progress: Progress | None = None,
) -> tuple[ExportSummary, bytes]:
    """Write the export of `req` as seen by `rx` (one snapshot) to `out`; returns its summary
    and the checkpoint it includes."""
    tenant = rx.conn.execute(select(s.tenants).where(s.tenants.c.id == req.tenant_id)).one()
    checkpoint = make_checkpoint(rx, req.tenant_id, key)
    cp = json.loads(checkpoint)
    head = f"{cp['entries']} Einträge, letzter Prüfwert {cp['head']}"
    created = datetime.fromtimestamp(rx.now_ms / 1000, t.LOCAL).strftime("%d.%m.%Y, %H:%M Uhr")
    since = t.date_of(req.since) if req.since is not None else "Anfang"
    until = t.date_of(req.until - 1) if req.until is not None else created[:10]
    period = f"{since} bis {until}"
    public = public_bytes(key)
    kid = key_id(public)
    archive = _Zip(out)
    ex = _Exporter(rx, req, archive, store, progress)
    summary = ExportSummary(export_id, Path())
    try:
        archive.add("LIESMICH.txt", _readme(tenant.name, req, created, head, kid))
        chats = get_export_chats(rx, req, ex.names)
        ex.total = count_export(rx, req)
        for chat in chats:
            ex.chat(chat, business=tenant.name, period=period, created=created, head=head)
        chat_ids = [c.id for c in chats]
        for part in range(0, len(chat_ids), PAGE):
            ex.loose_files(chat_ids[part : part + PAGE])
        for chat in chats:
            ex.csv(t.CHATS).add([chat.id, chat.kind, chat.title, chat.project_id,
                                 t.date_of(chat.created_at), " ".join(chat.pdfs)])  # fmt: skip
        ex.participants(chats)
        project_ids = sorted({c.project_id for c in chats if c.project_id})
        for part in range(0, len(project_ids), PAGE):
            ex.reports(project_ids[part : part + PAGE])
        for part in range(0, len(chat_ids), PAGE):
            ex.consents(chat_ids[part : part + PAGE])
        if progress is not None:  # files of the period outside it may make done != total
            progress(max(ex.done, ex.total), max(ex.done, ex.total))
        for table in t.TABLES:
            csv_table, _ = ex.spool[table.file]
            archive.add_file(table.file, csv_table.detach())
        archive.add(
            "index.xml",
            t.index_xml(
                business=tenant.name,
                location=tenant.slug,
                comment=f"zunft-Export {export_id}, {head}",
                since=t.date_of(req.since) if req.since is not None else None,
                until=t.date_of(req.until - 1) if req.until is not None else None,
            ),
        )
        archive.add(t.DTD_NAME, t.DTD.encode("utf-8"))
        archive.add(CHECKPOINT, checkpoint)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "export_id": export_id,
            "created": rx.now_ms,
            "created_utc": datetime.fromtimestamp(rx.now_ms / 1000, UTC).isoformat(
                timespec="seconds"
            ),
            "business": {"id": tenant.id, "slug": tenant.slug, "name": tenant.name},
            "scope": req.scope_view(),
            "journal": {"entries": cp["entries"], "head": cp["head"]},
            "checkpoint": CHECKPOINT,
            "files": archive.entries,
            "key_id": kid,
            "public_key": base64.b64encode(public).decode("ascii"),
        }
        manifest["signature"] = base64.b64encode(sign(key, DOMAIN, canonical(manifest))).decode()
        data = (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
        summary.files = len(archive.entries)
        summary.bytes = archive.bytes
        archive.add(MANIFEST, data)
        archive.zf.close()
    except BaseException:
        # Close the ZIP while its file is still open (the caller deletes the part file);
        # left to the garbage collector it would write to a closed file.
        with suppress(Exception):
            archive.zf.close()
        raise
    finally:
        ex.close()
    summary.chats = len(chats)
    summary.messages = ex.messages
    summary.journal_count = cp["entries"]
    summary.journal_head = cp["head"]
    summary.manifest_sha256 = hashlib.sha256(data).hexdigest()
    return summary, checkpoint


def do_record_export(tx: Tx, req: ExportRequest, summary: ExportSummary) -> None:
    """Journal who exported what (an administrative action the audit log shows)."""
    tx.append(
        req.tenant_id,
        "archive.exported",
        {
            "export_id": summary.export_id,
            "scope": req.scope_view(),
            "chats": summary.chats,
            "messages": summary.messages,
            "files": summary.files,
            "journal_entries": summary.journal_count,
            "journal_head": summary.journal_head,
            "manifest_sha256": summary.manifest_sha256,
        },
        actor_id=req.actor_id,
    )


def run_export(
    ctx: AppContext,
    req: ExportRequest,
    path: Path,
    *,
    export_id: str | None = None,
    progress: Progress | None = None,
) -> ExportSummary:
    """Check the request, write the export to `path` (through `path`.part, so a half-written
    file never carries the final name), save its checkpoint and journal the export."""
    export_id = export_id or new_id()
    key = load_signing_key(ctx.settings)
    part = path.with_name(path.name + ".part")
    conn = _snapshot(ctx)
    try:
        with conn.begin():
            rx = Rx(conn, ctx.keys, ctx.now_ms())
            check_export_request(rx, req)
            # The ZIP holds decrypted data: readable by the server's user only.
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                summary, checkpoint = write_export(
                    rx, req, fh, key=key, store=ctx.blobs, export_id=export_id,
                    progress=progress,
                )  # fmt: skip
                fh.flush()
        slug = conn.execute(
            select(s.tenants.c.slug).where(s.tenants.c.id == req.tenant_id)
        ).scalar_one()
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    shutil.move(part, path)
    summary.path = path
    write_checkpoint_file(
        ctx.settings.checkpoint_path, slug, checkpoint, json.loads(checkpoint)["time"]
    )
    ctx.write(lambda tx: do_record_export(tx, req, summary))
    return summary


def do_record_download(tx: Tx, *, tenant_id: str, actor_id: str, export_id: str) -> None:
    """Journal that a finished export left the server (who fetched which export)."""
    tx.append(tenant_id, "archive.export_downloaded", {"export_id": export_id}, actor_id=actor_id)
