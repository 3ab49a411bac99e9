"""Builds the ASGI application from an AppContext."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Response

from zunft import __version__
from zunft.context import AppContext
from zunft.web import errors
from zunft.web.guards import JsonBodyGuard, SecurityHeaders
from zunft.web.routes import (
    admin,
    auth,
    chats,
    files,
    gallery,
    me,
    messages,
    projects,
    uploads,
)

API = "/api/v1"
STATIC = Path(__file__).parent / "static"


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
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
    for module in (auth, me, admin, projects, chats, messages, uploads, files, gallery):
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
    return app
