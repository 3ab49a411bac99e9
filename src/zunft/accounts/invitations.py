"""Single-use, expiring invitation links for staff. Only a hash of the token is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from zunft.accounts.actor import Actor
from zunft.accounts.sessions import DAY_MS, NewSession, do_create_session, secret_hash
from zunft.accounts.users import check_role, do_create_user
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Forbidden, Invalid, NotFound
from zunft.ids import new_id, new_token


def do_create_invitation(
    tx: Tx, actor: Actor, *, role: str, note: str | None, days: int
) -> dict[str, Any]:
    if not actor.is_admin:
        raise Forbidden("Only owner and office invite staff.")
    check_role(role)
    if role == "owner" and actor.role != "owner":
        raise Forbidden("Only an owner can invite another owner.")
    if note is not None and len(note) > 200:
        raise Invalid("The note may have at most 200 characters.", code="invalid_note")
    if not 1 <= days <= 30:
        raise Invalid("An invitation is valid for 1 to 30 days.", code="invalid_days")
    invitation_id = new_id()
    token = new_token()
    expires = tx.now_ms + days * DAY_MS
    tx.conn.execute(
        insert(s.invitations),
        {
            "id": invitation_id,
            "tenant_id": actor.tenant_id,
            "token_hash": secret_hash(token),
            "role": role,
            "note_enc": tx.cipher(actor.tenant_id).encrypt_opt(
                f"invitations.note/{invitation_id}", note
            ),
            "created_by": actor.user_id,
            "created_at": tx.now_ms,
            "expires_at": expires,
        },
    )
    tx.append(
        actor.tenant_id,
        "invitation.created",
        {"invitation_id": invitation_id, "role": role, "expires_at": expires},
        actor_id=actor.user_id,
    )
    return {"id": invitation_id, "token": token, "role": role, "expires_at": expires}


def _open_invitation(rx: Rx, token: str) -> Any:
    row = rx.conn.execute(
        select(s.invitations, s.tenants.c.name.label("tenant_name"), s.tenants.c.slug)
        .join(s.tenants, s.tenants.c.id == s.invitations.c.tenant_id)
        .where(s.invitations.c.token_hash == secret_hash(token))
    ).first()
    if (
        row is None
        or row.used_at is not None
        or row.revoked_at is not None
        or row.expires_at <= rx.now_ms
    ):
        # Used, revoked, expired and unknown all read the same: nothing to learn from probing.
        raise NotFound("This invitation link is not valid (any more).", code="invitation_invalid")
    return row


def get_invitation_info(rx: Rx, token: str) -> dict[str, Any]:
    row = _open_invitation(rx, token)
    return {
        "tenant": row.slug,
        "tenant_name": row.tenant_name,
        "role": row.role,
        "expires_at": row.expires_at,
    }


def do_accept_invitation(
    tx: Tx,
    *,
    token: str,
    name: str,
    email: str,
    password_hash: str,
    phone: str | None,
    device_name: str,
    kind: str,
    days: int,
) -> tuple[str, str, NewSession]:
    row = _open_invitation(tx, token)
    # Spend the link before anything else, conditionally: with several app processes on
    # PostgreSQL two writers can both have read it as open, and only one may win.
    spent = tx.conn.execute(
        update(s.invitations)
        .where(
            s.invitations.c.id == row.id,
            s.invitations.c.used_at.is_(None),
            s.invitations.c.revoked_at.is_(None),
        )
        .values(used_at=tx.now_ms)
    ).rowcount
    if spent != 1:
        raise NotFound("This invitation link is not valid (any more).", code="invitation_invalid")
    user_id = do_create_user(
        tx,
        tenant_id=row.tenant_id,
        role=row.role,
        name=name,
        email=email,
        password_hash=password_hash,
        phone=phone,
        actor_id=None,
    )
    tx.conn.execute(
        update(s.invitations).where(s.invitations.c.id == row.id).values(used_by=user_id)
    )
    tx.append(
        row.tenant_id,
        "invitation.accepted",
        {"invitation_id": row.id, "user_id": user_id},
        actor_id=user_id,
    )
    session = do_create_session(
        tx, tenant_id=row.tenant_id, user_id=user_id, kind=kind, device_name=device_name, days=days
    )
    return row.tenant_id, user_id, session


def get_invitations(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    if not actor.is_admin:
        raise Forbidden("Only owner and office manage invitations.")
    rows = rx.conn.execute(
        select(s.invitations).where(
            s.invitations.c.tenant_id == actor.tenant_id,
            s.invitations.c.used_at.is_(None),
            s.invitations.c.revoked_at.is_(None),
            s.invitations.c.expires_at > rx.now_ms,
        )
    ).all()
    cipher = rx.cipher(actor.tenant_id)
    return [
        {
            "id": r.id,
            "role": r.role,
            "note": cipher.decrypt_opt(f"invitations.note/{r.id}", r.note_enc),
            "expires_at": r.expires_at,
        }
        for r in rows
    ]


def do_revoke_invitation(tx: Tx, actor: Actor, invitation_id: str) -> None:
    if not actor.is_admin:
        raise Forbidden("Only owner and office manage invitations.")
    row = tx.conn.execute(
        select(s.invitations.c.id).where(
            s.invitations.c.id == invitation_id,
            s.invitations.c.tenant_id == actor.tenant_id,
            s.invitations.c.used_at.is_(None),
            s.invitations.c.revoked_at.is_(None),
        )
    ).first()
    if row is None:
        raise NotFound("No such open invitation.")
    tx.conn.execute(
        update(s.invitations)
        .where(s.invitations.c.id == invitation_id)
        .values(revoked_at=tx.now_ms)
    )
    tx.append(
        actor.tenant_id,
        "invitation.revoked",
        {"invitation_id": invitation_id},
        actor_id=actor.user_id,
    )
