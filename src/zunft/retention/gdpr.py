"""GDPR requests of a person, customer or staff (docs/compliance.md, "Answering a
GDPR request"): the access export (Art. 15, 20) and the erasure request (Art. 17).

Owner and office handle requests (they answer the business's post); the data subject is any
person of the business. Both are journaled (`gdpr.access_exported`, `gdpr.erasure_requested`,
`gdpr.erasure_completed`) and kept in `gdpr_requests` with the written answer.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import IO, Any

from fpdf import FPDF
from sqlalchemy import delete, insert, select, update

from zunft.accounts.actor import Actor
from zunft.blobs.segments import BlobReader
from zunft.context import AppContext
from zunft.crypto.envelope import DecryptionError
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, NotFound
from zunft.ids import new_id
from zunft.retention.erasure import (
    Erased,
    delete_erased_files,
    destroy_keys,
    do_migrate_legacy,
    do_migrate_legacy_reports,
    erase_files,
    get_legacy_files_of,
)
from zunft.retention.holds import get_held_chat_ids, is_person_held
from zunft.retention.rules import (
    CLASSES,
    INTERN,
    LEGAL_TZ,
    erase_from_ms,
    get_retention_years,
)

ERASED_NAME = "Gelöschte Person"
EXPORT_FORMAT = "zunft-gdpr-access-v1"
CLASS_NAMES = {
    "geschaeftsbrief": "Geschäftsbriefe (6 Jahre, § 257 HGB, § 147 AO)",
    "buchungsbeleg": "Buchungsbelege (8 Jahre, § 147 AO)",
    "intern": "interne Nachrichten",
}


def cli_actor(tenant_id: str) -> Actor:
    """Who acts for `zunft gdpr …`: the command line, an owner without an account (journaled
    with no actor, like every command-line action)."""
    return Actor(tenant_id, "", "owner")


def _check_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("Only owner and office answer GDPR requests.", code="admin_only")


def _subject(rx: Rx, tenant_id: str, user_id: str) -> Any:
    row = rx.conn.execute(
        select(s.users).where(s.users.c.id == user_id, s.users.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        raise NotFound("No such person.")
    return row


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(LEGAL_TZ).strftime("%d.%m.%Y")


def _dec(rx: Rx, tenant_id: str, purpose: str, blob: bytes | None) -> str | None:
    if not blob:
        return None
    try:
        return rx.cipher(tenant_id).decrypt(purpose, blob)
    except DecryptionError:
        return None  # erased


def get_people(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    """Staff and customers of the business, with names: whom a request can be about."""
    _check_admin(actor)
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "role": r.role,
            "name": _dec(rx, actor.tenant_id, f"users.name/{r.id}", r.name_enc),
            "disabled": r.disabled_at is not None,
            "held": is_person_held(rx, actor.tenant_id, r.id),
        }
        for r in rx.conn.execute(
            select(
                s.users.c.id,
                s.users.c.kind,
                s.users.c.role,
                s.users.c.name_enc,
                s.users.c.disabled_at,
            )
            .where(s.users.c.tenant_id == actor.tenant_id)
            .order_by(s.users.c.kind.desc(), s.users.c.created_at)
        )
    ]


# --- access export ---------------------------------------------------------------------------


def get_access_data(rx: Rx, actor: Actor, user_id: str) -> dict[str, Any]:
    """Everything stored about a person, machine-readable (the JSON of the export)."""
    _check_admin(actor)
    tid = actor.tenant_id
    u = _subject(rx, tid, user_id)
    person = {
        "id": u.id,
        "kind": u.kind,
        "role": u.role,
        "name": _dec(rx, tid, f"users.name/{u.id}", u.name_enc),
        "email": _dec(rx, tid, f"users.email/{u.id}", u.email_enc),
        "phone": _dec(rx, tid, f"users.phone/{u.id}", u.phone_enc),
        "second_factor": bool(u.totp_enabled),
        "created_at": u.created_at,
        "disabled_at": u.disabled_at,
    }
    m = s.messages
    messages = [
        {
            "id": r.id,
            "chat_id": r.chat_id,
            "created_at": r.created_at,
            "edited_at": r.edited_at,
            "deleted": r.deleted_at is not None,
            "erased": r.erased_at is not None,
            "text": None
            if r.erased_at is not None
            else _dec(rx, tid, f"messages.body/{r.id}", r.body_enc),
            "reply_to_id": r.reply_to_id,
        }
        for r in rx.conn.execute(
            select(m).where(m.c.tenant_id == tid, m.c.sender_id == user_id).order_by(m.c.seq)
        )
    ]
    mentioned = [
        r.id
        for r in rx.conn.execute(
            select(m.c.id, m.c.mentions).where(m.c.tenant_id == tid, m.c.mentions.contains(user_id))
        )
        if user_id in json.loads(r.mentions)
    ]
    rp = s.reports
    reports = [
        {
            "id": r.id,
            "number": r.number,
            "project_id": r.project_id,
            "category": r.category,
            "priority": r.priority,
            "status": r.status,
            "created_at": r.created_at,
            "erased": r.erased_at is not None,
            "text": None
            if r.erased_at is not None
            else _dec(rx, tid, f"reports.text/{r.id}", r.text_enc),
            "position": None
            if r.erased_at is not None
            else _json_or_none(_dec(rx, tid, f"reports.position/{r.id}", r.position_enc)),
        }
        for r in rx.conn.execute(
            select(rp)
            .where(rp.c.tenant_id == tid, rp.c.created_by == user_id)
            .order_by(rp.c.number)
        )
    ]
    b = s.blobs
    files = [
        {
            "id": r.id,
            "chat_id": r.chat_id,
            "kind": r.kind,
            "content_type": r.content_type,
            "size": r.size,
            "name": _dec(rx, tid, f"blobs.name/{r.id}", r.name_enc),
            "caption": _dec(rx, tid, f"blobs.caption/{r.id}", r.caption_enc),
            "created_at": r.created_at,
            "path": f"dateien/{r.id}",
        }
        for r in rx.conn.execute(
            select(b)
            .where(b.c.tenant_id == tid, b.c.uploader_id == user_id)
            .order_by(b.c.created_at)
        )
    ]
    chats = [
        {"chat_id": r.chat_id, "kind": r.kind, "title": r.title, "joined_at": r.joined_at}
        for r in rx.conn.execute(
            select(
                s.chat_members.c.chat_id,
                s.chat_members.c.joined_at,
                s.chats.c.kind,
                s.chats.c.title,
            )
            .join(s.chats, s.chats.c.id == s.chat_members.c.chat_id)
            .where(s.chat_members.c.user_id == user_id)
        )
    ]
    sessions = [
        {
            "device": r.device_name,
            "created_at": r.created_at,
            "last_seen_at": r.last_seen_at,
            "ended_at": r.revoked_at,
        }
        for r in rx.conn.execute(select(s.sessions).where(s.sessions.c.user_id == user_id))
    ]
    consents = _consents(rx, tid, user_id)
    j = s.journal
    activity = [
        {"seq": r.seq, "at": r.ts, "kind": r.kind, "chat_id": r.chat_id}
        for r in rx.conn.execute(
            select(j.c.seq, j.c.ts, j.c.kind, j.c.chat_id)
            .where(j.c.tenant_id == tid, j.c.actor_id == user_id)
            .order_by(j.c.seq)
        )
    ]
    requests = [
        {"id": r.id, "kind": r.kind, "created_at": r.created_at, "done_at": r.done_at}
        for r in rx.conn.execute(
            select(s.gdpr_requests).where(
                s.gdpr_requests.c.tenant_id == tid, s.gdpr_requests.c.user_id == user_id
            )
        )
    ]
    return {
        "format": EXPORT_FORMAT,
        "created_at": rx.now_ms,
        "person": person,
        "consents": consents,
        "chats": chats,
        "messages": messages,
        "mentioned_in": mentioned,
        "reports": reports,
        "files": files,
        "sessions": sessions,
        "activity": activity,
        "gdpr_requests": requests,
    }


def _consents(rx: Rx, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    """The consent evidence: the customer's record and every consent journal entry."""
    out: list[dict[str, Any]] = []
    row = rx.conn.execute(select(s.customers).where(s.customers.c.user_id == user_id)).first()
    if row is None:
        return out
    texts = {
        r.version: r.text
        for r in rx.conn.execute(
            select(s.consent_texts.c.version, s.consent_texts.c.text).where(
                s.consent_texts.c.tenant_id == tenant_id
            )
        )
    }
    j, p = s.journal, s.journal_payloads
    cipher = rx.cipher(tenant_id)
    for r in rx.conn.execute(
        select(j.c.seq, j.c.ts, j.c.kind, p.c.payload_enc)
        .join(p, (p.c.tenant_id == j.c.tenant_id) & (p.c.seq == j.c.seq))
        .where(j.c.tenant_id == tenant_id, j.c.kind.in_(["consent.given", "consent.withdrawn"]))
        .order_by(j.c.seq)
    ):
        if r.payload_enc is None:
            continue
        payload = json.loads(cipher.decrypt_bytes(f"journal/{r.seq}", r.payload_enc))
        if payload.get("customer_id") != user_id:
            continue
        entry = {"kind": r.kind, "at": r.ts, "journal_seq": r.seq, **payload}
        if r.kind == "consent.given":
            entry["text"] = texts.get(payload.get("version"))
        out.append(entry)
    return out


