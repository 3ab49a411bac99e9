"""Optional TOTP second factor (RFC 6238 via pyotp), with replay protection per time step."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

import pyotp
from sqlalchemy import update

from zunft.accounts.actor import ADMIN_ROLES, Actor
from zunft.accounts.users import get_user_row
from zunft.db import schema as s
from zunft.db.tx import Tx
from zunft.errors import Conflict, Forbidden, Invalid
from zunft.tenants.service import get_tenant

STEP_SECONDS = 30
ISSUER = "zunft"


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (one step of clock drift allowed), unless already used."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step if last_step is None or step > last_step else None
    return None


def do_begin_totp_setup(tx: Tx, actor: Actor) -> dict[str, Any]:
    row = get_user_row(tx, actor.tenant_id, actor.user_id)
    if row.totp_enabled:
        raise Conflict("A second factor is set up already.", code="totp_already_enabled")
    secret = pyotp.random_base32()
    cipher = tx.cipher(actor.tenant_id)
    tx.conn.execute(
        update(s.users)
        .where(s.users.c.id == actor.user_id)
        .values(totp_secret_enc=cipher.encrypt(f"users.totp/{actor.user_id}", secret))
    )
    tenant = get_tenant(tx, actor.tenant_id)
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=f"{tenant.slug}/{actor.user_id}", issuer_name=ISSUER
    )
    return {"secret": secret, "otpauth_uri": uri}


def _secret(tx: Tx, actor: Actor) -> tuple[str, Any]:
    row = get_user_row(tx, actor.tenant_id, actor.user_id)
    if row.totp_secret_enc is None:
        raise Conflict("Start the set-up of the second factor first.", code="totp_not_started")
    return tx.cipher(actor.tenant_id).decrypt(
        f"users.totp/{actor.user_id}", row.totp_secret_enc
    ), row


def do_confirm_totp(tx: Tx, actor: Actor, code: str, now: datetime) -> None:
    secret, row = _secret(tx, actor)
    if row.totp_enabled:
        raise Conflict("A second factor is set up already.", code="totp_already_enabled")
    step = matching_step(secret, code, now, row.totp_last_step)
    if step is None:
        raise Invalid("The code is not right; check the time on your phone.", code="invalid_totp")
    tx.conn.execute(
        update(s.users)
        .where(s.users.c.id == actor.user_id)
        .values(totp_enabled=True, totp_last_step=step)
    )
    tx.append(
        actor.tenant_id, "user.totp_enabled", {"user_id": actor.user_id}, actor_id=actor.user_id
    )


def do_disable_totp(tx: Tx, actor: Actor, code: str, now: datetime) -> None:
    tenant = get_tenant(tx, actor.tenant_id)
    if tenant.require_totp_admins and actor.role in ADMIN_ROLES:
        raise Forbidden(
            "Your business requires a second factor for your role.", code="totp_mandatory"
        )
    secret, row = _secret(tx, actor)
    if not row.totp_enabled:
        raise Conflict("No second factor is set up.", code="totp_not_enabled")
    if matching_step(secret, code, now, row.totp_last_step) is None:
        raise Invalid("The code is not right.", code="invalid_totp")
    tx.conn.execute(
        update(s.users)
        .where(s.users.c.id == actor.user_id)
        .values(totp_enabled=False, totp_secret_enc=None, totp_last_step=None)
    )
    tx.append(
        actor.tenant_id, "user.totp_disabled", {"user_id": actor.user_id}, actor_id=actor.user_id
    )
