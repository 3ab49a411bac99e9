"""Tenant isolation at the API: an id of another business answers exactly as an id that does
not exist, and no other business's data ever appears in an answer.

The walk covers every operation in the OpenAPI document that takes a path parameter; a new one
fails `test_walk_table_covers_every_operation_with_a_path_parameter` until it is added to OPS.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.blobs import samples
from tests.factories import Api, Business, login, make_business
from tests.web.helpers import general_chat_id
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.ids import new_id

API = "/api/v1"


def _msg(text: str, **extra: Any) -> dict[str, Any]:
    return {"client_id": f"c-{new_id()}", "text": text, **extra}


# Body of each operation with a path parameter, given business A's ids (so that the path
# parameter under test is the only thing wrong with the request); None: the operation has no
# body. Bodies are fresh per call (client ids must not repeat).
Ids = dict[str, str]
OPS: dict[tuple[str, str], Callable[[Ids], dict[str, Any]] | None] = {
    ("DELETE", "/sessions/{session_id}"): None,
    ("PATCH", "/users/{user_id}"): lambda a: {"role": "lead"},
    ("DELETE", "/invitations/{invitation_id}"): None,
    ("GET", "/projects/{project_id}"): None,
    ("PATCH", "/projects/{project_id}"): lambda a: {"name": "Umbenannt"},
    ("POST", "/projects/{project_id}/members"): lambda a: {"user_id": a["apprentice"]},
    ("DELETE", "/projects/{project_id}/members/{user_id}"): None,
    ("GET", "/chats/{chat_id}"): None,
    ("GET", "/chats/{chat_id}/members"): None,
    ("POST", "/chats/{chat_id}/members"): lambda a: {"user_id": a["apprentice"]},
    ("DELETE", "/chats/{chat_id}/members/{user_id}"): None,
    ("POST", "/chats/{chat_id}/read"): lambda a: {"seq": 1},
    ("GET", "/chats/{chat_id}/messages"): None,
    ("POST", "/chats/{chat_id}/messages"): lambda a: _msg("Hallo"),
    ("PATCH", "/messages/{message_id}"): lambda a: {"text": "Geändert"},
    ("DELETE", "/messages/{message_id}"): None,
    ("GET", "/messages/{message_id}/revisions"): None,
    # Customers, reports and working hours (issue 6).
    ("POST", "/projects/{project_id}/customer-invitations"): lambda a: {"name": "Kundin"},
    ("GET", "/projects/{project_id}/customer-invitations"): None,
    ("DELETE", "/customer-invitations/{invitation_id}"): None,
    ("GET", "/chats/{chat_id}/people"): None,
    ("POST", "/customer-chats/{chat_id}/device-links"): lambda a: {},
    ("DELETE", "/routing-rules/{rule_id}"): None,
    ("POST", "/projects/{project_id}/reports"): lambda a: {
        "client_id": f"r-{new_id()}",
        "category": "mangel",
        "text": "Riss",
    },
    ("GET", "/projects/{project_id}/reports"): None,
    ("GET", "/reports/{report_id}"): None,
    ("POST", "/reports/{report_id}/acknowledge"): None,
    ("POST", "/reports/{report_id}/status"): lambda a: {"status": "in_arbeit"},
    ("GET", "/users/{user_id}/working-hours"): None,
    ("PUT", "/users/{user_id}/working-hours"): lambda a: {"hours": None},
    ("GET", "/users/{user_id}/notify-now"): None,
    ("GET", "/files/{file_id}"): None,
    ("PATCH", "/files/{file_id}"): lambda a: {"caption": "Neu", "tags": ["vorher"]},
    ("GET", "/projects/{project_id}/gallery"): None,
    ("GET", "/projects/{project_id}/report"): None,
    ("GET", "/files/{file_id}/content"): None,
    ("GET", "/files/{file_id}/preview"): None,
    ("HEAD", "/uploads/{upload_id}"): None,
    ("PATCH", "/uploads/{upload_id}"): lambda a: {},  # bytes in truth; the id fails first
    ("DELETE", "/uploads/{upload_id}"): None,
    # Archive exports (issue 7).
    ("GET", "/archive/exports/{export_id}"): None,
    ("GET", "/archive/exports/{export_id}/download"): None,
    # Retention, legal holds, GDPR requests (issue 7).
    ("GET", "/messages/{message_id}/class"): None,
    ("PUT", "/messages/{message_id}/class"): lambda a: {"doc_class": "buchungsbeleg"},
    ("PUT", "/files/{file_id}/class"): lambda a: {"doc_class": "buchungsbeleg"},
    ("PUT", "/chats/{chat_id}/class"): lambda a: {"doc_class": "buchungsbeleg"},
    ("POST", "/compliance/holds/{hold_id}/lift"): None,
    ("POST", "/compliance/people/{user_id}/access-export"): None,
    ("POST", "/compliance/people/{user_id}/erasure"): None,
    ("GET", "/compliance/requests/{request_id}/answer"): None,
}
# Operations with a path parameter that are not walked, each with the reason.
EXEMPT = {
    # The name is one of three fixed documents, always of the caller's own business
    # (tests/archive/test_documents.py checks another business's people never show).
    ("GET", "/archive/documents/{name}"): "fixed names, no id of another business",
}
# Required query parameters of parameterless GETs, for the listing sweep.
QUERIES = {"/search": {"q": "Zugangscode Tresor"}}

# Business B's data: none of it may show in an answer to business A.
B_SECRETS = (
    "Schulz",  # business name, slug, e-mail domain, user names ("Owner schulz")
    "Villa Sonnenschein",
    "Geheimweg 7",
    "Familie Zander",
    "Zugangscode Tresor 4711",
    "Nur intern bei Schulz",
)


@dataclass
class World:
    a: Business
    b: Business
    apis: dict[str, Api]  # business A by role
    a_ids: Ids  # path parameter name (or role) -> one of A's own ids
    b_ids: dict[str, list[str]] = field(default_factory=dict)  # parameter -> B's real ids

    def b_everything(self) -> set[str]:
        return {i for ids in self.b_ids.values() for i in ids} | {self.b.tenant_id}


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def _session_id(api: Api) -> str:
    [current] = [x for x in _ok(api.get("/sessions"))["sessions"] if x["current"]]
    return str(current["id"])


def _populate(client: TestClient, biz: Business) -> dict[str, list[str]]:
    """A project with its chat, messages (one edited), a direct chat and an open invitation,
    made through the API by the business's owner. Returns the ids by path parameter name."""
    owner, worker = login(client, biz, "owner"), login(client, biz, "worker")
    secret = biz.slug == "schulz"
    project = _ok(
        owner.post(
            "/projects",
            json={
                "name": "Villa Sonnenschein" if secret else "Neubau Kita",
                "address": "Geheimweg 7" if secret else "Hauptstraße 1",
                "customer_name": "Familie Zander" if secret else "Stadt",
                "member_ids": [biz.users["worker"], biz.users["lead"]],
            },
        ),
        201,
    )
    text = "Zugangscode Tresor 4711" if secret else "Gerüst steht"
    chat = project["chat_id"]
    message = _ok(owner.post(f"/chats/{chat}/messages", json=_msg(text)), 201)
    _ok(owner.patch(f"/messages/{message['id']}", json={"text": text + "!"}))
    direct = _ok(owner.post("/chats/direct", json={"user_id": biz.users["worker"]}))["id"]
    direct_msg = _ok(worker.post(f"/chats/{direct}/messages", json=_msg(text)), 201)
    note = "Nur intern bei Schulz" if secret else "Neuer Azubi"
    invitation = _ok(owner.post("/invitations", json={"role": "worker", "note": note}), 201)
    # A customer chat, an open customer invitation, a routing rule and a report (issue 6).
    guest = "Familie Zander" if secret else "Stadtverwaltung"
    path = f"/projects/{project['id']}/customer-invitations"
    token = _ok(owner.post(path, json={"name": guest}), 201)["token"]
    lookup = _ok(owner.client.post(f"{API}/customer/invitations/lookup", json={"token": token}))
    consent = lookup["consent"]
    accept = {"token": token, "consent_version": consent["version"]}
    accept |= {"consent_sha256": consent["sha256"], "session_kind": "bearer"}
    joined = _ok(owner.client.post(f"{API}/customer/invitations/accept", json=accept), 201)
    open_invitation = _ok(owner.post(path, json={"name": guest}), 201)
    rule = _ok(
        owner.post(
            "/routing-rules",
            json={"category": "mangel", "target_kind": "user", "target": biz.users["lead"]},
        ),
        201,
    )
    report = {"client_id": f"r-{new_id()}", "category": "mangel", "text": text}
    report_id = _ok(owner.post(f"/projects/{project['id']}/reports", json=report), 201)["id"]
    photo = owner.client.post(
        f"{API}/uploads/single",
        params={"chat_id": chat, "name": "Villa Sonnenschein.jpg" if secret else "Kita.jpg"},
        content=samples.photo(64, 48),
        headers=owner.headers,
    )
    tus = owner.client.post(
        f"{API}/uploads",
        headers={
            **owner.headers,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "1000",
            "Upload-Metadata": "chat_id " + base64.b64encode(chat.encode()).decode(),
        },
    )
    assert tus.status_code == 201, tus.text
    export = _ok(owner.post("/archive/exports", json={}), 202)["id"]
    assert client.app.state.exports.wait(export)  # type: ignore[attr-defined]
    # A GDPR erasure request for the customer, and a legal hold on the project (issue 7).
    erasure = _ok(owner.post(f"/compliance/people/{joined['user_id']}/erasure"))
    hold = {"target_kind": "project", "target_id": project["id"], "reason": "Az 1/26"}
    hold_id = _ok(owner.post("/compliance/holds", json=hold), 201)["id"]
    return {
        "export_id": [export],
        "file_id": [_ok(photo, 201)["id"]],
        "upload_id": [tus.headers["location"].rsplit("/", 1)[1]],
        "project_id": [project["id"]],
        "chat_id": [chat, general_chat_id(owner), direct, joined["chat_id"]],
        "message_id": [message["id"], direct_msg["id"]],
        "invitation_id": [invitation["id"], open_invitation["id"]],
        "rule_id": [rule["id"]],
        "report_id": [report_id],
        "session_id": [_session_id(owner), _session_id(worker)],
        "user_id": [biz.users[r] for r in ("owner", "worker", "apprentice")],
        "hold_id": [hold_id],
        "request_id": [erasure["request_id"]],
    }


