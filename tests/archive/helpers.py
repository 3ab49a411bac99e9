"""A project with content worth exporting, made through the API as people would: messages
with umlauts, a reply, an edit, a deletion, a photo, a report and a customer with consent."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.blobs import samples
from tests.factories import Business, login
from zunft.ids import new_id

API = "/api/v1"


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def msg(text: str, **extra: Any) -> dict[str, Any]:
    return {"client_id": f"c-{new_id()}", "text": text, **extra}


@dataclass
class Site:
    project_id: str
    chat_id: str
    customer_id: str
    customer_chat_id: str
    photo_id: str
    photo_bytes: bytes
    direct_chat_id: str
    message_ids: list[str] = field(default_factory=list)


def build_site(client: TestClient, biz: Business, *, word: str = "Heizkörper") -> Site:
    owner, worker = login(client, biz, "owner"), login(client, biz, "worker")
    project = ok(
        owner.post(
            "/projects",
            json={
                "name": f"Bad Müller {word}",
                "address": "Hauptstraße 1",
                "member_ids": [biz.users["worker"], biz.users["lead"]],
            },
        ),
        201,
    )
    chat = project["chat_id"]
    first = ok(
        worker.post(f"/chats/{chat}/messages", json=msg(f"{word} ist geliefert, Größe passt")),
        201,
    )
    reply = ok(
        owner.post(f"/chats/{chat}/messages", json=msg("Schön, danke!", reply_to_id=first["id"])),
        201,
    )
    ok(owner.patch(f"/messages/{reply['id']}", json={"text": "Schön, vielen Dank!"}))
    gone = ok(worker.post(f"/chats/{chat}/messages", json=msg("Falscher Chat, sorry")), 201)
    ok(worker.delete(f"/messages/{gone['id']}"))
    photo_bytes = samples.photo(64, 48)
    photo = ok(
        worker.client.post(
            f"{API}/uploads/single",
            params={"chat_id": chat, "name": "Baustelle Küche.jpg"},
            content=photo_bytes,
            headers=worker.headers,
        ),
        201,
    )
    with_photo = ok(
        worker.post(f"/chats/{chat}/messages", json=msg("Foto vom Bad", attachments=[photo["id"]])),
        201,
    )
    report = {"client_id": f"r-{new_id()}", "category": "mangel", "text": "Fliese gesprungen"}
    ok(owner.post(f"/projects/{project['id']}/reports", json=report), 201)
    path = f"/projects/{project['id']}/customer-invitations"
    token = ok(owner.post(path, json={"name": "Erika Zander"}), 201)["token"]
    lookup = ok(client.post(f"{API}/customer/invitations/lookup", json={"token": token}))
    consent = lookup["consent"]
    joined = ok(
        client.post(
            f"{API}/customer/invitations/accept",
            json={
                "token": token,
                "consent_version": consent["version"],
                "consent_sha256": consent["sha256"],
                "session_kind": "bearer",
            },
        ),
        201,
    )
    direct = ok(owner.post("/chats/direct", json={"user_id": biz.users["worker"]}))["id"]
    ok(worker.post(f"/chats/{direct}/messages", json=msg("Privat: Urlaub im Mai?")), 201)
    return Site(
        project_id=project["id"],
        chat_id=chat,
        customer_id=joined["user_id"],
        customer_chat_id=joined["chat_id"],
        photo_id=photo["id"],
        photo_bytes=photo_bytes,
        direct_chat_id=direct,
        message_ids=[first["id"], reply["id"], gone["id"], with_photo["id"]],
    )


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def read(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


def rewrite(src: Path, dst: Path, change: Any) -> None:
    """Copy a ZIP member by member; `change(name, data)` returns (name, data) or None to
    leave the member out."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            result = change(info.filename, zin.read(info))
            if result is not None:
                zout.writestr(result[0], result[1])
