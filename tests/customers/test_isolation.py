"""A customer sees only their own customer chats: every route of the API, called with a
customer's session and every id of the business, shows nothing outside them; staff routes
answer 403 staff_only. Withdrawal ends access at once and stops staff posting."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.customers.helpers import invite, join, make_project, msg, ok
from tests.factories import Api, Business, journal_entries, login
from tests.web.helpers import assert_error
from zunft.context import AppContext
from zunft.ids import new_id
from zunft.web.deps import CUSTOMER_ROUTES

API = "/api/v1"
METHODS = {"get", "post", "put", "patch", "delete"}
# Routes that need no login: what they answer does not depend on the session.
PUBLIC = {
    ("POST", "/auth/login"),
    ("POST", "/invitations/lookup"),
    ("POST", "/invitations/accept"),
    ("POST", "/customer/invitations/lookup"),
    ("POST", "/customer/invitations/accept"),
    ("POST", "/customer/invitations/decline"),
    ("GET", "/health"),
}
# Ending the walker's own access is tried last, on purpose.
LAST = {("POST", "/auth/logout"), ("POST", "/customer/consent/withdraw")}

# What the customer must never see.
SECRETS = (
    "@mueller.example",  # staff e-mail addresses
    "+49 170 5550123",  # a staff phone number
    "Worker mueller",  # staff outside the customer's chat
    "Office mueller",
    "Apprentice mueller",
    "Kalkulation 18.400",  # the project's team chat
    "Dachsanierung Meier",  # another project
    "Otto Nachbar",  # another customer
    "Geheime Frage von Otto",  # another customer's chat
    "Nur intern",  # a staff invitation's note
)


def _world(ctx: AppContext, client: TestClient, biz: Business) -> dict[str, Any]:
    owner = login(client, biz, "owner")
    worker = login(client, biz, "worker")
    ok(worker.patch("/me", json={"phone": "+49 170 5550123"}))
    project = make_project(owner, biz)
    team_msg = ok(
        owner.post(f"/chats/{project['chat_id']}/messages", json=msg("Kalkulation 18.400 €")),
        201,
    )
    other = ok(owner.post("/projects", json={"name": "Dachsanierung Meier"}), 201)
    other_msg = ok(owner.post(f"/chats/{other['chat_id']}/messages", json=msg("Dach")), 201)
    ok(owner.post("/invitations", json={"role": "worker", "note": "Nur intern"}), 201)
    otto, otto_chat = join(client, invite(owner, other["id"], name="Otto Nachbar")["token"])
    otto_msg = ok(
        otto.post(f"/chats/{otto_chat}/messages", json=msg("Geheime Frage von Otto")), 201
    )
    erika, chat = join(client, invite(owner, project["id"])["token"])
    mine = ok(erika.post(f"/chats/{chat}/messages", json=msg("Wann kommen Sie?")), 201)
    answer = ok(owner.post(f"/chats/{chat}/messages", json=msg("Dienstag.")), 201)
    direct = ok(owner.post("/chats/direct", json={"user_id": biz.users["worker"]}))["id"]
    report = {"client_id": f"r-{new_id()}", "category": "mangel", "text": "Kalkulation 18.400 €"}
    report_id = ok(owner.post(f"/projects/{project['id']}/reports", json=report), 201)["id"]
    rule = {"category": "mangel", "target_kind": "role", "target": "lead"}
    rule_id = ok(owner.post("/routing-rules", json=rule), 201)["id"]
    pending = invite(owner, project["id"], name="Otto Nachbar")["id"]
    sessions = [s["id"] for s in ok(owner.get("/sessions"))["sessions"]]
    pool = [
        chat,
        project["chat_id"],
        other["chat_id"],
        otto_chat,
        direct,
        project["id"],
        other["id"],
        mine["id"],
        answer["id"],
        team_msg["id"],
        other_msg["id"],
        otto_msg["id"],
        report_id,
        rule_id,
        pending,
        *biz.users.values(),
        otto.user_id,
        *sessions,
        new_id(),
    ]
    return {"erika": erika, "chat": chat, "pool": pool, "owner": owner, "otto": otto}


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    doc = client.get(f"{API}/openapi.json").json()
    return [
        (method.upper(), path.removeprefix(API), op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _body(method: str, path: str, op: dict[str, Any], chat: str) -> dict[str, Any] | None:
    if "requestBody" not in op:
        return None
    if path == "/chats/{chat_id}/messages":
        return msg("Noch eine Frage")
    if path == "/chats/{chat_id}/read":
        return {"seq": 1}
    if path == "/messages/{message_id}":
        return {"text": "Geändert"}
    return {}


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret.lower() in text.lower()]


def test_customer_session_sees_only_its_own_chats(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    w = _world(ctx, client, biz)
    erika: Api = w["erika"]
    own_ids = {w["chat"]}
    wrong: list[str] = []
    calls = 0
    operations = _operations(client)
    assert len(operations) >= 40
    for method, path, op in operations:
        if (method, path) in LAST:
            continue
        names = re.findall(r"\{([^}]+)\}", path)
        candidates = [w["pool"]] if names else [[""]]
        for value in candidates[0]:
            if (method, path) == ("DELETE", "/sessions/{session_id}") and value == "":
                continue
            concrete = re.sub(r"\{[^}]+\}", value, path) if names else path
            params = {"q": "Kalkulation Dach Otto Frage"} if path == "/search" else None
            r = erika.client.request(
                method,
                API + concrete,
                json=_body(method, path, op, w["chat"]),
                params=params,
                headers=erika.headers,
            )
            calls += 1
            if r.status_code >= 500:
                wrong.append(f"{method} {concrete}: {r.status_code}")
            if leaks := _leaks(r.text):
                wrong.append(f"{method} {concrete} shows {leaks}: {r.text[:200]}")
            allowed = (method, API + path) in CUSTOMER_ROUTES
            if not allowed and (method, path) not in PUBLIC and r.status_code != 403:
                wrong.append(f"{method} {concrete}: {r.status_code}, not 403 staff_only")
            staff_only = not allowed and (method, path) not in PUBLIC
            if staff_only and r.json()["error"]["code"] != "staff_only":
                wrong.append(f"{method} {concrete}: {r.text[:200]}")
            # Only the customer's own chat, messages and session answer with content.
            foreign = allowed and names and value not in own_ids
            if foreign and r.status_code < 300 and not _is_own(w, method, path, value):
                wrong.append(f"{method} {concrete}: {r.status_code} for someone else's id")
    assert not wrong, "\n".join(wrong)
    assert calls > 300
    # What the customer's lists do show: their chat, and their chat's messages.
    chats = ok(erika.get("/chats"))["chats"]
    assert [c["id"] for c in chats] == [w["chat"]]


def _is_own(w: dict[str, Any], method: str, path: str, value: str) -> bool:
    erika: Api = w["erika"]
    if path.startswith("/messages/"):
        r = erika.get(f"/chats/{w['chat']}/messages")
        return value in {m["id"] for m in r.json()["messages"]}
    if path.startswith("/sessions/"):
        return value in {s["id"] for s in ok(erika.get("/sessions"))["sessions"]}
    return False


def test_staff_routes_refuse_a_customer(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    erika, chat = join(client, invite(owner, project["id"])["token"])
    for method, path, body in [
        ("GET", "/users", None),
        ("GET", "/projects", None),
        ("GET", f"/projects/{project['id']}", None),
        ("POST", "/projects", {"name": "Meins"}),
        ("GET", "/tenant", None),
        ("GET", "/me", None),
        ("GET", f"/chats/{chat}/members", None),
        ("POST", f"/chats/{chat}/members", {"user_id": biz.users["worker"]}),
        ("POST", "/chats/direct", {"user_id": biz.users["owner"]}),
        ("GET", "/customer-questions", None),
        ("GET", "/customer-chats", None),
        ("POST", f"/projects/{project['id']}/customer-invitations", {"name": "Freund"}),
        ("POST", "/consent-texts", {"text": "x" * 200}),
    ]:
        r = erika.client.request(method, API + path, json=body, headers=erika.headers)
        assert_error(r, 403, "staff_only")


def test_staff_cannot_put_a_customer_into_another_chat(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    erika, chat = join(client, invite(owner, project["id"])["token"])
    r = owner.post(f"/chats/{project['chat_id']}/members", json={"user_id": erika.user_id})
    assert_error(r, 404, "not_found")
    assert_error(owner.post("/chats/direct", json={"user_id": erika.user_id}), 404, "not_found")
    r = owner.post("/projects", json={"name": "X", "member_ids": [erika.user_id]})
    assert_error(r, 404, "not_found")
    # Nor take them out of their own chat behind their back; colleagues may join it.
    r = owner.delete(f"/chats/{chat}/members/{erika.user_id}")
    assert_error(r, 403, "customer_fixed")
    r = owner.post(f"/chats/{chat}/members", json={"user_id": biz.users["worker"]})
    assert r.status_code == 204, r.text
    people = {p["name"] for p in ok(erika.get(f"/chats/{chat}/people"))["people"]}
    assert "Worker mueller" in people


def test_withdrawal_ends_access_and_staff_posting(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    token = invite(owner, project["id"])["token"]
    erika, chat = join(client, token)
    ok(erika.post(f"/chats/{chat}/messages", json=msg("Bitte Fliesen in Grau.")), 201)
    r = erika.post("/customer/consent/withdraw")
    assert r.status_code == 204, r.text
    # Access ends at once, on every device.
    assert_error(erika.get("/chats"), 401, "session_invalid")
    assert_error(erika.get("/customer/me"), 401, "session_invalid")
    # Staff see the state, and can no longer post (nor edit) there; history stays.
    lead = login(client, biz, "lead")
    [listed] = [c for c in ok(lead.get("/chats"))["chats"] if c["id"] == chat]
    assert listed["consent_withdrawn"] is True
    [state] = ok(owner.get("/customer-chats"))["chats"]
    assert state["consent_label"] == "Einwilligung widerrufen"
    assert state["can_post"] is False
    for api in (owner, lead):
        r = api.post(f"/chats/{chat}/messages", json=msg("Noch da?"))
        assert_error(r, 409, "consent_withdrawn")
    texts = [m["text"] for m in ok(owner.get(f"/chats/{chat}/messages"))["messages"]]
    assert texts == ["Bitte Fliesen in Grau."]
    [withdrawn] = journal_entries(ctx, biz.tenant_id, "consent.withdrawn")
    assert withdrawn["customer_id"] == erika.user_id
    assert withdrawn["sessions_ended"] == 1
    # The link stays spent: withdrawing is not a way back in.
    r = client.post("/api/v1/customer/invitations/lookup", json={"token": token})
    assert_error(r, 404, "invitation_invalid")
