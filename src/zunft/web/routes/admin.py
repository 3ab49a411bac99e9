"""The business's staff, invitations and security settings (owner and office)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from zunft.accounts.invitations import do_create_invitation, do_revoke_invitation, get_invitations
from zunft.accounts.users import do_change_user, get_users
from zunft.tenants.service import do_update_tenant_settings, get_tenant, tenant_view
from zunft.web.deps import Ctx, CurrentActor, write_once
from zunft.web.models import InvitationIn, TenantSettingsIn, UserChangeIn

router = APIRouter(tags=["business"])


@router.get("/tenant", summary="My business")
def tenant(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return tenant_view(ctx.read(lambda rx: get_tenant(rx, actor.tenant_id)))


@router.patch("/tenant", summary="Change the business's security settings (owner)")
def patch_tenant(body: TenantSettingsIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(
        lambda tx: do_update_tenant_settings(
            tx, actor, require_totp_admins=body.require_totp_admins
        )
    )


@router.get("/users", summary="Staff of my business")
def users(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"users": ctx.read(lambda rx: get_users(rx, actor))}


@router.patch(
    "/users/{user_id}", summary="Change a colleague's role, or disable them (owner, office)"
)
def patch_user(user_id: str, body: UserChangeIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(
        lambda tx: do_change_user(tx, actor, user_id, role=body.role, disabled=body.disabled)
    )


@router.post("/invitations", status_code=201, summary="Invite a colleague (single-use link)")
def create_invitation(
    body: InvitationIn, actor: CurrentActor, response: Response, ctx: Ctx
) -> dict[str, Any]:
    # Without an explicit number of days the installation's setting applies.
    days = body.days if body.days is not None else ctx.settings.invitation_days
    request = {**body.model_dump(exclude={"client_id"}), "days": days}
    return write_once(
        ctx,
        actor,
        response,
        body.client_id,
        request,
        lambda tx: do_create_invitation(tx, actor, role=body.role, note=body.note, days=days),
    )


@router.get("/invitations", summary="Open invitations (owner, office)")
def list_invitations(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"invitations": ctx.read(lambda rx: get_invitations(rx, actor))}


@router.delete("/invitations/{invitation_id}", status_code=204, summary="Revoke an invitation")
def revoke_invitation(invitation_id: str, actor: CurrentActor, ctx: Ctx) -> Response:
    ctx.write(lambda tx: do_revoke_invitation(tx, actor, invitation_id))
    return Response(status_code=204)
