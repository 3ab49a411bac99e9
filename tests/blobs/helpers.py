"""Shared by the media tests: uploading through the API and looking into the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tests.factories import Api
from zunft.context import AppContext
from zunft.db import schema as s


def upload(api: Api, chat_id: str, data: bytes, name: str = "foto.jpg", **params: str) -> Any:
    """A single-request upload; returns the response."""
    return api.client.post(
        "/api/v1/uploads/single",
        params={"chat_id": chat_id, "name": name, **params},
        content=data,
        headers={**api.headers, "Content-Type": "application/octet-stream"},
    )


def uploaded(api: Api, chat_id: str, data: bytes, name: str = "foto.jpg", **params: str) -> Any:
    r = upload(api, chat_id, data, name, **params)
    assert r.status_code == 201, r.text
    return r.json()


def stored_keys(ctx: AppContext) -> list[str]:
    assert ctx.blobs is not None
    return list(ctx.blobs.keys(""))


def media_rows(ctx: AppContext) -> dict[str, int]:
    def count(rx: Any) -> dict[str, int]:
        return {
            t.name: int(rx.conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (s.uploads, s.blobs, s.blob_tags, s.message_attachments, s.journal)
        }

    return ctx.read(count)


def fetch(api: Api, path: str, **headers: str) -> Any:
    """GET with extra headers (Range, If-None-Match, ...)."""
    return api.client.get(f"/api/v1{path}", headers={**api.headers, **headers})