@pytest.fixture
def world(ctx: AppContext, client: TestClient, biz: Business) -> World:
    b = make_business(ctx, slug="schulz", name="Schulz Elektro")
    b_ids = _populate(client, b)
    a_lists = _populate(client, biz)
    apis = {role: login(client, biz, role) for role in ("owner", "office", "worker")}
    a_ids = {param: ids[0] for param, ids in a_lists.items()}
    a_ids["apprentice"] = biz.users["apprentice"]
    a_ids["user_id"] = biz.users["worker"]  # a member of A's project chat
    return World(biz, b, apis, a_ids, b_ids)


def _b_journal_length(ctx: AppContext, b: Business) -> int:
    return int(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(func.count()).where(s.journal.c.tenant_id == b.tenant_id)
            ).scalar_one()
        )
    )


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path.removeprefix(API), op


def _path_params(op: dict[str, Any]) -> list[str]:
    return [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]


def test_walk_table_covers_every_operation_with_a_path_parameter(client: TestClient) -> None:
    doc = client.get(f"{API}/openapi.json").json()
    with_params = {(m, p): op for m, p, op in _operations(doc) if _path_params(op)}
    missing = set(with_params) - set(OPS) - set(EXEMPT)
    assert not missing, f"add these to OPS in {__file__} (with a body if they take one): {missing}"
    stale = (set(OPS) | set(EXEMPT)) - set(with_params)
    assert not stale, f"these are no longer in the API: {stale}"
    for key, body in OPS.items():
        takes_body = "requestBody" in with_params[key]
        assert takes_body == (body is not None), f"{key}: the table's body does not fit the API"


