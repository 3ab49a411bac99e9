"""Every error leaves as JSON: {"error": {"code": stable machine code, "message": readable}}."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from zunft.errors import ZunftError
from zunft.web.guards import SECURITY_HEADERS

log = logging.getLogger(__name__)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **details: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    headers = dict(headers or {})
    if "retry_after" in details:
        headers["Retry-After"] = str(details["retry_after"])
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="zunft"')  # RFC 9110 15.5.2
    return JSONResponse({"error": body}, status_code=status, headers=headers)


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable machine code, e.g. not_found, validation_error.",
                },
                "message": {"type": "string", "description": "For people; may change."},
                "details": {"type": "object", "description": "Depends on the code."},
            },
        }
    },
}


def document_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document tell the truth about errors: FastAPI documents its own 422
    shape ({"detail": [...]}), which this API never sends."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in openapi.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {
                    "description": "Invalid request (validation_error, unknown_field, ...)",
                    "content": content,
                }
            responses["4XX"] = {"description": "Client error; see error.code", "content": content}
    return openapi


def _template_matches(template: str, path: str) -> bool:
    want, got = template.split("/"), path.split("/")
    return len(want) == len(got) and all(
        w == g or (w.startswith("{") and w.endswith("}") and g != "")
        for w, g in zip(want, got, strict=True)
    )


def _allowed_methods(request: Request, starlette_allow: str) -> str:
    """Every method the path answers to. Starlette's Allow names only the first route that
    matched the path (GET /projects hides POST /projects), so the API's routes are asked too."""
    methods = {m.strip() for m in starlette_allow.split(",") if m.strip()}
    app: FastAPI = request.app
    for template, operations in app.openapi()["paths"].items():
        if _template_matches(template, request.url.path):
            methods |= {m.upper() for m in operations if m in _HTTP_METHODS}
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(ZunftError)
    async def _domain(_request: Request, exc: ZunftError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, **exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_json", "The request body is not valid JSON.")
        fields = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "problem": e.get("msg", ""),
            }
            for e in errors
        ]
        if any(e.get("type") == "extra_forbidden" for e in errors):
            return error_response(
                422,
                "unknown_field",
                "The request has fields this API does not know.",
                fields=fields,
            )
        return error_response(422, "validation_error", "Some fields are not valid.", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's only 400: a body its JSON parser gave up on (too deeply nested, an
            # integer with too many digits). The guard has already checked media type and UTF-8.
            return error_response(400, "malformed_json", "The request body is not valid JSON.")
        codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
        return error_response(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        # Starlette answers this one outside every middleware, so SecurityHeaders never sees it.
        return error_response(
            500,
            "internal_error",
            "Something went wrong on the server.",
            headers={k.decode(): v.decode() for k, v in SECURITY_HEADERS},
        )
