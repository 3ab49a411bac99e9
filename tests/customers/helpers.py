"""Shared by the customer tests: a project, an invitation, and a customer who joined."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Api, Business, login
from zunft.ids import new_id


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def make_project(owner: Api, biz: Business, name: str = "Bad Familie Zander") -> dict[str, Any]:
    body = {
        "name": name,
        "address": "Lindenweg 3",
        "lead_id": biz.users["lead"],
        "member_ids": [biz.users["worker"]],
    }
    return dict(ok(owner.post("/projects", json=body), 201))


def invite(staff: Api, project_id: str, name: str = "Erika Zander", **extra: Any) -> dict[str, Any]:
    body = {"name": name, "client_id": f"inv-{new_id()}", **extra}
    return dict(ok(staff.post(f"/projects/{project_id}/customer-invitations", json=body), 201))


def lookup(client: TestClient, token: str) -> Any:
    return client.post("/api/v1/customer/invitations/lookup", json={"token": token})


def accept(client: TestClient, token: str, consent: dict[str, Any], **extra: Any) -> Any:
    body = {
        "token": token,
        "consent_version": consent["version"],
        "consent_sha256": consent["sha256"],
        "device_name": "Erikas Telefon",
        "session_kind": "bearer",
        **extra,
    }
    return client.post("/api/v1/customer/invitations/accept", json=body)


def join(client: TestClient, token: str) -> tuple[Api, str]:
    """Look the link up, accept the consent shown, and return the customer's API and chat."""
    consent = ok(lookup(client, token))["consent"]
    out = ok(accept(client, token, consent), 201)
    return Api(client, out["token"], out["user_id"]), str(out["chat_id"])


def customer_world(client: TestClient, biz: Business) -> dict[str, Any]:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    inv = invite(owner, project["id"])
    customer, chat = join(client, inv["token"])
    return {"owner": owner, "project": project, "customer": customer, "chat": chat}


def msg(text: str) -> dict[str, Any]:
    return {"client_id": f"m-{new_id()}", "text": text}