def _variants(
    template: str, world: World
) -> Iterator[tuple[dict[str, str], dict[str, str], list[str]]]:
    """Pairs of path parameter values, (with B's real id, with an unknown id), and the ids that
    differ. One parameter at a time (the others A's own), then all at once."""
    names = [n[1:-1] for n in template.split("/") if n.startswith("{")]
    for name in names:
        for b_id in world.b_ids[name]:
            fresh = new_id()
            base = {n: world.a_ids[n] for n in names}
            yield {**base, name: b_id}, {**base, name: fresh}, [b_id, fresh]
    if len(names) > 1:
        for b_combo in itertools.product(*(world.b_ids[n] for n in names)):
            fresh = {n: new_id() for n in names}
            yield dict(zip(names, b_combo, strict=True)), fresh, [*b_combo, *fresh.values()]


def _normalised(r: Any, ids: list[str]) -> tuple[int, str]:
    text = r.text
    for i in ids:
        text = text.replace(i, "<id>")
    return r.status_code, text


def _leaks(text: str, world: World, sent: list[str]) -> list[str]:
    lowered = text.lower()
    found = [x for x in B_SECRETS if x.lower() in lowered]
    return found + [i for i in world.b_everything() - set(sent) if i in text]


@pytest.mark.parametrize("role", ["owner", "worker"])
def test_other_business_ids_answer_like_unknown_ids(
    ctx: AppContext, world: World, role: str
) -> None:
    api = world.apis[role]
    doc = api.client.get(f"{API}/openapi.json").json()
    journal_b = _b_journal_length(ctx, world.b)
    wrong: list[str] = []
    calls = 0
    for method, template, op in _operations(doc):
        if not _path_params(op) or (method, template) in EXEMPT:
            continue
        assert (method, template) in OPS, f"{method} {template}: add it to OPS"
        body = OPS[method, template]
        for with_b, with_unknown, ids in _variants(template, world):
            answers = []
            for values in (with_b, with_unknown):
                path = API + template.format(**values)
                json = body(world.a_ids) if body else None
                r = api.client.request(method, path, json=json, headers=api.headers)
                calls += 1
                answers.append(r)
                if r.status_code >= 500:
                    wrong.append(f"{method} {path}: {r.status_code}")
                if leaks := _leaks(r.text, world, ids):
                    wrong.append(f"{method} {path}: shows B's {leaks}: {r.text[:200]}")
                # The owner may do everything, so only the lookup can refuse: a 404. (This also
                # proves each table body is valid: a bad one would be a 422 for both.)
                if role == "owner" and r.status_code != 404:
                    wrong.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
            b_answer, unknown_answer = (_normalised(r, ids) for r in answers)
            if b_answer != unknown_answer:
                wrong.append(f"{method} {template} {with_b}: {b_answer} != {unknown_answer}")
    assert not wrong, "\n".join(wrong)
    assert calls >= 2 * len(OPS)
    assert _b_journal_length(ctx, world.b) == journal_b  # nothing was done to B


