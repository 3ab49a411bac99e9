"""Device sessions: a cookie (web app, with a CSRF token) or a bearer token (other clients).
Only SHA-256 hashes of the secrets are stored; revoking a session ends it on its next request."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from zunft.accounts.actor import ADMIN_ROLES, Actor
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Invalid, NotFound, Unauthenticated
from zunft.ids import new_id, new_token

DAY_MS = 86_400_000
# last_seen is a convenience for the device list, not an audit record; writing it on every
# request would put a write on every read, so it is refreshed at most every 5 minutes.
TOUCH_INTERVAL_MS = 5 * 60_000


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


@dataclass(frozen=True)
class NewSession:
    id: str
    token: str
    csrf_token: str | None
    expires_at: int


def check_device_name(device_name: str) -> str:
    device_name = " ".join(device_name.split())[:100]
    if not device_name:
        raise Invalid("Please name the device.", code="invalid_device_name")
    return device_name


def do_create_session(
    tx: Tx, *, tenant_id: str, user_id: str, kind: str, device_name: str, days: int
) -> NewSession:
    if kind not in ("cookie", "bearer"):
        raise Invalid("Session kind is 'cookie' or 'bearer'.", code="invalid_session_kind")
    session_id = new_id()
    token = new_token()
    csrf = new_token() if kind == "cookie" else None
    expires = tx.now_ms + days * DAY_MS
    tx.conn.execute(
        insert(s.sessions),
        {
            "id": session_id,
            "tenant_id": tenant_id,
            "user_id": user_id,
            "token_hash": secret_hash(token),
            "csrf_hash": secret_hash(csrf) if csrf else None,
            "kind": kind,
            "device_name": check_device_name(device_name),
            "created_at": tx.now_ms,
            "last_seen_at": tx.now_ms,
            "expires_at": expires,
        },
    )
    tx.append(
        tenant_id,
        "session.created",
        {"session_id": session_id, "user_id": user_id, "kind": kind},
        actor_id=user_id,
    )
    return NewSession(session_id, token, csrf, expires)


@dataclass(frozen=True)
class Authenticated:
    actor: Actor
    csrf_hash: bytes | None
    last_seen_at: int


def get_session_actor(rx: Rx, token: str) -> Authenticated:
    """Resolve a session token; every way of failing reads the same to the client."""
    row = rx.conn.execute(
        select(
            s.sessions.c.id,
            s.sessions.c.tenant_id,
            s.sessions.c.user_id,
            s.sessions.c.csrf_hash,
            s.sessions.c.expires_at,
            s.sessions.c.revoked_at,
            s.sessions.c.last_seen_at,
            s.users.c.role,
            s.users.c.kind,
            s.users.c.disabled_at,
            s.users.c.totp_enabled,
            s.tenants.c.require_totp_admins,
        )
        .join(s.users, s.users.c.id == s.sessions.c.user_id)
        .join(s.tenants, s.tenants.c.id == s.sessions.c.tenant_id)
        .where(s.sessions.c.token_hash == secret_hash(token))
    ).first()
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        raise Unauthenticated(
            "Your session has ended; please log in again.", code="session_invalid"
        )
    if row.expires_at <= rx.now_ms:
        raise Unauthenticated(
            "Your session has expired; please log in again.", code="session_expired"
        )
    needs_setup = bool(row.require_totp_admins) and row.role in ADMIN_ROLES and not row.totp_enabled
    actor = Actor(row.tenant_id, row.user_id, row.role, row.id, row.kind, needs_setup)
    return Authenticated(actor, row.csrf_hash, row.last_seen_at)


def csrf_matches(expected_hash: bytes | None, presented: str | None) -> bool:
    if expected_hash is None or not presented:
        return False
    return hmac.compare_digest(expected_hash, secret_hash(presented))


def do_touch_session(tx: Tx, session_id: str, days: int) -> None:
    """Note that a device was seen; a device in use stays logged in (sliding expiry)."""
    tx.conn.execute(
        update(s.sessions)
        .where(
            s.sessions.c.id == session_id,
            s.sessions.c.revoked_at.is_(None),
            s.sessions.c.expires_at > tx.now_ms,
        )
        .values(last_seen_at=tx.now_ms, expires_at=tx.now_ms + days * DAY_MS)
    )


def get_sessions(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    rows = rx.conn.execute(
        select(s.sessions)
        .where(
            s.sessions.c.user_id == actor.user_id,
            s.sessions.c.revoked_at.is_(None),
            s.sessions.c.expires_at > rx.now_ms,
        )
        .order_by(s.sessions.c.last_seen_at.desc())
    ).all()
    return [
        {
            "id": r.id,
            "device_name": r.device_name,
            "kind": r.kind,
            "created_at": r.created_at,
            "last_seen_at": r.last_seen_at,
            "current": r.id == actor.session_id,
        }
        for r in rows
    ]


def do_revoke_session(tx: Tx, actor: Actor, session_id: str) -> None:
    """End one of the actor's own device sessions at once (logout is revoking the current one)."""
    row = tx.conn.execute(
        select(s.sessions.c.id, s.sessions.c.revoked_at).where(
            s.sessions.c.id == session_id,
            s.sessions.c.user_id == actor.user_id,
            s.sessions.c.tenant_id == actor.tenant_id,
        )
    ).first()
    if row is None or row.revoked_at is not None:
        raise NotFound("No such device session.")
    tx.conn.execute(
        update(s.sessions).where(s.sessions.c.id == session_id).values(revoked_at=tx.now_ms)
    )
    tx.append(
        actor.tenant_id,
        "session.revoked",
        {"session_id": session_id, "user_id": actor.user_id},
        actor_id=actor.user_id,
    )


def do_revoke_other_sessions(tx: Tx, actor: Actor) -> int:
    rows = tx.conn.execute(
        select(s.sessions.c.id).where(
            s.sessions.c.user_id == actor.user_id,
            s.sessions.c.revoked_at.is_(None),
            s.sessions.c.expires_at > tx.now_ms,  # an expired session has ended already
            s.sessions.c.id != actor.session_id,
        )
    ).all()
    for r in rows:
        do_revoke_session(tx, actor, r.id)
    return len(rows)
