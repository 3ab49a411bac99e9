"""Request dependencies: the app context and the authenticated actor (cookie or bearer)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from zunft.accounts.actor import Actor
from zunft.accounts.sessions import (
    TOUCH_INTERVAL_MS,
    csrf_matches,
    do_touch_session,
    get_session_actor,
)
from zunft.context import AppContext
from zunft.db.tx import Tx
from zunft.errors import Forbidden, Unauthenticated
from zunft.idempotency import do_once

SESSION_COOKIE = "zunft_session"
CSRF_COOKIE = "zunft_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# While a business requires a second factor that this user has not set up, only these work.
TOTP_SETUP_PATHS = (
    "/api/v1/me",
    "/api/v1/me/totp",
    "/api/v1/me/totp/confirm",
    "/api/v1/auth/logout",
)


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def _token(request: Request) -> tuple[str | None, str]:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated(
                "Use 'Authorization: Bearer <token>'.", code="invalid_authorization"
            )
        return value.strip(), "bearer"
    return request.cookies.get(SESSION_COOKIE), "cookie"


def current_actor(request: Request, ctx: Ctx) -> Actor:
    token, via = _token(request)
    if not token:
        raise Unauthenticated("Please log in.", code="not_logged_in")
    auth = ctx.read(lambda rx: get_session_actor(rx, token))
    unsafe = request.method not in SAFE_METHODS
    if (
        via == "cookie"
        and unsafe
        and not csrf_matches(auth.csrf_hash, request.headers.get(CSRF_HEADER))
    ):
        raise Forbidden("The request lacks a valid CSRF token.", code="csrf_failed")
    if auth.actor.needs_totp_setup and request.url.path not in TOTP_SETUP_PATHS:
        raise Forbidden(
            "Your business requires a second factor: please set it up first.",
            code="totp_setup_required",
        )
    if ctx.now_ms() - auth.last_seen_at > TOUCH_INTERVAL_MS and auth.actor.session_id:
        session_id = auth.actor.session_id
        ctx.writer.submit(
            lambda tx: do_touch_session(tx, session_id, ctx.settings.session_days)
        )  # not awaited: a convenience
    return auth.actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def write_once(
    ctx: AppContext,
    actor: Actor,
    response: Response,
    client_id: str | None,
    request: dict[str, Any],
    work: Callable[[Tx], dict[str, Any]],
    *,
    status: int = 201,
) -> dict[str, Any]:
    """Run a client write in the writer, once per client id when the client gave one."""
    if client_id is None:
        response.status_code = status
        return ctx.write(work)

    def job(tx: Tx) -> tuple[int, dict[str, Any], bool]:
        return do_once(tx, actor, client_id, request, lambda: work(tx), status=status)

    code, body, replayed = ctx.write(job)
    response.status_code = code
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return body
