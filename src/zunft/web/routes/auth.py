"""Login, logout, device sessions, and joining by invitation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from zunft.accounts.invitations import do_accept_invitation, get_invitation_info
from zunft.accounts.login import login
from zunft.accounts.passwords import check_password_policy
from zunft.accounts.sessions import (
    NewSession,
    do_revoke_other_sessions,
    do_revoke_session,
    get_sessions,
)
from zunft.web.deps import CSRF_COOKIE, SESSION_COOKIE, Ctx, CurrentActor
from zunft.web.models import AcceptInvitationIn, InvitationLookupIn, LoginIn

router = APIRouter(tags=["auth"])


def _session_response(
    request: Request, response: Response, ctx: Ctx, kind: str, session: NewSession
) -> dict[str, Any]:
    body: dict[str, Any] = {"session_id": session.id, "expires_at": session.expires_at}
    if kind == "bearer":
        body["token"] = session.token
        return body
    secure = ctx.settings.secure_cookies or request.headers.get("x-forwarded-proto") == "https"
    max_age = (session.expires_at - ctx.now_ms()) // 1000
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )
    # Readable by the web app (not HttpOnly): it echoes it in X-CSRF-Token on every write.
    response.set_cookie(
        CSRF_COOKIE,
        session.csrf_token or "",
        max_age=max_age,
        httponly=False,
        secure=secure,
        samesite="strict",
        path="/",
    )
    body["csrf_token"] = session.csrf_token
    return body


@router.post("/auth/login", summary="Log in with e-mail, password and (if set up) a TOTP code")
def post_login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    result = login(
        ctx,
        tenant=body.tenant,
        email=body.email,
        password=body.password,
        totp_code=body.totp_code,
        device_name=body.device_name,
        kind=body.session_kind,
    )
    out = _session_response(request, response, ctx, body.session_kind, result.session)
    out["user_id"] = result.user_id
    return out


@router.post("/auth/logout", status_code=204, summary="End this device session")
def post_logout(actor: CurrentActor, response: Response, ctx: Ctx) -> Response:
    session_id = actor.session_id or ""
    ctx.write(lambda tx: do_revoke_session(tx, actor, session_id))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/sessions", summary="My device sessions")
def list_sessions(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"sessions": ctx.read(lambda rx: get_sessions(rx, actor))}


@router.delete("/sessions/{session_id}", status_code=204, summary="Log out one of my devices")
def delete_session(session_id: str, actor: CurrentActor, ctx: Ctx) -> Response:
    ctx.write(lambda tx: do_revoke_session(tx, actor, session_id))
    return Response(status_code=204)


@router.post("/sessions/revoke-others", summary="Log out all my other devices")
def revoke_others(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"revoked": ctx.write(lambda tx: do_revoke_other_sessions(tx, actor))}


@router.post("/invitations/lookup", summary="What an invitation link is for (no login needed)")
def invitation_info(body: InvitationLookupIn, ctx: Ctx) -> dict[str, Any]:
    # POST with the token in the body, not in the path: URLs end up in proxy logs.
    return ctx.read(lambda rx: get_invitation_info(rx, body.token))


@router.post(
    "/invitations/accept", status_code=201, summary="Join a business with an invitation link"
)
def accept_invitation(
    body: AcceptInvitationIn, request: Request, response: Response, ctx: Ctx
) -> dict[str, Any]:
    ctx.read(lambda rx: get_invitation_info(rx, body.token))  # a clear error before the slow hash
    check_password_policy(body.password, personal=(body.name, body.email.split("@")[0]))
    password_hash = ctx.hasher.hash(body.password)
    _tenant, user_id, session = ctx.write(
        lambda tx: do_accept_invitation(
            tx,
            token=body.token,
            name=body.name,
            email=body.email,
            password_hash=password_hash,
            phone=body.phone,
            device_name=body.device_name,
            kind=body.session_kind,
            days=ctx.settings.session_days,
        )
    )
    response.status_code = 201
    out = _session_response(request, response, ctx, body.session_kind, session)
    out["user_id"] = user_id
    return out