def _pdf(title: str, lines: list[str]) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 8, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "", 10)
    for line in lines:
        if line.startswith("# "):
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", 11)
            pdf.multi_cell(0, 6, _latin1(line[2:]), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 10)
        else:
            pdf.multi_cell(0, 5, _latin1(line) or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    """The built-in PDF fonts know Latin-1 (every German letter); the rest is replaced."""
    swaps = {"–": "-", "—": "-", "„": '"', "“": '"', "”": '"', "’": "'", "…": "...", "€": "EUR"}
    text = "".join(swaps.get(c, c) for c in text)
    return text.encode("latin-1", "replace").decode("latin-1")


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def access_summary_lines(data: dict[str, Any], business: str) -> list[str]:
    p = data["person"]
    lines = [
        f"Betrieb: {business}",
        f"Erstellt am {_day(data['created_at'])} nach Art. 15 DSGVO.",
        "Die vollständigen Daten stehen maschinenlesbar in daten.json (Art. 20 DSGVO),",
        "Ihre Dateien im Ordner dateien/.",
        "# Ihre Angaben",
        f"Name: {p['name'] or '(gelöscht)'}",
        f"E-Mail: {p['email'] or '-'}",
        f"Telefon: {p['phone'] or '-'}",
        f"Art des Kontos: {'Kunde' if p['kind'] == 'customer' else 'Mitarbeiter'} ({p['role']})",
        f"Konto angelegt am {_day(p['created_at'])}",
        "# Was gespeichert ist",
        f"Nachrichten von Ihnen: {len(data['messages'])}",
        f"Nachrichten, in denen Sie erwähnt werden: {len(data['mentioned_in'])}",
        f"Meldungen von Ihnen: {len(data['reports'])}",
        f"Dateien von Ihnen: {len(data['files'])}",
        f"Unterhaltungen: {len(data['chats'])}",
        f"Angemeldete Geräte: {len(data['sessions'])}",
        f"Protokolleinträge Ihrer Handlungen: {len(data['activity'])}",
    ]
    if data["consents"]:
        lines.append("# Einwilligungen")
        for c in data["consents"]:
            what = "erteilt" if c["kind"] == "consent.given" else "widerrufen"
            version = f" (Fassung {c['version']})" if "version" in c else ""
            lines.append(f"{_day(c['at'])}: Einwilligung {what}{version}")
    lines += [
        "# Zwecke und Speicherdauer",
        "Die Nachrichten dienen der Abwicklung Ihres Auftrags bzw. Ihres Arbeitsverhältnisses.",
        "Geschäftsbriefe werden 6 Jahre, Buchungsbelege 8 Jahre nach Ende des Kalenderjahres",
        "aufbewahrt (§ 257 HGB, § 147 AO), interne Nachrichten kürzer; danach werden sie",
        "gelöscht. Die Daten liegen auf dem Server des Betriebs und werden nicht an Dritte",
        "weitergegeben. Sie haben das Recht auf Berichtigung, Löschung, Einschränkung,",
        "Widerspruch und Beschwerde bei einer Datenschutz-Aufsichtsbehörde.",
    ]
    return lines


def write_access_export(
    ctx: AppContext, actor: Actor, user_id: str, out: IO[bytes]
) -> dict[str, int]:
    """Write the access export ZIP (daten.json, zusammenfassung.pdf, dateien/…) to `out`,
    then journal it. Returns what it contains."""
    data = ctx.read(lambda rx: get_access_data(rx, actor, user_id))
    business = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.tenants.c.name).where(s.tenants.c.id == actor.tenant_id)
        ).scalar_one()
    )
    file_rows = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.blobs.c.id, s.blobs.c.size).where(
                s.blobs.c.tenant_id == actor.tenant_id, s.blobs.c.uploader_id == user_id
            )
        ).all()
    )
    cipher = ctx.keys.cipher(actor.tenant_id)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("daten.json", json.dumps(data, ensure_ascii=False, indent=2))
        zf.writestr(
            "zusammenfassung.pdf",
            _pdf("Auskunft über Ihre gespeicherten Daten", access_summary_lines(data, business)),
        )
        if ctx.blobs is not None:
            for r in file_rows:
                reader = BlobReader(ctx.blobs, cipher, r.id, size=r.size)
                with zf.open(f"dateien/{r.id}", "w", force_zip64=True) as dest:
                    for chunk in reader.iter_range(0, r.size - 1) if r.size else []:
                        dest.write(chunk)
    counts = {"messages": len(data["messages"]), "files": len(file_rows)}
    ctx.write(lambda tx: do_record_access(tx, actor, user_id, counts))
    return counts


