"""The audit log: the journal's administrative entries, shown to the owner
(docs/compliance.md, "Audit log").

It is a view of the journal, not a second log: every administrative action is already a
journal entry in the same transaction as the change, with the hash chain behind it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select

from zunft.accounts.actor import Actor
from zunft.crypto.envelope import DecryptionError
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.errors import Forbidden, Invalid

# Kinds (exact) and kind prefixes (ending in ".") that are administrative actions.
AUDIT_KINDS = frozenset(
    {
        "tenant.settings_changed",
        "kek.rotated",
        "user.created",
        "user.role_changed",
        "user.disabled",
        "user.enabled",
        "user.password_changed",
        "user.totp_enabled",
        "user.totp_disabled",
        "auth.account_locked",
        "invitation.created",
        "invitation.revoked",
        "customer_invitation.created",
        "customer_invitation.revoked",
        "consent_text.published",
        "consent.given",
        "consent.withdrawn",
        "rules.changed",
        "tenant.media_limits_set",
        "chat.member_added",
        "chat.member_removed",
        "routing_rule.added",
        "routing_rule.deleted",
        "report_category.created",
        "project.created",
        "project.updated",
        "message.reclassified",
        "file.reclassified",
        "chat.reclassified",
    }
)
AUDIT_PREFIXES = ("retention.", "legal_hold.", "gdpr.", "archive.", "key.", "admin.", "backup.")
PAGE_MAX = 200
SCAN_MAX = 5000  # entries read per request when filtering by person (then a cursor to go on)
# Payload fields that name the person an entry is about.
_PERSON_FIELDS = ("user_id", "customer_id", "target_id", "lead_id", "assignee_id")


def is_audit_kind(kind: str) -> bool:
    return kind in AUDIT_KINDS or kind.startswith(AUDIT_PREFIXES)


def _kind_clause() -> Any:
    j = s.journal
    return or_(j.c.kind.in_(sorted(AUDIT_KINDS)), *[j.c.kind.like(f"{p}%") for p in AUDIT_PREFIXES])


def get_audit_log(
    rx: Rx,
    actor: Actor,
    *,
    kind: str | None = None,
    person: str | None = None,
    since: int | None = None,
    until: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Newest first. `person` matches who acted or whom it is about; `before` is the cursor
    (`next_before` of the previous page). Erased payloads show as null."""
    if actor.kind != "staff" or actor.role != "owner":
        raise Forbidden("Only the owner sees the audit log.", code="owner_only")
    if not 1 <= limit <= PAGE_MAX:
        raise Invalid(f"limit is 1 to {PAGE_MAX}.", code="invalid_limit")
    if kind is not None and not is_audit_kind(kind):
        raise Invalid("Not an administrative kind of entry.", code="invalid_kind")
    j, p = s.journal, s.journal_payloads
    query = (
        select(j.c.seq, j.c.ts, j.c.kind, j.c.actor_id, j.c.chat_id, p.c.payload_enc)
        .outerjoin(p, (p.c.tenant_id == j.c.tenant_id) & (p.c.seq == j.c.seq))
        .where(j.c.tenant_id == actor.tenant_id)
        .order_by(j.c.seq.desc())
    )
    query = query.where(j.c.kind == kind) if kind is not None else query.where(_kind_clause())
    if since is not None:
        query = query.where(j.c.ts >= since)
    if until is not None:
        query = query.where(j.c.ts < until)
    if before is not None:
        query = query.where(j.c.seq < before)
    cipher = rx.cipher(actor.tenant_id)
    entries: list[dict[str, Any]] = []
    scanned = 0
    last_seq: int | None = None
    for r in rx.conn.execute(query.limit(SCAN_MAX if person else limit + 1)):
        scanned += 1
        last_seq = r.seq
        payload: Any = None
        if r.payload_enc is not None:
            try:
                payload = json.loads(cipher.decrypt_bytes(f"journal/{r.seq}", r.payload_enc))
            except DecryptionError:
                payload = None
        if person is not None and r.actor_id != person and not _about(payload, person):
            continue
        if len(entries) == limit:
            return {"entries": entries, "next_before": entries[-1]["seq"]}
        entries.append(
            {
                "seq": r.seq,
                "at": r.ts,
                "kind": r.kind,
                "actor_id": r.actor_id,
                "chat_id": r.chat_id,
                "payload": payload,
            }
        )
    more = person is not None and scanned == SCAN_MAX
    return {"entries": entries, "next_before": last_seq if more else None}


def _about(payload: Any, person: str) -> bool:
    return isinstance(payload, dict) and any(payload.get(f) == person for f in _PERSON_FIELDS)
