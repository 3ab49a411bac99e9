"""Domain errors with a stable machine code. The web layer turns them into JSON error bodies:
{"error": {"code": "...", "message": "..."}}; the code never changes once released."""

from __future__ import annotations

from typing import Any


class ZunftError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class Invalid(ZunftError):
    status = 422
    code = "validation_error"


class NotFound(ZunftError):
    """Also what an id of another business gets: it must look exactly like a missing one."""

    status = 404
    code = "not_found"


class Unauthenticated(ZunftError):
    status = 401
    code = "unauthenticated"


class Forbidden(ZunftError):
    status = 403
    code = "forbidden"


class Conflict(ZunftError):
    status = 409
    code = "conflict"


class TooManyAttempts(ZunftError):
    status = 429
    code = "too_many_attempts"