def do_record_access(tx: Tx, actor: Actor, user_id: str, counts: dict[str, int]) -> str:
    _check_admin(actor)
    _subject(tx, actor.tenant_id, user_id)
    request_id = new_id()
    tx.conn.execute(
        insert(s.gdpr_requests),
        {
            "id": request_id,
            "tenant_id": actor.tenant_id,
            "user_id": user_id,
            "kind": "access",
            "requested_by": actor.user_id or None,
            "created_at": tx.now_ms,
            "erase_rest_at": None,
            "done_at": tx.now_ms,
            "answer_enc": None,
        },
    )
    tx.append(
        actor.tenant_id,
        "gdpr.access_exported",
        {"request_id": request_id, "user_id": user_id, **counts},
        actor_id=actor.user_id or None,
    )
    return request_id


# --- erasure request -------------------------------------------------------------------------


def do_request_erasure(tx: Tx, actor: Actor, user_id: str) -> dict[str, Any]:
    """Erase at once what no retention duty keeps, schedule the rest, write the answer.
    Refused for a person under legal hold (nothing is changed then)."""
    _check_admin(actor)
    tid = actor.tenant_id
    u = _subject(tx, tid, user_id)
    if is_person_held(tx, tid, user_id):
        raise Conflict(
            "This person is under a legal hold; nothing of theirs may be erased until the hold"
            " is lifted.",
            code="person_under_legal_hold",
        )
    if u.kind == "staff" and u.role == "owner":
        raise Conflict(
            "An owner cannot be erased; hand the business over first.", code="owner_not_erasable"
        )
    k = s.content_keys
    held = get_held_chat_ids(tx, tid)
    years = get_retention_years(tx, tid)
    # Their messages from before content keys get keys first, so they count like the rest.
    do_migrate_legacy(tx, None, tenant_id=tid, sender_id=user_id)
    do_migrate_legacy_reports(tx, None, tenant_id=tid, author_id=user_id)
    keys = tx.conn.execute(
        select(k.c.id, k.c.chat_id, k.c.doc_class, k.c.year).where(
            k.c.tenant_id == tid,
            k.c.author_id == user_id,
            k.c.destroyed_at.is_(None),
            k.c.doc_class.in_(CLASSES),  # not a project's key: its name is not theirs
        )
    ).all()
    # Internal small talk has no legal retention duty: the business's own period yields to
    # the request (Art. 17 (1) (a)). Business letters and vouchers stay (Art. 17 (3) (b)).
    now_keys = [bytes(r.id) for r in keys if r.doc_class == INTERN and r.chat_id not in held]
    kept = [r for r in keys if r.doc_class != INTERN and r.chat_id not in held]
    kept_held = [r for r in keys if r.chat_id in held]
    erased = Erased()
    destroy_keys(tx, tid, now_keys, erased)
    legacy_files = get_legacy_files_of(tx, tid, user_id, INTERN)
    erase_files(tx, tid, [f for f in legacy_files if _file_chat(tx, f) not in held], erased)
    kept_until: dict[str, int] = {}
    for r in kept:
        until = erase_from_ms(r.year, years[r.doc_class])
        kept_until[r.doc_class] = max(kept_until.get(r.doc_class, 0), until)
    rest_at = max(kept_until.values(), default=None)
    if kept_held:
        rest_at = None  # a hold keeps it open; the daily job finishes once all is gone
    # The account ends now: contact data, second factor, devices. The name stays with what
    # is kept (a business letter names its correspondent) and goes with it.
    cipher = tx.cipher(tid)
    values: dict[str, Any] = {
        "email_enc": None,
        "email_idx": None,
        "phone_enc": None,
        "totp_secret_enc": None,
        "totp_enabled": False,
        "password_hash": None,
        "disabled_at": u.disabled_at or tx.now_ms,
    }
    name_erased = not kept and not kept_held
    if name_erased:
        values["name_enc"] = cipher.encrypt(f"users.name/{user_id}", ERASED_NAME)
    tx.conn.execute(update(s.users).where(s.users.c.id == user_id).values(**values))
    tx.conn.execute(
        update(s.sessions)
        .where(s.sessions.c.user_id == user_id, s.sessions.c.revoked_at.is_(None))
        .values(revoked_at=tx.now_ms)
    )
    # Their stored answers of idempotent writes (message text under the data key): no retry
    # can come from an account that has ended.
    tx.conn.execute(
        delete(s.client_writes).where(
            s.client_writes.c.tenant_id == tid, s.client_writes.c.user_id == user_id
        )
    )
    if u.kind == "customer":
        tx.conn.execute(
            update(s.customers)
            .where(s.customers.c.user_id == user_id, s.customers.c.withdrawn_at.is_(None))
            .values(withdrawn_at=tx.now_ms)
        )
    name = _dec(tx, tid, f"users.name/{user_id}", u.name_enc) or ERASED_NAME
    business = tx.conn.execute(select(s.tenants.c.name).where(s.tenants.c.id == tid)).scalar_one()
    answer = erasure_answer(
        business=business,
        name=name,
        today=tx.now_ms,
        erased_messages=erased.messages,
        erased_files=len(erased.files),
        kept_until=kept_until,
        held=bool(kept_held),
    )
    request_id = new_id()
    tx.conn.execute(
        insert(s.gdpr_requests),
        {
            "id": request_id,
            "tenant_id": tid,
            "user_id": user_id,
            "kind": "erasure",
            "requested_by": actor.user_id or None,
            "created_at": tx.now_ms,
            "erase_rest_at": rest_at,
            "done_at": tx.now_ms if name_erased else None,
            "answer_enc": cipher.encrypt(f"gdpr_requests.answer/{request_id}", answer),
        },
    )
    tx.append(
        tid,
        "gdpr.erasure_requested",
        {
            "request_id": request_id,
            "user_id": user_id,
            "erased_messages": erased.messages,
            "erased_files": len(erased.files),
            "kept_until": {c: kept_until[c] for c in CLASSES if c in kept_until},
            "held": bool(kept_held),
        },
        actor_id=actor.user_id or None,
    )
    return {
        "request_id": request_id,
        "user_id": user_id,
        "erased_messages": erased.messages,
        "erased_files": len(erased.files),
        "kept_until": kept_until,
        "erase_rest_at": rest_at,
        "held": bool(kept_held),
        "answer": answer,
        "files_to_delete": erased.files,
    }


