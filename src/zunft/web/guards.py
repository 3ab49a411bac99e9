"""ASGI middleware that checks a request before any route sees it: a NUL character in the path
or query, and a JSON body's size, media type and UTF-8. Rejected requests never reach a domain
function, so nothing is half-stored."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    # The API's policy; the middleware puts the web app's in on the app's pages.
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class JsonBodyGuard:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, stream_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max = max_body_bytes
        # Paths whose routes read a raw body themselves, streaming (file uploads): they check
        # its size and type on their own and must not be buffered here.
        self.stream_prefixes = stream_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"]
            or b"\x00" in scope["query_string"]
            or b"%00" in scope["query_string"]
        ):
            # No id, word or name contains NUL, and PostgreSQL refuses it in any text parameter.
            await _send_error(
                send, 400, "invalid_characters", "The address contains a NUL character."
            )
            return
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or not scope["path"].startswith("/api/")
            or scope["path"].startswith(self.stream_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max:
            await _send_error(
                send, 413, "body_too_large", f"The request body exceeds {self.max} bytes."
            )
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max:
                await _send_error(
                    send, 413, "body_too_large", f"The request body exceeds {self.max} bytes."
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media != b"application/json":
                await _send_error(
                    send, 415, "unsupported_media_type", "Send the body as application/json."
                )
                return
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                await _send_error(send, 400, "invalid_utf8", "The request body is not valid UTF-8.")
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


API_CSP = SECURITY_HEADERS[-1][1]
# The web app: its own scripts, styles, images and manifest, and the same-origin API and
# stream; no inline script or style, nothing from any other host.
APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "font-src 'self'; manifest-src 'self'; worker-src 'self'; connect-src 'self'{ws}; "
    "media-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HOST = re.compile(rb"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def content_security_policy(scope: Scope) -> bytes:
    """The policy for a response: the API's pages load nothing at all; the web app's pages
    load only from this server. The stream's ws:/wss: address is named explicitly (older
    browsers do not count it as 'self'); the Host is used only when it is a plain host name."""
    if scope["path"].startswith("/api/"):
        return API_CSP
    host = dict(scope["headers"]).get(b"host", b"")
    ws = ""
    if _HOST.fullmatch(host):
        name = host.decode()
        ws = f" ws://{name} wss://{name}"
    return APP_CSP.format(ws=ws).encode()


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", [])}
                extra: list[Any] = [
                    (k, content_security_policy(scope) if k == b"content-security-policy" else v)
                    for k, v in SECURITY_HEADERS
                    if k not in existing
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
