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
from zunft.customers.service import needs_consent
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

# A customer's session reaches only these operations (deny by default: every other route,
# present or future, answers 403 staff_only). docs/customers.md, "Isolation".
CUSTOMER_ROUTES = frozenset(
    {
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/sessions/{session_id}"),
        ("POST", "/api/v1/sessions/revoke-others"),
        ("GET", "/api/v1/chats"),
        ("GET", "/api/v1/chats/{chat_id}"),
        ("GET", "/api/v1/chats/{chat_id}/people"),
        ("GET", "/api/v1/chats/{chat_id}/messages"),
        ("POST", "/api/v1/chats/{chat_id}/messages"),
        ("POST", "/api/v1/chats/{chat_id}/read"),
        ("PATCH", "/api/v1/messages/{message_id}"),
        ("DELETE", "/api/v1/messages/{message_id}"),
        ("GET", "/api/v1/messages/{message_id}/revisions"),
        ("GET", "/api/v1/search"),
        # Files posted in their chat: what it is, the preview, and the original of documents
        # and voice messages (photos and videos only as previews: no location).
        ("GET", "/api/v1/files/{file_id}"),
        ("GET", "/api/v1/files/{file_id}/preview"),
        ("GET", "/api/v1/files/{file_id}/content"),
        # Photos and files into their own chat (the chat is checked like a send: consent in
        # force, not withdrawn); tus for a resumable upload on a weak network.
        ("POST", "/api/v1/uploads/single"),
        ("OPTIONS", "/api/v1/uploads"),
        ("POST", "/api/v1/uploads"),
        ("HEAD", "/api/v1/uploads/{upload_id}"),
        ("PATCH", "/api/v1/uploads/{upload_id}"),
        ("DELETE", "/api/v1/uploads/{upload_id}"),
        ("GET", "/api/v1/customer/me"),
        ("POST", "/api/v1/customer/consent"),
        ("POST", "/api/v1/customer/consent/withdraw"),
    }
)
# ...and while the business's consent text is newer than the one they accepted, only these.
CUSTOMER_CONSENT_ROUTES = frozenset(
    {
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/customer/me"),
        ("POST", "/api/v1/customer/consent"),
        ("POST", "/api/v1/customer/consent/withdraw"),
    }
)


async def get_ctx(request: Request) -> AppContext:
    """async: FastAPI runs a plain function dependency on a worker thread, a hop per request
    for reading an attribute."""
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
    if auth.actor.kind == "customer":
        _check_customer(request, ctx, auth.actor)
    if ctx.now_ms() - auth.last_seen_at > TOUCH_INTERVAL_MS and auth.actor.session_id:
        session_id = auth.actor.session_id
        ctx.writer.submit(
            lambda tx: do_touch_session(tx, session_id, ctx.settings.session_days)
        )  # not awaited: a convenience
    return auth.actor


def _customer_route(method: str, path: str) -> tuple[str, str] | None:
    """The allowed (method, template) this request is, by matching its path segment by
    segment ({name} matches any one non-empty segment), or None."""
    got = path.split("/")
    for allowed_method, template in CUSTOMER_ROUTES:
        want = template.split("/")
        if (
            allowed_method == method
            and len(want) == len(got)
            and all(
                w == g or (w.startswith("{") and w.endswith("}") and g != "")
                for w, g in zip(want, got, strict=True)
            )
        ):
            return allowed_method, template
    return None


def _check_customer(request: Request, ctx: AppContext, actor: Actor) -> None:
    key = _customer_route(request.method, request.url.path)
    if key is None:
        raise Forbidden("This is for staff of the business.", code="staff_only")
    if key not in CUSTOMER_CONSENT_ROUTES:
        pending = ctx.read(lambda rx: needs_consent(rx, actor))
        if pending is not None:
            raise Forbidden(
                "The business has changed its consent text; please read and accept it first.",
                code="consent_required",
                consent=pending,
            )


CurrentActor = Annotated[Actor, Depends(current_actor)]


def once_job(
    actor: Actor,
    client_id: str,
    request: dict[str, Any],
    work: Callable[[Tx], dict[str, Any]],
    *,
    status: int = 201,
) -> Callable[[Tx], tuple[int, dict[str, Any], bool]]:
    """A writer job that does `work` once per client id (HTTP routes and the stream)."""

    def job(tx: Tx) -> tuple[int, dict[str, Any], bool]:
        return do_once(tx, actor, client_id, request, lambda: work(tx), status=status)

    return job


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
    return _answered(response, ctx.write(_client_job(actor, client_id, request, work, status)))


async def awrite_once(
    ctx: AppContext,
    actor: Actor,
    response: Response,
    client_id: str | None,
    request: dict[str, Any],
    work: Callable[[Tx], dict[str, Any]],
    *,
    status: int = 201,
) -> dict[str, Any]:
    """`write_once` for an async route: the request waits for the group commit without
    holding a worker thread."""
    job = _client_job(actor, client_id, request, work, status)
    return _answered(response, await ctx.writer.awrite(job))


def _client_job(
    actor: Actor,
    client_id: str | None,
    request: dict[str, Any],
    work: Callable[[Tx], dict[str, Any]],
    status: int,
) -> Callable[[Tx], tuple[int, dict[str, Any], bool]]:
    if client_id is None:
        return lambda tx: (status, work(tx), False)
    return once_job(actor, client_id, request, work, status=status)


def _answered(response: Response, outcome: tuple[int, dict[str, Any], bool]) -> dict[str, Any]:
    code, body, replayed = outcome
    response.status_code = code
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return body