def test_b_ids_are_real(client: TestClient, world: World) -> None:
    """The walk proves nothing if B's ids were not real: B's owner sees every one of them."""
    b_owner = login(client, world.b, "owner")
    for chat in world.b_ids["chat_id"]:
        _ok(b_owner.get(f"/chats/{chat}"))
    for project in world.b_ids["project_id"]:
        assert _ok(b_owner.get(f"/projects/{project}"))["name"] == "Villa Sonnenschein"
    for message in world.b_ids["message_id"][:1]:
        assert len(_ok(b_owner.get(f"/messages/{message}/revisions"))["revisions"]) == 1
    users = {u["id"] for u in _ok(b_owner.get("/users"))["users"]}
    assert set(world.b_ids["user_id"]) <= users
    invitations = {i["id"] for i in _ok(b_owner.get("/invitations"))["invitations"]}
    assert set(world.b_ids["invitation_id"][:1]) <= invitations
    [project] = world.b_ids["project_id"]
    customer_invitations = _ok(b_owner.get(f"/projects/{project}/customer-invitations"))
    assert world.b_ids["invitation_id"][1] in {i["id"] for i in customer_invitations["invitations"]}
    assert world.b_ids["rule_id"][0] in {
        r["id"] for r in _ok(b_owner.get("/routing-rules"))["rules"]
    }
    _ok(b_owner.get(f"/reports/{world.b_ids['report_id'][0]}"))
    sessions = {x["id"] for x in _ok(b_owner.get("/sessions"))["sessions"]}
    assert world.b_ids["session_id"][0] in sessions


