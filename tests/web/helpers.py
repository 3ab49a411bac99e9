"""Shared by the web tests: the error shape, raw requests, and row counts that prove a
rejected write stored nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from tests.factories import Api
from zunft.context import AppContext
from zunft.db import schema as s

# Every table a write can add rows to. The brief's minimum is journal and messages; the others
# catch a half-done write that left, say, an index entry or a stored idempotent answer behind.
WRITTEN_TABLES = (
    s.journal,
    s.journal_payloads,
    s.messages,
    s.message_revisions,
    s.client_writes,
    s.chats,
    s.chat_members,
    s.projects,
    s.invitations,
    s.uploads,
    s.blobs,
    s.blob_tags,
    s.message_attachments,
)


def row_counts(ctx: AppContext) -> dict[str, int]:
    def count(rx: Any) -> dict[str, int]:
        return {
            t.name: int(rx.conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in WRITTEN_TABLES
        }

    return ctx.read(count)


@contextmanager
def nothing_stored(ctx: AppContext) -> Iterator[None]:
    before = row_counts(ctx)
    yield
    after = row_counts(ctx)
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the documented error shape with this status and stable code."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    return error


def raw(
    api: Api,
    method: str,
    path: str,
    content: Any,
    content_type: str | None = "application/json",
    **headers: str,
) -> Any:
    """A request with a body given as bytes (or a generator of bytes), not as JSON."""
    all_headers = dict(api.headers)
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    all_headers.update(headers)
    return api.client.request(method, f"/api/v1{path}", content=content, headers=all_headers)


def general_chat_id(api: Api) -> str:
    """The "Allgemein" channel, as the API lists it."""
    r = api.get("/chats")
    assert r.status_code == 200, r.text
    [chat] = [c for c in r.json()["chats"] if c["kind"] == "channel" and c["title"] == "Allgemein"]
    return str(chat["id"])