def _file_chat(rx: Rx, file_id: str) -> str:
    return str(
        rx.conn.execute(select(s.blobs.c.chat_id).where(s.blobs.c.id == file_id)).scalar_one()
    )


def erasure_answer(
    *,
    business: str,
    name: str,
    today: int,
    erased_messages: int,
    erased_files: int,
    kept_until: dict[str, int],
    held: bool,
) -> str:
    """The written answer to the requester, in German."""
    lines = [
        f"{business}",
        f"Datum: {_day(today)}",
        "",
        f"Ihr Antrag auf Löschung Ihrer Daten (Art. 17 DSGVO) – {name}",
        "",
        "Guten Tag,",
        "",
        "wir haben Ihren Antrag auf Löschung erhalten und wie folgt bearbeitet:",
        "",
        "Sofort gelöscht:",
        "- Ihre E-Mail-Adresse, Telefonnummer und Zugangsdaten; Ihr Zugang ist beendet.",
        f"- {erased_messages} interne Nachrichten und {erased_files} Dateien, für die keine"
        " Aufbewahrungspflicht besteht.",
    ]
    if kept_until:
        lines += [
            "",
            "Noch aufbewahrt, weil das Gesetz es verlangt (Art. 17 Abs. 3 lit. b DSGVO):",
        ]
        for c in CLASSES:
            if c in kept_until:
                lines.append(f"- {CLASS_NAMES[c]}: bis {_day(kept_until[c])}, dann gelöscht.")
        lines += [
            "Bis dahin sind diese Daten gesperrt: sie werden nur noch für die Aufbewahrung und",
            "für eine Prüfung durch das Finanzamt verwendet. Ihr Name bleibt bis dahin bei",
            "diesen Unterlagen gespeichert.",
        ]
    if held:
        lines += [
            "",
            "Ein Teil Ihrer Daten gehört zu einem Vorgang, für den ein rechtliches",
            "Aufbewahrungserfordernis besteht (Art. 17 Abs. 3 lit. e DSGVO). Er wird gelöscht,",
            "sobald dieses entfällt und keine gesetzliche Aufbewahrungsfrist mehr läuft.",
        ]
    if not kept_until and not held:
        lines += ["", "Es werden keine weiteren Daten über Sie aufbewahrt."]
    lines += [
        "",
        "Sie haben das Recht, sich bei einer Datenschutz-Aufsichtsbehörde zu beschweren.",
        "",
        "Mit freundlichen Grüßen",
        business,
    ]
    return "\n".join(lines)


