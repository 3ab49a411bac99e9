"""Creating and reading businesses (tenants)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import insert, select, update

from zunft.accounts.actor import Actor
from zunft.chats.service import do_insert_chat
from zunft.crypto.envelope import wrap_key
from zunft.db import schema as s
from zunft.db.tx import Rx, Tx
from zunft.errors import Conflict, Forbidden, Invalid, NotFound
from zunft.ids import new_id

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
DEFAULT_CHANNEL = "Allgemein"


def do_create_tenant(tx: Tx, *, slug: str, name: str) -> str:
    if not SLUG.match(slug):
        raise Invalid(
            "The short name may use a-z, 0-9 and '-', up to 63 characters.", code="invalid_slug"
        )
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise Invalid("The business name needs 1 to 200 characters.", code="invalid_name")
    exists = tx.conn.execute(select(s.tenants.c.id).where(s.tenants.c.slug == slug)).first()
    if exists:
        raise Conflict(f"A business with the short name {slug!r} exists.", code="slug_taken")
    tenant_id = new_id()
    tx.conn.execute(
        insert(s.tenants),
        {
            "id": tenant_id,
            "slug": slug,
            "name": name,
            "require_totp_admins": False,
            "created_at": tx.now_ms,
        },
    )
    data_key = secrets.token_bytes(32)
    tx.conn.execute(
        insert(s.tenant_keys),
        {
            "tenant_id": tenant_id,
            "key_id": 1,
            "wrapped": wrap_key(tx.keys.kek, tenant_id, 1, data_key),
            "created_at": tx.now_ms,
        },
    )
    tx.keys.install(tenant_id, {1: data_key})
    tx.append(tenant_id, "tenant.created", {"tenant_id": tenant_id, "slug": slug, "name": name})
    do_insert_chat(
        tx,
        tenant_id=tenant_id,
        kind="channel",
        title=DEFAULT_CHANNEL,
        is_default=True,
        actor_id=None,
    )
    return tenant_id


def get_tenant_by_slug(rx: Rx, slug: str) -> Any:
    return rx.conn.execute(select(s.tenants).where(s.tenants.c.slug == slug)).first()


def get_tenant(rx: Rx, tenant_id: str) -> Any:
    row = rx.conn.execute(select(s.tenants).where(s.tenants.c.id == tenant_id)).first()
    if row is None:
        raise NotFound("No such business.")
    return row


def tenant_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "slug": row.slug,
        "name": row.name,
        "require_totp_admins": bool(row.require_totp_admins),
    }


def do_update_tenant_settings(tx: Tx, actor: Actor, *, require_totp_admins: bool) -> dict[str, Any]:
    if actor.role != "owner":
        raise Forbidden("Only an owner can change the business's security settings.")
    if require_totp_admins:
        own = tx.conn.execute(
            select(s.users.c.totp_enabled).where(s.users.c.id == actor.user_id)
        ).scalar()
        if not own:
            # Otherwise the owner's own session would be limited to setting one up at once.
            raise Conflict(
                "Set up your own second factor before requiring one.", code="totp_setup_first"
            )
    tx.conn.execute(
        update(s.tenants)
        .where(s.tenants.c.id == actor.tenant_id)
        .values(require_totp_admins=require_totp_admins)
    )
    tx.append(
        actor.tenant_id,
        "tenant.settings_changed",
        {"require_totp_admins": require_totp_admins},
        actor_id=actor.user_id,
    )
    return tenant_view(get_tenant(tx, actor.tenant_id))
