"""Staff accounts: creation, profile, roles. Names, e-mail addresses and phone numbers are
stored encrypted; e-mail lookups go through a keyed hash (email_idx)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, insert, select, update

from zunft.accounts.actor import ROLES, Actor
from zunft.crypto.envelope import TenantCipher
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, Invalid, NotFound
from zunft.ids import new_id

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}\.[^@\s.]{2,63}$")
PHONE = re.compile(r"^\+?[0-9 ()/-]{4,30}$")


def normalise_email(email: str) -> str:
    email = email.strip()
    if not EMAIL.match(email) or len(email) > 254:
        raise Invalid("Please enter a valid e-mail address.", code="invalid_email")
    return email.casefold()


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise Invalid("The name needs 1 to 100 characters.", code="invalid_name")
    return name


def check_phone(phone: str | None) -> str | None:
    if phone is None or not phone.strip():
        return None
    phone = phone.strip()
    if not PHONE.match(phone):
        raise Invalid("Please enter a valid phone number.", code="invalid_phone")
    return phone


def email_index(cipher: TenantCipher, email: str) -> bytes:
    return cipher.index_token("email", normalise_email(email))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"Unknown role; use one of {', '.join(ROLES)}.", code="invalid_role")
    return role


def do_create_user(
    tx: Tx,
    *,
    tenant_id: str,
    role: str,
    name: str,
    email: str,
    password_hash: str,
    phone: str | None = None,
    actor_id: str | None = None,
) -> str:
    check_role(role)
    name = check_name(name)
    phone = check_phone(phone)
    cipher = tx.cipher(tenant_id)
    idx = email_index(cipher, email)
    taken = tx.conn.execute(
        select(s.users.c.id).where(s.users.c.tenant_id == tenant_id, s.users.c.email_idx == idx)
    ).first()
    if taken:
        raise Conflict("An account with this e-mail address exists already.", code="email_taken")
    user_id = new_id()
    tx.conn.execute(
        insert(s.users),
        {
            "id": user_id,
            "tenant_id": tenant_id,
            "kind": "staff",
            "role": role,
            "name_enc": cipher.encrypt(f"users.name/{user_id}", name),
            "email_enc": cipher.encrypt(f"users.email/{user_id}", email.strip()),
            "email_idx": idx,
            "phone_enc": cipher.encrypt_opt(f"users.phone/{user_id}", phone),
            "password_hash": password_hash,
            "totp_enabled": False,
            "failed_logins": 0,
            "created_at": tx.now_ms,
        },
    )
    tx.append(tenant_id, "user.created", {"user_id": user_id, "role": role}, actor_id=actor_id)
    # Every member of staff is in the business's default channel ("Allgemein").
    default_chat = tx.conn.execute(
        select(s.chats.c.id).where(s.chats.c.tenant_id == tenant_id, s.chats.c.is_default.is_(True))
    ).scalar()
    if default_chat is not None:
        from zunft.chats.service import do_add_member

        do_add_member(
            tx, tenant_id=tenant_id, chat_id=default_chat, user_id=user_id, actor_id=actor_id
        )
    return user_id


def user_view(cipher: TenantCipher, row: Any, *, private: bool = False) -> dict[str, Any]:
    """What staff see of a colleague; `private` adds contact details (self, admins)."""
    view: dict[str, Any] = {
        "id": row.id,
        "name": cipher.decrypt(f"users.name/{row.id}", row.name_enc),
        "role": row.role,
        "disabled": row.disabled_at is not None,
    }
    if private:
        view["email"] = cipher.decrypt_opt(f"users.email/{row.id}", row.email_enc)
        view["phone"] = cipher.decrypt_opt(f"users.phone/{row.id}", row.phone_enc)
        view["totp_enabled"] = bool(row.totp_enabled)
    return view


def get_user_row(rx: Rx, tenant_id: str, user_id: str) -> Any:
    row = rx.conn.execute(
        select(s.users).where(s.users.c.id == user_id, s.users.c.tenant_id == tenant_id)
    ).first()
    if row is None:
        raise NotFound("No such user.")
    return row


def get_users(rx: Rx, actor: Actor) -> list[dict[str, Any]]:
    cipher = rx.cipher(actor.tenant_id)
    rows = rx.conn.execute(
        select(s.users).where(s.users.c.tenant_id == actor.tenant_id, s.users.c.kind == "staff")
    ).all()
    views = [user_view(cipher, r, private=actor.is_admin or r.id == actor.user_id) for r in rows]
    return sorted(views, key=lambda v: v["name"].casefold())


def get_me(rx: Rx, actor: Actor) -> dict[str, Any]:
    row = get_user_row(rx, actor.tenant_id, actor.user_id)
    return user_view(rx.cipher(actor.tenant_id), row, private=True)


def do_update_profile(
    tx: Tx,
    actor: Actor,
    *,
    name: str | None = None,
    phone: str | None = None,
    clear_phone: bool = False,
) -> dict[str, Any]:
    cipher = tx.cipher(actor.tenant_id)
    values: dict[str, Any] = {}
    if name is not None:
        values["name_enc"] = cipher.encrypt(f"users.name/{actor.user_id}", check_name(name))
    if phone is not None or clear_phone:
        values["phone_enc"] = cipher.encrypt_opt(f"users.phone/{actor.user_id}", check_phone(phone))
    if values:
        tx.conn.execute(update(s.users).where(s.users.c.id == actor.user_id).values(**values))
        tx.append(
            actor.tenant_id,
            "user.profile_changed",
            {"user_id": actor.user_id, "fields": sorted(k.removesuffix("_enc") for k in values)},
            actor_id=actor.user_id,
        )
    return get_me(tx, actor)


def _owner_count(rx: Rx, tenant_id: str) -> int:
    return int(
        rx.conn.execute(
            select(func.count())
            .select_from(s.users)
            .where(
                s.users.c.tenant_id == tenant_id,
                s.users.c.role == "owner",
                s.users.c.disabled_at.is_(None),
            )
        ).scalar_one()
    )


def do_change_user(
    tx: Tx, actor: Actor, user_id: str, *, role: str | None = None, disabled: bool | None = None
) -> dict[str, Any]:
    """Change a colleague's role or disable/enable them (owner, office; owners by owners)."""
    if not actor.is_admin:
        raise Forbidden("Only owner and office manage users.")
    row = get_user_row(tx, actor.tenant_id, user_id)
    if row.kind != "staff":
        raise NotFound("No such user.")
    touches_owner = row.role == "owner" or role == "owner"
    if touches_owner and actor.role != "owner":
        raise Forbidden("Only an owner can grant or change the owner role.")
    # Only an active owner counts (and is counted): tidying up a disabled owner takes nothing away.
    active_owner = row.role == "owner" and row.disabled_at is None
    loses_owner = active_owner and ((role is not None and role != "owner") or bool(disabled))
    if loses_owner and _owner_count(tx, actor.tenant_id) <= 1:
        raise Conflict("A business keeps at least one owner.", code="last_owner")
    if role is not None and role != row.role:
        check_role(role)
        tx.conn.execute(update(s.users).where(s.users.c.id == user_id).values(role=role))
        tx.append(
            actor.tenant_id,
            "user.role_changed",
            {"user_id": user_id, "from": row.role, "to": role},
            actor_id=actor.user_id,
        )
    if disabled is not None and disabled != (row.disabled_at is not None):
        tx.conn.execute(
            update(s.users)
            .where(s.users.c.id == user_id)
            .values(disabled_at=tx.now_ms if disabled else None)
        )
        if disabled:
            # A disabled account's devices stop at once.
            tx.conn.execute(
                update(s.sessions)
                .where(s.sessions.c.user_id == user_id, s.sessions.c.revoked_at.is_(None))
                .values(revoked_at=tx.now_ms)
            )
        tx.append(
            actor.tenant_id,
            "user.disabled" if disabled else "user.enabled",
            {"user_id": user_id},
            actor_id=actor.user_id,
        )
    return user_view(
        tx.cipher(actor.tenant_id), get_user_row(tx, actor.tenant_id, user_id), private=True
    )