def erasure_answer_pdf(answer: str) -> bytes:
    lines = answer.split("\n")
    return _pdf(lines[0], lines[1:])


def request_erasure(ctx: AppContext, actor: Actor, user_id: str) -> dict[str, Any]:
    """The erasure request as a whole: the write, then the erased files' contents."""
    result = ctx.write(lambda tx: do_request_erasure(tx, actor, user_id))
    delete_erased_files(ctx, result.pop("files_to_delete"))
    return result


def get_requests(rx: Rx, actor: Actor, user_id: str | None = None) -> list[dict[str, Any]]:
    _check_admin(actor)
    g = s.gdpr_requests
    query = select(g).where(g.c.tenant_id == actor.tenant_id).order_by(g.c.created_at.desc())
    if user_id is not None:
        query = query.where(g.c.user_id == user_id)
    return [
        {
            "id": r.id,
            "user_id": r.user_id,
            "kind": r.kind,
            "requested_by": r.requested_by,
            "created_at": r.created_at,
            "erase_rest_at": r.erase_rest_at,
            "done_at": r.done_at,
            "answer": _dec(rx, actor.tenant_id, f"gdpr_requests.answer/{r.id}", r.answer_enc),
        }
        for r in rx.conn.execute(query.limit(200))
    ]


def get_answer(rx: Rx, actor: Actor, request_id: str) -> str:
    for r in get_requests(rx, actor):
        if r["id"] == request_id and r["answer"]:
            return str(r["answer"])
    raise NotFound("No such erasure request.")


