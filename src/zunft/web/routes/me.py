"""The logged-in user: profile, password, second factor."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from zunft.accounts.login import do_begin_attempt, do_release_attempt, record_failure
from zunft.accounts.passwords import check_password_policy
from zunft.accounts.totp import do_begin_totp_setup, do_confirm_totp, do_disable_totp
from zunft.accounts.users import do_set_password, do_update_profile, get_me, get_user_row
from zunft.customers.mail import qr_svg
from zunft.errors import Invalid
from zunft.web.deps import Ctx, CurrentActor
from zunft.web.models import PasswordIn, ProfileIn, TotpCodeIn

router = APIRouter(tags=["me"])


@router.get("/me", summary="My profile")
def me(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    out = ctx.read(lambda rx: get_me(rx, actor))
    out["tenant_id"] = actor.tenant_id
    out["totp_setup_required"] = actor.needs_totp_setup
    return out


@router.patch("/me", summary="Change my name or phone number")
def patch_me(body: ProfileIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    clear_phone = "phone" in body.model_fields_set and body.phone is None
    return ctx.write(
        lambda tx: do_update_profile(
            tx, actor, name=body.name, phone=body.phone, clear_phone=clear_phone
        )
    )


@router.post("/me/password", status_code=204, summary="Change my password")
def change_password(body: PasswordIn, actor: CurrentActor, ctx: Ctx) -> Response:
    row = ctx.read(lambda rx: get_user_row(rx, actor.tenant_id, actor.user_id))
    # Whoever holds a session must not get unlimited guesses at the password either; the
    # attempt is counted before the slow check, like a login (accounts/login.py).
    ctx.write(lambda tx: do_begin_attempt(tx, user_id=actor.user_id))
    if not ctx.hasher.verify(row.password_hash, body.current_password):
        record_failure(ctx, row, reason="password_change", device_name="")
        raise Invalid("The current password is not right.", code="wrong_password")
    ctx.write(lambda tx: do_release_attempt(tx, user_id=actor.user_id))
    profile = ctx.read(lambda rx: get_me(rx, actor))
    check_password_policy(
        body.new_password, personal=(profile["name"], (profile["email"] or "").split("@")[0])
    )
    new_hash = ctx.hasher.hash(body.new_password)
    ctx.write(
        lambda tx: do_set_password(
            tx,
            tenant_id=actor.tenant_id,
            user_id=actor.user_id,
            password_hash=new_hash,
            actor_id=actor.user_id,
            keep_session_id=actor.session_id,
        )
    )
    return Response(status_code=204)


@router.post("/me/totp", summary="Start setting up a second factor (returns the secret once)")
def totp_setup(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    out = ctx.write(lambda tx: do_begin_totp_setup(tx, actor))
    # The same link as a QR code (SVG without style or script) to scan with a second phone.
    return {**out, "qr_svg": qr_svg(out["otpauth_uri"], sized=False)}


@router.post("/me/totp/confirm", status_code=204, summary="Confirm the second factor with a code")
def totp_confirm(body: TotpCodeIn, actor: CurrentActor, ctx: Ctx) -> Response:
    now = ctx.clock.now()
    ctx.write(lambda tx: do_confirm_totp(tx, actor, body.code, now))
    return Response(status_code=204)


@router.post("/me/totp/disable", status_code=204, summary="Remove the second factor")
def totp_disable(body: TotpCodeIn, actor: CurrentActor, ctx: Ctx) -> Response:
    now = ctx.clock.now()
    ctx.write(lambda tx: do_disable_totp(tx, actor, body.code, now))
    return Response(status_code=204)
