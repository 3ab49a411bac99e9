"""Builds the ASGI application from an AppContext."""

from __future__ import annotations

import asyncio
import gc
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from zunft import __version__
from zunft.archive.jobs import ExportJobs
from zunft.context import AppContext
from zunft.due import run_due_forever
from zunft.realtime.hub import Hub
from zunft.web import errors
from zunft.web.guards import JsonBodyGuard, SecurityHeaders
from zunft.web.routes import (
    admin,
    archive,
    auth,
    chats,
    compliance,
    customers,
    documents,
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


def freeze_startup_heap() -> None:
    """Leave the objects of a started server (modules, routes, compiled statements: most
    of the heap) out of every later garbage collection. Without this, each full collection
    walked them all and stopped the server for about 100 ms under load, the slowest
    1 % of W1's deliveries (docs/performance.md, 2026-11-29, second section)."""
    gc.collect()
    gc.freeze()


def create_app(ctx: AppContext, *, background: bool = False) -> FastAPI:
    """`background`: the app is what this process serves (`zunft serve`): it also runs the
    due work (report escalation, customer reminders, erasure) every
    ZUNFT_DUE_INTERVAL_SECONDS (tests call run_due) and, once started, leaves its heap out
    of garbage collection (freeze_startup_heap)."""

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
        if background:
            freeze_startup_heap()
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
            await asyncio.to_thread(app.state.exports.close)  # running exports end

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
    app.state.exports = ExportJobs(ctx)  # archive exports run outside requests (archive/jobs.py)
    errors.install(app)
    api = APIRouter(prefix=API)
    # Each router straight on the app (not nested in `api`), the busiest first: FastAPI tries
    # routes one by one, and matching cost more than the rest of a send's request handling
    # (docs/performance.md, "HTTP"). No two routes can match one path
    # (tests/web/test_openapi.py), so the order changes speed only.
    for module in (
        messages,
        auth,
        me,
        admin,
        projects,
        chats,
        customers,
        reports,
        hours,
        uploads,
        files,
        gallery,
        documents,
        archive,
        compliance,
    ):
        app.include_router(module.router, prefix=API)

    @api.get("/health", tags=["ops"], summary="Liveness: the process answers")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    app.include_router(api)
    _serve_webapp(app)

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


# The web app (PWA): plain files under static/, read once at start-up. Content types by
# extension; everything else is not served.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}
# Served at the root (the service worker's scope is the folder it is served from).
ROOT_FILES = ("sw.js", "manifest.webmanifest")


def load_static(root: Path = STATIC) -> dict[str, tuple[bytes, str, str]]:
    """URL path -> (body, media type, ETag) for every file of the web app."""
    files: dict[str, tuple[bytes, str, str]] = {}
    for path in sorted(root.rglob("*")):
        media = MEDIA_TYPES.get(path.suffix)
        if not path.is_file() or media is None:
            continue
        rel = path.relative_to(root).as_posix()
        url = "/" if rel == "index.html" else f"/{rel}"
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        files[url] = (body, media, etag)
    return files


def _serve_webapp(app: FastAPI) -> None:
    files = load_static()

    def serve(url: str, request: Request) -> Response:
        found = files.get(url)
        if found is None:
            return Response(
                b'{"error":{"code":"not_found","message":"Not found."}}',
                status_code=404,
                media_type="application/json",
            )
        body, media, etag = found
        # Revalidate every time (a 304 costs one round trip): an update reaches every phone
        # at once, and offline the service worker answers from its cache anyway.
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media, headers=headers)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        return serve("/", request)

    # A customer's invitation link (customers/mail.py: /kunde#<token>) opens the same shell;
    # the app sees the path and shows the customer's screens.
    @app.get("/kunde", include_in_schema=False)
    def customer_page(request: Request) -> Response:
        return serve("/", request)

    def root_route(url: str) -> Callable[[Request], Response]:
        def root_file(request: Request) -> Response:
            return serve(url, request)

        return root_file

    for name in ROOT_FILES:
        url = f"/{name}"
        app.add_api_route(url, root_route(url), methods=["GET"], include_in_schema=False)

    @app.get("/app/{path:path}", include_in_schema=False)
    def app_file(path: str, request: Request) -> Response:
        return serve(f"/app/{path}", request)