def do_finish_erasures(tx: Tx) -> int:
    """Daily: erasure requests whose kept part is gone (its keys destroyed by the retention
    job) lose the name too. If a rule was lengthened meanwhile, the date moves on."""
    g, k = s.gdpr_requests, s.content_keys
    done = 0
    open_rows = tx.conn.execute(
        select(g).where(
            g.c.kind == "erasure",
            g.c.done_at.is_(None),
            (g.c.erase_rest_at.is_(None)) | (g.c.erase_rest_at <= tx.now_ms),
        )
    ).all()
    for r in open_rows:
        left = tx.conn.execute(
            select(k.c.id).where(
                k.c.tenant_id == r.tenant_id,
                k.c.author_id == r.user_id,
                k.c.destroyed_at.is_(None),
                k.c.doc_class.in_(CLASSES),
            )
        ).first()
        if left is not None:
            continue
        cipher = tx.cipher(r.tenant_id)
        tx.conn.execute(
            update(s.users)
            .where(s.users.c.id == r.user_id)
            .values(name_enc=cipher.encrypt(f"users.name/{r.user_id}", ERASED_NAME))
        )
        tx.conn.execute(update(g).where(g.c.id == r.id).values(done_at=tx.now_ms))
        tx.append(r.tenant_id, "gdpr.erasure_completed", {"request_id": r.id, "user_id": r.user_id})
        done += 1
    return done


def access_zip_bytes(ctx: AppContext, actor: Actor, user_id: str) -> bytes:
    buf = io.BytesIO()
    write_access_export(ctx, actor, user_id, buf)
    return buf.getvalue()