# Ids of other businesses inside bodies and query strings: (method, path, request given an id).
# Path {placeholders} are A's own ids.
BODY_IDS: list[tuple[str, str, str, Callable[[str], dict[str, Any]]]] = [
    ("user_id", "POST", "/projects", lambda i: {"json": {"name": "X", "member_ids": [i]}}),
    ("user_id", "POST", "/projects", lambda i: {"json": {"name": "X", "lead_id": i}}),
    ("user_id", "PATCH", "/projects/{project_id}", lambda i: {"json": {"lead_id": i}}),
    ("user_id", "POST", "/projects/{project_id}/members", lambda i: {"json": {"user_id": i}}),
    ("user_id", "POST", "/chats/channels", lambda i: {"json": {"title": "X", "member_ids": [i]}}),
    ("user_id", "POST", "/chats/direct", lambda i: {"json": {"user_id": i}}),
    ("user_id", "POST", "/chats/{chat_id}/members", lambda i: {"json": {"user_id": i}}),
    (
        "user_id",
        "POST",
        "/chats/{chat_id}/messages",
        lambda i: {"json": _msg("Hallo", mentions=[i])},
    ),
    (
        "message_id",
        "POST",
        "/chats/{chat_id}/messages",
        lambda i: {"json": _msg("Hallo", reply_to_id=i)},
    ),
    ("chat_id", "GET", "/search", lambda i: {"params": {"q": "Zugangscode", "chat_id": i}}),
    (
        "project_id",
        "POST",
        "/archive/exports",
        lambda i: {"json": {"scope": "project", "ref_id": i}},
    ),
    ("chat_id", "POST", "/archive/exports", lambda i: {"json": {"scope": "chat", "ref_id": i}}),
    (
        "user_id",
        "POST",
        "/archive/exports",
        lambda i: {"json": {"scope": "person", "ref_id": i}},
    ),
    (
        "user_id",
        "POST",
        "/routing-rules",
        lambda i: {"json": {"category": "mangel", "target_kind": "user", "target": i}},
    ),
    (
        "project_id",
        "POST",
        "/routing-rules",
        lambda i: {
            "json": {"category": "mangel", "target_kind": "role", "target": "lead", "project_id": i}
        },
    ),
    (
        "message_id",
        "POST",
        "/projects/{project_id}/reports",
        lambda i: {
            "json": {
                "client_id": f"r-{new_id()}",
                "category": "mangel",
                "text": "Riss",
                "source_message_id": i,
            }
        },
    ),
    ("project_id", "GET", "/reports", lambda i: {"params": {"project_id": i}}),
    (
        "project_id",
        "POST",
        "/compliance/holds",
        lambda i: {"json": {"target_kind": "project", "target_id": i, "reason": "Az 1"}},
    ),
    ("project_id", "GET", "/customer-chats", lambda i: {"params": {"project_id": i}}),
    (
        "file_id",
        "POST",
        "/chats/{chat_id}/messages",
        lambda i: {"json": _msg("Foto", attachments=[i])},
    ),
    (
        "chat_id",
        "POST",
        "/uploads/single",
        lambda i: {"params": {"chat_id": i}, "content": samples.photo(32, 24)},
    ),
]


