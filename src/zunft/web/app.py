"""Builds the ASGI application from an AppContext."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from zunft import __version__
from zunft.context import AppContext
from zunft.due import run_due_forever
from zunft.realtime.hub import Hub
from zunft.web import errors
from zunft.web.guards import JsonBodyGuard, SecurityHeaders
from zunft.web.routes import (
    admin,
    auth,
    chats,
    customers,
    files,
    gallery,
    hours,
    me,
    messages,
    projects,
    reports,
    stream,
    uploads,
)

API = "/api/v1"
STATIC = Path(__file__).parent / "static"


def server_options(ctx: AppContext) -> dict[str, Any]:
    """uvicorn settings that belong to the app (used by `zunft serve`, tests and benchmarks)."""
    return {
        "proxy_headers": True,
        "server_header": False,
        # Frames larger than this close the socket with 1009 inside the protocol library.
        "ws_max_size": ctx.settings.stream_max_frame_bytes,
        # Protocol-level pings find dead TCP connections; the hub's own heartbeat (JSON
        # ping/pong) finds devices that stopped answering, within 55 s.
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        # No permessage-deflate: it compresses every frame once per device (the same event
        # twenty times for a chat of twenty), which cost a fifth of the server's CPU in
        # benchmarks/fanout.py, for frames of a few hundred bytes.
        "ws_per_message_deflate": False,
    }


def create_app(ctx: AppContext, *, background: bool = False) -> FastAPI:
    """`background`: also run the due work (report escalation, customer reminders) every
    ZUNFT_DUE_INTERVAL_SECONDS while the app is served (`zunft serve`; tests call run_due)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The hub lives on the server's event loop: it follows the journal and feeds the
        # WebSocket stream (realtime/hub.py).
        hub = Hub(
            ctx,
            ctx.bus,
            buffer_max=ctx.settings.stream_buffer_frames,
            catchup_max=ctx.settings.stream_catchup_max,
            poll_seconds=ctx.settings.stream_poll_seconds,
        )
        await hub.start()
        app.state.hub = hub
        task = (
            asyncio.create_task(run_due_forever(ctx, ctx.settings.due_interval_seconds))
            if background
            else None
        )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            app.state.hub = None
            await hub.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="zunft",
        version=__version__,
        summary="Self-hosted messenger for craft businesses",
        openapi_url=f"{API}/openapi.json",
        # The interactive docs pages load scripts from other hosts; zunft loads nothing from them.
        docs_url=None,
        redoc_url=None,
        # No redirect to the slash-less path: behind a proxy its absolute URL can name the
        # internal host or plain http. "/chats/" is simply not a route.
        redirect_slashes=False,
    )
    app.state.ctx = ctx
    errors.install(app)
    api = APIRouter(prefix=API)
    for module in (
        auth,
        me,
        admin,
        projects,
        chats,
        messages,
        customers,
        reports,
        hours,
        uploads,
        files,
        gallery,
    ):
        api.include_router(module.router)

    @api.get("/health", tags=["ops"], summary="Liveness: the process answers")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    app.include_router(api)
    index_html = (STATIC / "index.html").read_bytes()

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        # A newcomer who opens http://127.0.0.1:8080 sees that zunft runs (German first);
        # the web app (a later issue) replaces this page.
        return Response(index_html, media_type="text/html; charset=utf-8")

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors.document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(
        JsonBodyGuard,
        max_body_bytes=ctx.settings.max_body_bytes,
        stream_prefixes=uploads.STREAM_PREFIXES,
    )
    app.add_middleware(SecurityHeaders)
    _serve_stream_first(app)
    return app


def _serve_stream_first(app: FastAPI) -> None:
    """Hand WebSocket handshakes on /api/v1/stream to the stream before the middleware and
    routing stack (web/routes/stream.py says why); everything else goes through it."""
    build = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        inner = build()

        async def outer(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "websocket" and scope["path"] == stream.STREAM_PATH:
                await stream.stream(scope, receive, send)
            else:
                await inner(scope, receive, send)

        return outer

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
