"""The business's consent text (Einwilligung), versioned: each published text gets the next
version number and its SHA-256, so the evidence of a customer's consent names exactly the
text they read."""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

from sqlalchemy import func, insert, select

from zunft.accounts.actor import Actor
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Forbidden, Invalid

MIN_TEXT, MAX_TEXT = 100, 20_000

# What is processed, why, for how long, who sees it, how to withdraw (GDPR Art. 7 and 13).
# {business} is replaced by the business's name.
DEFAULT_TEXT = """Einwilligung in die Verarbeitung Ihrer Daten

{business} möchte mit Ihnen über Ihren Auftrag schreiben. Dafür nutzt der Betrieb zunft, einen \
Messenger auf seinem eigenen Server (oder dem seines IT-Dienstleisters) in der EU.

Was verarbeitet wird: Ihr Name, Ihre Nachrichten, Fotos und Dateien, die Sie oder der Betrieb \
in Ihrem Kunden-Chat teilen, sowie Zeitpunkt und Gerät Ihrer Anmeldung und dieser Einwilligung.

Wozu: allein zur Abstimmung und Dokumentation Ihres Auftrags (Fragen, Termine, Mängel, \
Fotos vom Baufortschritt).

Wer es sieht: nur die Mitarbeiterinnen und Mitarbeiter des Betriebs, die an Ihrem Auftrag \
arbeiten, sowie Inhaber und Büro. Andere Kunden sehen nichts davon. Der Betrieb gibt Ihre \
Daten an niemanden weiter, es sei denn, ein Gesetz verlangt es.

Wie lange: solange Ihr Auftrag läuft. Danach bewahrt der Betrieb die Unterhaltung nur so \
lange auf, wie es gesetzlich vorgeschrieben ist (zum Beispiel Handels- und Geschäftsbriefe \
sechs Jahre, Buchungsbelege zehn Jahre, § 257 HGB, § 147 AO), und löscht sie dann.

Widerruf: Sie können diese Einwilligung jederzeit im Menü („Einwilligung widerrufen“) \
widerrufen. Ihr Zugang endet dann sofort. Was bis dahin geschrieben wurde, bleibt nur im \
Rahmen der gesetzlichen Aufbewahrung erhalten. Der Widerruf gilt für die Zukunft; die \
Verarbeitung bis dahin bleibt rechtmäßig.

Sie haben das Recht auf Auskunft, Berichtigung, Löschung und Einschränkung der Verarbeitung \
sowie auf Beschwerde bei einer Datenschutz-Aufsichtsbehörde. Ansprechpartner ist {business}."""


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _view(version: int, text: str, sha: bytes) -> dict[str, Any]:
    return {"version": version, "text": text, "sha256": sha.hex()}


def _default(rx: Rx, tenant_id: str) -> str:
    name = rx.conn.execute(select(s.tenants.c.name).where(s.tenants.c.id == tenant_id)).scalar()
    return DEFAULT_TEXT.replace("{business}", str(name))


def get_current_consent(rx: Rx, tenant_id: str) -> dict[str, Any]:
    """The text in force: the newest published version, or version 1, the default text."""
    ct = s.consent_texts
    row = rx.conn.execute(
        select(ct).where(ct.c.tenant_id == tenant_id).order_by(ct.c.version.desc()).limit(1)
    ).first()
    if row is None:
        text = _default(rx, tenant_id)
        return _view(1, text, text_hash(text))
    return _view(row.version, row.text, row.sha256)


def do_ensure_consent_text(tx: Tx, tenant_id: str) -> dict[str, Any]:
    """Store version 1 (the default text) the first time it is needed, so that every version a
    customer accepted stays readable even when the code's default changes."""
    current = get_current_consent(tx, tenant_id)
    exists = tx.conn.execute(
        select(s.consent_texts.c.version).where(s.consent_texts.c.tenant_id == tenant_id).limit(1)
    ).first()
    if exists is None:
        _insert(tx, tenant_id, current["version"], current["text"], None)
    return current


def _insert(tx: Tx, tenant_id: str, version: int, text: str, actor_id: str | None) -> bytes:
    sha = text_hash(text)
    tx.conn.execute(
        insert(s.consent_texts),
        {
            "tenant_id": tenant_id,
            "version": version,
            "text": text,
            "sha256": sha,
            "created_by": actor_id,
            "created_at": tx.now_ms,
        },
    )
    tx.append(
        tenant_id,
        "consent_text.published",
        {"version": version, "sha256": sha.hex(), "text": text},
        actor_id=actor_id,
    )
    return sha


def check_consent_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").strip()
    if not MIN_TEXT <= len(text) <= MAX_TEXT:
        raise Invalid(
            f"A consent text has {MIN_TEXT} to {MAX_TEXT} characters: what is processed, why, "
            "for how long, who sees it and how to withdraw.",
            code="invalid_consent_text",
        )
    return text


def do_publish_consent_text(tx: Tx, actor: Actor, text: str) -> dict[str, Any]:
    """A new version; every customer must accept it before they see anything more."""
    if not actor.is_admin:
        raise Forbidden("Only owner and office change the consent text.")
    text = check_consent_text(text)
    do_ensure_consent_text(tx, actor.tenant_id)
    current = get_current_consent(tx, actor.tenant_id)
    if current["text"] == text:
        return current
    version = int(
        tx.conn.execute(
            select(func.max(s.consent_texts.c.version)).where(
                s.consent_texts.c.tenant_id == actor.tenant_id
            )
        ).scalar_one()
    )
    sha = _insert(tx, actor.tenant_id, version + 1, text, actor.user_id)
    return _view(version + 1, text, sha)


def get_consent_versions(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    if not actor.is_admin:
        raise Forbidden("Only owner and office manage the consent text.")
    ct = s.consent_texts
    rows = rx.conn.execute(
        select(ct).where(ct.c.tenant_id == actor.tenant_id).order_by(ct.c.version)
    ).all()
    if not rows:
        return [get_current_consent(rx, actor.tenant_id)]
    return [{**_view(r.version, r.text, r.sha256), "created_at": r.created_at} for r in rows]
