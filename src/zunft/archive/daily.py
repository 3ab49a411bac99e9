"""The daily checkpoint (docs/archive.md, "Checkpoints"): part of `zunft.due.run_due`.

For every business whose newest checkpoint file is a day old or more (or missing), write a
new one to the checkpoints directory and, when SMTP is configured, mail it to the business's
owners. The files are the state: running it twice at the same moment writes nothing the
second time. A mail that fails is logged; the file is written either way.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sqlalchemy import select

from zunft.archive.checkpoint import make_checkpoint, newest_checkpoint_file, write_checkpoint_file
from zunft.crypto.signing import load_signing_key
from zunft.db import schema as s
from zunft.db.tx import Rx

if TYPE_CHECKING:
    from zunft.context import AppContext

log = logging.getLogger(__name__)
DAY_MS = 24 * 3600 * 1000


def _owner_addresses(rx: Rx, tenant_id: str) -> list[str]:
    u = s.users
    rows = rx.conn.execute(
        select(u.c.id, u.c.email_enc).where(
            u.c.tenant_id == tenant_id,
            u.c.kind == "staff",
            u.c.role == "owner",
            u.c.disabled_at.is_(None),
            u.c.email_enc.is_not(None),
        )
    ).all()
    cipher = rx.cipher(tenant_id)
    return sorted(cipher.decrypt(f"users.email/{r.id}", r.email_enc) for r in rows)


def checkpoint_email(
    sender: str, to: list[str], business: str, data: bytes, name: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"{business}: Prüfpunkt des Archivs"
    msg.set_content(
        "Guten Tag,\n\n"
        "anbei der heutige Prüfpunkt (Checkpoint) des Nachrichtenarchivs Ihres Betriebs. Er hält "
        "fest, wie viele Einträge das Journal hat und welchen Prüfwert der letzte trägt, und ist "
        "mit dem Schlüssel Ihrer zunft-Installation signiert.\n\n"
        "Bitte bewahren Sie diese E-Mail auf (zum Beispiel in einem eigenen Ordner). Mit "
        "„zunft archive verify --checkpoint DATEI“ lässt sich später beweisen, dass im Archiv "
        "bis zu diesem Stand nichts verändert oder gelöscht wurde.\n\n"
        "Ihre zunft-Installation\n"
    )
    msg.add_attachment(data, maintype="application", subtype="json", filename=name)
    return msg


def write_due_checkpoints(ctx: AppContext) -> int:
    """Write (and mail) the checkpoints that are due; returns how many were written."""
    from zunft.customers.mail import send_email

    now = ctx.now_ms()
    directory = ctx.settings.checkpoint_path
    tenants = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.tenants.c.id, s.tenants.c.slug, s.tenants.c.name).order_by(s.tenants.c.slug)
        ).all()
    )
    due = []
    for t in tenants:
        newest = newest_checkpoint_file(directory, t.slug)
        if newest is None or now - newest[1] >= DAY_MS:
            due.append(t)
    if not due:
        return 0
    key = load_signing_key(ctx.settings)
    mail = bool(ctx.settings.smtp_host and ctx.settings.smtp_from)
    for t in due:

        def read(rx: Rx, tenant_id: str = t.id) -> tuple[bytes, list[str]]:
            addresses = _owner_addresses(rx, tenant_id) if mail else []
            return make_checkpoint(rx, tenant_id, key), addresses

        data, to = ctx.read(read)
        path = write_checkpoint_file(directory, t.slug, data, now)
        if to:
            stamp = datetime.fromtimestamp(now / 1000, UTC).strftime("%Y-%m-%d")
            msg = checkpoint_email(
                ctx.settings.smtp_from, to, t.name, data, f"pruefpunkt-{t.slug}-{stamp}.json"
            )
            try:
                send_email(ctx.settings, msg)
            except Exception:
                log.exception("mailing the checkpoint %s failed", path)
    return len(due)
