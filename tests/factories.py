"""Builders for test data: a business with one person per role, and API clients logged in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from zunft.accounts.actor import ROLES, Actor
from zunft.accounts.users import do_create_user
from zunft.context import AppContext
from zunft.tenants.service import do_create_tenant

PASSWORD = "Richtig-langes-Kennwort-42"


@dataclass
class Business:
    tenant_id: str
    slug: str
    users: dict[str, str] = field(default_factory=dict)  # role -> user id
    emails: dict[str, str] = field(default_factory=dict)  # role -> e-mail

    def actor(self, role: str) -> Actor:
        return Actor(self.tenant_id, self.users[role], role)


def make_business(
    ctx: AppContext, slug: str = "mueller", name: str = "Müller Haustechnik GmbH"
) -> Business:
    pw_hash = ctx.hasher.hash(PASSWORD)
    biz = Business("", slug)

    def build(tx: Any) -> None:
        biz.tenant_id = do_create_tenant(tx, slug=slug, name=name)
        for role in ROLES:
            email = f"{role}@{slug}.example"
            biz.users[role] = do_create_user(
                tx,
                tenant_id=biz.tenant_id,
                role=role,
                name=f"{role.title()} {slug}",
                email=email,
                password_hash=pw_hash,
            )
            biz.emails[role] = email

    ctx.write(build)
    return biz


class Api:
    """A TestClient logged in with a bearer token (no cookies, no CSRF)."""

    def __init__(self, client: TestClient, token: str, user_id: str) -> None:
        self.client = client
        self.token = token
        self.user_id = user_id
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(f"/api/v1{path}", json=json, headers=self.headers, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.put(f"/api/v1{path}", json=json, headers=self.headers, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(f"/api/v1{path}", json=json, headers=self.headers, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self.headers, **kw)


def login(client: TestClient, biz: Business, role: str, device: str = "Testgerät") -> Api:
    r = client.post(
        "/api/v1/auth/login",
        json={
            "tenant": biz.slug,
            "email": biz.emails[role],
            "password": PASSWORD,
            "device_name": device,
            "session_kind": "bearer",
        },
    )
    assert r.status_code == 200, r.text
    return Api(client, r.json()["token"], biz.users[role])


def general_chat(ctx: AppContext, biz: Business) -> str:
    """The business's "Allgemein" channel."""
    from sqlalchemy import select

    from zunft.db import schema as s

    return str(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(s.chats.c.id).where(
                    s.chats.c.tenant_id == biz.tenant_id, s.chats.c.is_default.is_(True)
                )
            ).scalar_one()
        )
    )


def journal_kinds(ctx: AppContext, tenant_id: str) -> list[str]:
    from sqlalchemy import select

    from zunft.db import schema as s

    return list(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(s.journal.c.kind)
                .where(s.journal.c.tenant_id == tenant_id)
                .order_by(s.journal.c.seq)
            ).scalars()
        )
    )


def journal_entries(ctx: AppContext, tenant_id: str, kind: str) -> list[dict[str, Any]]:
    """The decrypted payloads of a tenant's journal entries of one kind, oldest first, each
    with the entry's actor as "_actor"."""
    import json

    from sqlalchemy import select

    from zunft.db import schema as s

    j, p = s.journal, s.journal_payloads
    rows = ctx.read(
        lambda rx: rx.conn.execute(
            select(j.c.seq, j.c.actor_id, p.c.payload_enc)
            .join(p, (p.c.tenant_id == j.c.tenant_id) & (p.c.seq == j.c.seq))
            .where(j.c.tenant_id == tenant_id, j.c.kind == kind)
            .order_by(j.c.seq)
        ).all()
    )
    cipher = ctx.keys.cipher(tenant_id)
    return [
        {**json.loads(cipher.decrypt(f"journal/{r.seq}", r.payload_enc)), "_actor": r.actor_id}
        for r in rows
    ]


def error(response: Any) -> tuple[int, str]:
    """(status, error code) of an API error response."""
    return response.status_code, response.json()["error"]["code"]