def test_other_business_ids_in_bodies_and_queries_answer_like_unknown_ids(
    ctx: AppContext, world: World
) -> None:
    api = world.apis["owner"]
    journal_b = _b_journal_length(ctx, world.b)
    wrong = []
    for kind, method, template, request in BODY_IDS:
        path = API + template.format(**world.a_ids)
        for b_id in world.b_ids[kind]:
            fresh = new_id()
            answers = [
                api.client.request(method, path, headers=api.headers, **request(i))
                for i in (b_id, fresh)
            ]
            b_answer, unknown_answer = (_normalised(r, [b_id, fresh]) for r in answers)
            if b_answer != unknown_answer or not 400 <= b_answer[0] < 500:
                wrong.append(f"{method} {template} {kind}: {b_answer} != {unknown_answer}")
            for r in answers:
                if leaks := _leaks(r.text, world, [b_id, fresh]):
                    wrong.append(f"{method} {template}: shows B's {leaks}")
    assert not wrong, "\n".join(wrong)
    assert _b_journal_length(ctx, world.b) == journal_b


@pytest.mark.parametrize("role", ["owner", "office", "worker"])
def test_listings_show_nothing_of_the_other_business(
    client: TestClient, world: World, role: str
) -> None:
    api = world.apis[role]
    doc = client.get(f"{API}/openapi.json").json()
    swept = 0
    for method, path, op in _operations(doc):
        if method != "GET" or _path_params(op):
            continue
        required = {p["name"] for p in op.get("parameters", []) if p.get("required")}
        params = QUERIES.get(path, {})
        assert required <= set(params), f"add the required query of GET {path} to QUERIES"
        r = api.get(path, params=params)
        assert r.status_code < 500, r.text
        assert not _leaks(r.text, world, []), f"GET {path}: {r.text[:300]}"
        swept += 1
    assert swept >= 8
    # The search index is per business: B's words find nothing for A.
    assert _ok(api.get("/search", params={"q": "Zugangscode Tresor"}))["results"] == []


def test_a_worker_does_not_see_a_project_chat_they_are_not_in(
    client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    project = _ok(owner.post("/projects", json={"name": "Dachsanierung Meier"}), 201)
    chat = project["chat_id"]
    _ok(owner.post(f"/chats/{chat}/messages", json=_msg("Angebot 18.400 €")), 201)
    unknown_project, unknown_chat = new_id(), new_id()
    reads = [
        ("/projects/{p}", "GET", None),
        ("/chats/{c}", "GET", None),
        ("/chats/{c}/members", "GET", None),
        ("/chats/{c}/messages", "GET", None),
        ("/chats/{c}/messages", "POST", {"client_id": "c-nichtmitglied", "text": "Hallo?"}),
        ("/chats/{c}/read", "POST", {"seq": 1}),
    ]

    def answers(api: Api, p: str, c: str) -> list[tuple[int, str]]:
        out = []
        for template, method, body in reads:
            path = API + template.format(p=p, c=c)
            r = api.client.request(method, path, json=body, headers=api.headers)
            out.append(_normalised(r, [p, c]))
        return out

    for role in ("worker", "apprentice", "lead"):
        api = login(client, biz, role)
        outsider = answers(api, project["id"], chat)
        assert all(status == 404 for status, _ in outsider), outsider
        assert outsider == answers(api, unknown_project, unknown_chat)
        assert chat not in {c["id"] for c in _ok(api.get("/chats"))["chats"]}
        assert project["id"] not in {p["id"] for p in _ok(api.get("/projects"))["projects"]}
        found = _ok(api.get("/search", params={"q": "Angebot"}))["results"]
        assert found == []
    for role in ("owner", "office"):
        api = login(client, biz, role)
        assert _ok(api.get(f"/projects/{project['id']}"))["name"] == "Dachsanierung Meier"
        _ok(api.get(f"/chats/{chat}"))
        texts = [m["text"] for m in _ok(api.get(f"/chats/{chat}/messages"))["messages"]]
        assert texts == ["Angebot 18.400 €"]
    # Made a member, the worker sees it: the 404 was about membership, nothing else.
    _ok(owner.post(f"/projects/{project['id']}/members", json={"user_id": biz.users["worker"]}))
    worker = login(client, biz, "worker")
    _ok(worker.get(f"/chats/{chat}"))
    assert len(_ok(worker.get(f"/chats/{chat}/messages"))["messages"]) == 1