def do_set_password(
    tx: Tx,
    *,
    tenant_id: str,
    user_id: str,
    password_hash: str,
    actor_id: str | None,
    keep_session_id: str | None = None,
) -> None:
    """Set a new password hash and unlock the account; every device session except
    `keep_session_id` (the one that changed it) ends, since a new password is often the answer
    to a lost phone or a leaked password."""
    tx.conn.execute(
        update(s.users)
        .where(s.users.c.id == user_id, s.users.c.tenant_id == tenant_id)
        .values(password_hash=password_hash, failed_logins=0, locked_until=None)
    )
    ended = tx.conn.execute(
        update(s.sessions)
        .where(
            s.sessions.c.user_id == user_id,
            s.sessions.c.tenant_id == tenant_id,
            s.sessions.c.revoked_at.is_(None),
            s.sessions.c.expires_at > tx.now_ms,
            s.sessions.c.id != (keep_session_id or ""),
        )
        .values(revoked_at=tx.now_ms)
    ).rowcount
    tx.append(
        tenant_id,
        "user.password_changed",
        {"user_id": user_id, "sessions_ended": ended},
        actor_id=actor_id,
    )


def get_user_id_by_email(rx: Rx, tenant_id: str, email: str) -> str:
    idx = email_index(rx.cipher(tenant_id), email)
    found = rx.conn.execute(
        select(s.users.c.id).where(s.users.c.tenant_id == tenant_id, s.users.c.email_idx == idx)
    ).scalar()
    if found is None:
        raise NotFound("No account with this e-mail address.")
    return str(found)
