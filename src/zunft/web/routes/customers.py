"""Customers: invitations (staff), the customer's way in (no login: the link's token), consent
and its withdrawal, the staff's view of customer chats and open customer questions."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field

from zunft.customers.consent import (
    do_publish_consent_text,
    get_consent_versions,
    get_current_consent,
)
from zunft.customers.mail import (
    check_mail_configured,
    invitation_email,
    invitation_link,
    qr_svg,
    send_email,
)
from zunft.customers.service import (
    check_staff_actor,
    do_accept_customer_invitation,
    do_create_customer_invitation,
    do_create_device_link,
    do_decline_customer_invitation,
    do_reconsent,
    do_revoke_customer_invitation,
    do_withdraw_consent,
    get_chat_people,
    get_customer_chats,
    get_customer_invitation_info,
    get_customer_invitations,
    get_customer_me,
    get_open_questions,
)
from zunft.db.tx import Tx
from zunft.errors import Invalid
from zunft.idempotency import do_once
from zunft.projects.service import get_project
from zunft.tenants.service import get_tenant
from zunft.web.deps import CSRF_COOKIE, SESSION_COOKIE, Ctx, CurrentActor
from zunft.web.models import Body
from zunft.web.routes.auth import _session_response

log = logging.getLogger(__name__)
router = APIRouter(tags=["customers"])

Sha256 = Field(min_length=64, max_length=64, pattern="^[0-9a-fA-F]{64}$")


class CustomerInvitationIn(Body):
    client_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(
        default=None, max_length=100, description="The customer's name, as they are greeted."
    )
    customer_id: str | None = Field(
        default=None,
        max_length=26,
        description="Instead of a name: a customer we know from another project (same account).",
    )
    email: str | None = Field(default=None, max_length=254)
    days: int | None = Field(
        default=None, ge=1, le=30, description="Default: ZUNFT_CUSTOMER_INVITATION_DAYS."
    )
    send_email: bool = Field(
        default=False, description="Send the link by e-mail (needs email and ZUNFT_SMTP_HOST)."
    )


class DeviceLinkIn(Body):
    client_id: str | None = Field(default=None, max_length=64)
    days: int | None = Field(
        default=None, ge=1, le=30, description="Default: ZUNFT_CUSTOMER_INVITATION_DAYS."
    )


class TokenIn(Body):
    token: str = Field(max_length=100)


class AcceptCustomerIn(Body):
    token: str = Field(max_length=100)
    consent_version: int = Field(ge=1, description="The version of the text the customer read.")
    consent_sha256: str = Sha256
    device_name: str = Field(default="Browser", max_length=100)
    session_kind: Literal["cookie", "bearer"] = "cookie"


class ConsentIn(Body):
    version: int = Field(ge=1)
    sha256: str = Sha256
    device_name: str = Field(default="Browser", max_length=100)


class ConsentTextIn(Body):
    text: str = Field(max_length=20_000)


def _origin(request: Request, ctx: Ctx) -> str:
    return str(ctx.settings.public_url or request.base_url)


# --- staff --------------------------------------------------------------------------------


def _issue(
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    response: Response,
    client_id: str | None,
    request_body: dict[str, Any],
    make: Callable[[Tx], dict[str, Any]],
    email_to: str | None,
) -> dict[str, Any]:
    """Create a link once (per client id), then show it as link and QR code, and mail it.
    The token is stored nowhere but as a hash, not even in the idempotent answer: a replay
    says so (token null), and the invitation can be revoked and made again."""
    token: list[str] = []

    def work(tx: Tx) -> dict[str, Any]:
        created = make(tx)
        token.append(created.pop("token"))
        return {**created, "token": None}

    if client_id is None:
        out, replayed = ctx.write(work), False
    else:
        cid = client_id

        def once(tx: Tx) -> tuple[int, dict[str, Any], bool]:
            return do_once(tx, actor, cid, request_body, lambda: work(tx))

        _status, out, replayed = ctx.write(once)
    response.status_code = 201
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
        return {**out, "link": None, "qr_svg": None, "emailed": False}
    link = invitation_link(_origin(request, ctx), token[0])
    out = {**out, "token": token[0], "link": link, "qr_svg": qr_svg(link), "emailed": False}
    if email_to:
        project = ctx.read(lambda rx: get_project(rx, actor, out["project_id"]))
        business = ctx.read(lambda rx: get_tenant(rx, actor.tenant_id)).name
        message = invitation_email(
            ctx.settings,
            to=email_to,
            name=out["name"],
            business=str(business),
            project=project["name"],
            link=link,
            expires_at=out["expires_at"],
        )
        try:
            send_email(ctx.settings, message)
            out["emailed"] = True
        except (OSError, smtplib.SMTPException) as exc:
            # The invitation stands (link and QR code work); the office sees that mail failed.
            log.warning("sending the invitation e-mail failed: %s", exc)
            out["email_error"] = "The mail server did not accept the message."
    return out


@router.post(
    "/projects/{project_id}/customer-invitations",
    status_code=201,
    summary="Invite a customer to the project's customer chat (link, QR code, e-mail)",
)
def create_customer_invitation(
    project_id: str,
    body: CustomerInvitationIn,
    actor: CurrentActor,
    request: Request,
    response: Response,
    ctx: Ctx,
) -> dict[str, Any]:
    if body.send_email:
        check_mail_configured(ctx.settings)
        if not body.email:
            raise Invalid("To send the link by e-mail, give an address.", code="invalid_email")
    days = body.days if body.days is not None else ctx.settings.customer_invitation_days
    request_body = {
        "project_id": project_id,
        **body.model_dump(exclude={"client_id"}),
        "days": days,
    }
    return _issue(
        ctx,
        actor,
        request,
        response,
        body.client_id,
        request_body,
        lambda tx: do_create_customer_invitation(
            tx,
            actor,
            project_id,
            name=body.name,
            email=body.email,
            days=days,
            customer_id=body.customer_id,
        ),
        body.email if body.send_email else None,
    )


@router.post(
    "/customer-chats/{chat_id}/device-links",
    status_code=201,
    summary="A new link for an existing customer's other device (same account and chat)",
)
def create_device_link(
    chat_id: str,
    body: DeviceLinkIn,
    actor: CurrentActor,
    request: Request,
    response: Response,
    ctx: Ctx,
) -> dict[str, Any]:
    days = body.days if body.days is not None else ctx.settings.customer_invitation_days
    return _issue(
        ctx,
        actor,
        request,
        response,
        body.client_id,
        {"chat_id": chat_id, "days": days},
        lambda tx: do_create_device_link(tx, actor, chat_id, days=days),
        None,
    )


@router.get(
    "/projects/{project_id}/customer-invitations", summary="Open customer invitations of a project"
)
def list_customer_invitations(project_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"invitations": ctx.read(lambda rx: get_customer_invitations(rx, actor, project_id))}


@router.delete(
    "/customer-invitations/{invitation_id}", status_code=204, summary="Revoke a customer invitation"
)
def revoke_customer_invitation(invitation_id: str, actor: CurrentActor, ctx: Ctx) -> Response:
    ctx.write(lambda tx: do_revoke_customer_invitation(tx, actor, invitation_id))
    return Response(status_code=204)


@router.get("/customer-chats", summary="Customer chats I may see, with the consent state (staff)")
def customer_chats(actor: CurrentActor, ctx: Ctx, project_id: str | None = None) -> dict[str, Any]:
    return {"chats": ctx.read(lambda rx: get_customer_chats(rx, actor, project_id=project_id))}


@router.get(
    "/customer-questions",
    summary="Open customer questions, oldest first, with their reply deadline (staff)",
)
def open_questions(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"questions": ctx.read(lambda rx: get_open_questions(rx, actor))}


@router.get(
    "/consent-texts", summary="Every version of the business's consent text (owner, office)"
)
def consent_texts(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"versions": ctx.read(lambda rx: get_consent_versions(rx, actor))}


@router.get("/consent-texts/current", summary="The consent text in force (staff)")
def consent_text_current(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    check_staff_actor(actor)
    return ctx.read(lambda rx: get_current_consent(rx, actor.tenant_id))


@router.post(
    "/consent-texts",
    status_code=201,
    summary="Publish a new consent text (customers must accept it again; owner, office)",
)
def publish_consent_text(body: ConsentTextIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(lambda tx: do_publish_consent_text(tx, actor, body.text))


@router.get("/chats/{chat_id}/people", summary="Who is in a chat, by name (staff and customers)")
def chat_people(chat_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"people": ctx.read(lambda rx: get_chat_people(rx, actor, chat_id))}


# --- the customer's way in (no login: the token from the link) -----------------------------


@router.post(
    "/customer/invitations/lookup",
    summary="Who invites me and the consent text to accept (customer link, no login)",
)
def customer_invitation_info(body: TokenIn, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: get_customer_invitation_info(rx, body.token))


@router.post(
    "/customer/invitations/accept",
    status_code=201,
    summary="Accept the consent text and exchange the link for a device session",
)
def accept_customer_invitation(
    body: AcceptCustomerIn, request: Request, response: Response, ctx: Ctx
) -> dict[str, Any]:
    actor, chat_id, session = ctx.write(
        lambda tx: do_accept_customer_invitation(
            tx,
            token=body.token,
            consent_version=body.consent_version,
            consent_sha256=body.consent_sha256,
            device_name=body.device_name,
            kind=body.session_kind,
            days=ctx.settings.session_days,
        )
    )
    response.status_code = 201
    out = _session_response(request, response, ctx, body.session_kind, session)
    out["user_id"] = actor.user_id
    out["chat_id"] = chat_id
    return out


@router.post(
    "/customer/invitations/decline",
    status_code=204,
    summary="Decline: the link ends and nothing more is stored",
)
def decline_customer_invitation(body: TokenIn, ctx: Ctx) -> Response:
    ctx.write(lambda tx: do_decline_customer_invitation(tx, token=body.token))
    return Response(status_code=204)


# --- the customer, logged in --------------------------------------------------------------


@router.get("/customer/me", summary="My customer account: business, consent, my chats")
def customer_me(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: get_customer_me(rx, actor))


@router.post("/customer/consent", summary="Accept the business's new consent text")
def customer_consent(body: ConsentIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(
        lambda tx: do_reconsent(
            tx, actor, version=body.version, sha256_hex=body.sha256, device_name=body.device_name
        )
    )


@router.post(
    "/customer/consent/withdraw",
    status_code=204,
    summary="Withdraw my consent: my access ends at once",
)
def withdraw_consent(actor: CurrentActor, ctx: Ctx) -> Response:
    ctx.write(lambda tx: do_withdraw_consent(tx, actor))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
