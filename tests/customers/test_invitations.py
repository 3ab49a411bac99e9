"""Customer invitations: single-use, expiring, revocable links whose token is stored only as a
hash; consent first; declining stores nothing more."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.customers.helpers import accept, invite, join, lookup, make_project, msg, ok
from tests.factories import Business, error, journal_entries, login
from tests.web.helpers import assert_error
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s


def _count(ctx: AppContext, table: object, *where: object) -> int:
    return int(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
            ).scalar_one()
        )
    )


def _all_bytes(ctx: AppContext) -> bytes:
    """Every value of every table, as bytes: to prove a secret is stored nowhere."""
    out = []

    def dump(rx: object) -> None:
        for table in s.metadata.sorted_tables:
            for row in rx.conn.execute(select(table)).all():  # type: ignore[attr-defined]
                for value in row:
                    out.append(value if isinstance(value, bytes) else str(value).encode())

    ctx.read(dump)
    return b"\x00".join(out)


def test_invite_lookup_accept_talk(ctx: AppContext, client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    inv = invite(owner, project["id"], email="erika@zander.example")
    token = inv["token"]
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    assert inv["link"].endswith(f"/kunde#{token}")  # fragment: never sent, never in Referer
    assert inv["qr_svg"].startswith("<svg")
    assert 'xmlns="http://www.w3.org/2000/svg"' in inv["qr_svg"]  # standalone: shown as an image
    # Only the hash is kept, nowhere the token itself (not even in the idempotent answer).
    stored = _all_bytes(ctx)
    assert token.encode() not in stored
    assert hashlib.sha256(token.encode()).digest() in stored

    info = lookup(client, token)
    assert info.headers["referrer-policy"] == "no-referrer"
    body = ok(info)
    assert body["business_name"] == "Müller Haustechnik GmbH"
    assert body["project_name"] == "Bad Familie Zander"
    assert body["name"] == "Erika Zander"
    consent = body["consent"]
    assert consent["version"] == 1
    assert "Widerruf" in consent["text"]
    assert consent["sha256"] == hashlib.sha256(consent["text"].encode()).hexdigest()

    r = accept(client, token, consent)
    assert r.headers["referrer-policy"] == "no-referrer"
    joined = ok(r, 201)
    chat = joined["chat_id"]
    evidence = journal_entries(ctx, biz.tenant_id, "consent.given")
    assert evidence == [
        {
            "customer_id": joined["user_id"],
            "version": 1,
            "sha256": consent["sha256"],
            "at": ctx.now_ms(),
            "device": "Erikas Telefon",
            "_actor": joined["user_id"],
        }
    ]

    customer_headers = {"Authorization": f"Bearer {joined['token']}"}
    chats = ok(client.get("/api/v1/chats", headers=customer_headers))["chats"]
    assert [(c["id"], c["kind"], c["title"]) for c in chats] == [
        (chat, "customer", "Bad Familie Zander")
    ]
    sent = client.post(
        f"/api/v1/chats/{chat}/messages", json=msg("Wann kommen Sie?"), headers=customer_headers
    )
    ok(sent, 201)
    # The project lead and the inviter are in the chat; the lead answers.
    lead = login(client, biz, "lead")
    ok(lead.post(f"/chats/{chat}/messages", json=msg("Dienstag um 8 Uhr.")), 201)
    staff_view = [c for c in ok(lead.get("/chats"))["chats"] if c["id"] == chat]
    assert staff_view[0]["title"] == "Erika Zander"
    assert staff_view[0]["consent_withdrawn"] is False
    people = ok(client.get(f"/api/v1/chats/{chat}/people", headers=customer_headers))["people"]
    assert {p["name"] for p in people} == {"Erika Zander", "Lead mueller", "Owner mueller"}
    assert all(set(p) == {"id", "name", "kind"} for p in people)
    # A worker of the project is not in the customer chat unless added by the flow.
    worker = login(client, biz, "worker")
    assert chat not in {c["id"] for c in ok(worker.get("/chats"))["chats"]}


def test_cookie_session_with_csrf(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    inv = invite(owner, make_project(owner, biz)["id"])
    consent = ok(lookup(client, inv["token"]))["consent"]
    r = accept(client, inv["token"], consent, session_kind="cookie")
    out = ok(r, 201)
    assert "token" not in out
    cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith("zunft_session=") and "HttpOnly" in c for c in cookies)
    me = ok(client.get("/api/v1/customer/me"))
    assert me["name"] == "Erika Zander"
    assert me["consent"]["text"] == consent["text"]  # what they accepted, to read again
    assert me["consent"]["needs_acceptance"] is False
    assert me["consent"]["current"] is None
    chat = out["chat_id"]
    no_csrf = client.post(f"/api/v1/chats/{chat}/messages", json=msg("Hallo"))
    assert error(no_csrf) == (403, "csrf_failed")
    with_csrf = client.post(
        f"/api/v1/chats/{chat}/messages",
        json=msg("Hallo"),
        headers={"X-CSRF-Token": out["csrf_token"]},
    )
    ok(with_csrf, 201)


def test_link_is_single_use(ctx: AppContext, client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    inv = invite(owner, make_project(owner, biz)["id"])
    consent = ok(lookup(client, inv["token"]))["consent"]
    ok(accept(client, inv["token"], consent), 201)
    customers = _count(ctx, s.users, s.users.c.kind == "customer")
    assert_error(lookup(client, inv["token"]), 404, "invitation_invalid")
    assert_error(accept(client, inv["token"], consent), 404, "invitation_invalid")
    assert _count(ctx, s.users, s.users.c.kind == "customer") == customers == 1


def test_link_expires(client: TestClient, clock: FakeClock, biz: Business) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    inv = invite(owner, project["id"])  # default: 7 days
    short = invite(owner, project["id"], name="Max Kurz", days=1)
    clock.advance(days=6, hours=23)
    ok(lookup(client, inv["token"]))
    assert_error(lookup(client, short["token"]), 404, "invitation_invalid")
    clock.advance(hours=1)
    consent = {"version": 1, "sha256": "0" * 64}
    assert_error(lookup(client, inv["token"]), 404, "invitation_invalid")
    assert_error(accept(client, inv["token"], consent), 404, "invitation_invalid")


def test_revoked_link(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    inv = invite(owner, project["id"])
    listed = ok(owner.get(f"/projects/{project['id']}/customer-invitations"))["invitations"]
    assert [i["id"] for i in listed] == [inv["id"]]
    assert "token" not in listed[0]
    consent = ok(lookup(client, inv["token"]))["consent"]
    r = owner.delete(f"/customer-invitations/{inv['id']}")
    assert r.status_code == 204
    assert_error(accept(client, inv["token"], consent), 404, "invitation_invalid")
    assert_error(owner.delete(f"/customer-invitations/{inv['id']}"), 404, "not_found")
    assert ok(owner.get(f"/projects/{project['id']}/customer-invitations"))["invitations"] == []


def test_decline_ends_the_link_and_keeps_nothing(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    inv = invite(owner, make_project(owner, biz)["id"], email="erika@zander.example")
    r = client.post("/api/v1/customer/invitations/decline", json={"token": inv["token"]})
    assert r.status_code == 204, r.text
    row = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.customer_invitations).where(s.customer_invitations.c.id == inv["id"])
        ).one()
    )
    assert row.name_enc is None
    assert row.email_enc is None
    assert row.declined_at is not None
    assert _count(ctx, s.users, s.users.c.kind == "customer") == 0
    assert _count(ctx, s.customers) == 0
    assert_error(lookup(client, inv["token"]), 404, "invitation_invalid")
    again = client.post("/api/v1/customer/invitations/decline", json={"token": inv["token"]})
    assert_error(again, 404, "invitation_invalid")


def test_consent_text_changed_mid_flow(ctx: AppContext, client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    inv = invite(owner, make_project(owner, biz)["id"])
    old = ok(lookup(client, inv["token"]))["consent"]
    new_text = "Neue Fassung. " + old["text"]
    new = ok(owner.post("/consent-texts", json={"text": new_text}), 201)
    assert new["version"] == 2
    # The customer accepts what they read: version 1. They must read and accept version 2.
    err = assert_error(accept(client, inv["token"], old), 409, "consent_changed")
    assert err["details"]["consent"] == new
    assert _count(ctx, s.users, s.users.c.kind == "customer") == 0
    # A made-up hash for the right version does not pass either.
    forged = {"version": 2, "sha256": old["sha256"]}
    assert_error(accept(client, inv["token"], forged), 409, "consent_changed")
    joined = ok(accept(client, inv["token"], new), 201)
    [evidence] = journal_entries(ctx, biz.tenant_id, "consent.given")
    assert (evidence["version"], evidence["sha256"]) == (2, new["sha256"])
    assert joined["chat_id"]
    versions = ok(owner.get("/consent-texts"))["versions"]
    assert [v["version"] for v in versions] == [1, 2]


def test_consent_text_changed_after_joining(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    inv = invite(owner, make_project(owner, biz)["id"])
    customer, chat = join(client, inv["token"])
    current = ok(owner.get("/consent-texts/current"))
    new = ok(owner.post("/consent-texts", json={"text": current["text"] + "\n\nErgänzt."}), 201)
    for r in (customer.get("/chats"), customer.get(f"/chats/{chat}/messages")):
        err = assert_error(r, 403, "consent_required")
        assert err["details"]["consent"]["version"] == 2
    me = ok(customer.get("/customer/me"))
    assert me["consent"]["needs_acceptance"] is True
    assert me["consent"]["current"] == new  # the customer's screen shows the text to accept
    stale = {"version": 1, "sha256": current["sha256"], "device_name": "Telefon"}
    assert_error(customer.post("/customer/consent", json=stale), 409, "consent_changed")
    fresh = {"version": 2, "sha256": new["sha256"], "device_name": "Telefon"}
    assert ok(customer.post("/customer/consent", json=fresh))["consent"]["version"] == 2
    ok(customer.get(f"/chats/{chat}/messages"))
    given = journal_entries(ctx, biz.tenant_id, "consent.given")
    assert [g["version"] for g in given] == [1, 2]


def test_who_may_invite(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    for role in ("office", "lead"):
        invite(login(client, biz, role), project["id"])
    worker = login(client, biz, "worker")
    r = worker.post(
        f"/projects/{project['id']}/customer-invitations", json={"name": "Erika Zander"}
    )
    assert_error(r, 403, "forbidden")
    apprentice = login(client, biz, "apprentice")  # not in the project: it does not exist
    r = apprentice.post(
        f"/projects/{project['id']}/customer-invitations", json={"name": "Erika Zander"}
    )
    assert_error(r, 404, "not_found")


def test_invitation_is_idempotent_and_never_replays_the_token(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    body = {"name": "Erika Zander", "client_id": "einladung-1"}
    path = f"/projects/{project['id']}/customer-invitations"
    first = ok(owner.post(path, json=body), 201)
    again = owner.post(path, json=body)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first["id"]
    assert again.json()["token"] is None
    assert _count(ctx, s.customer_invitations) == 1
    other = owner.post(path, json={**body, "name": "Jemand anders"})
    assert_error(other, 409, "client_id_reused")


def test_bad_invitation_input(ctx: AppContext, client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    path = f"/projects/{project['id']}/customer-invitations"
    assert_error(owner.post(path, json={"name": "  "}), 422, "invalid_name")
    assert_error(owner.post(path, json={"name": "A", "email": "kein"}), 422, "invalid_email")
    assert_error(owner.post(path, json={"name": "A", "days": 31}), 422, "validation_error")
    r = owner.post(path, json={"name": "A", "email": "a@b.example", "send_email": True})
    assert_error(r, 409, "email_not_configured")  # no SMTP server configured in tests
    assert _count(ctx, s.customer_invitations) == 0
    assert_error(lookup(client, "x" * 43), 404, "invitation_invalid")
    bad_hash = {"version": 1, "sha256": "zz"}
    assert_error(accept(client, "x" * 43, bad_hash), 422, "validation_error")
    ok(owner.patch(f"/projects/{project['id']}", json={"status": "archived"}))
    assert_error(owner.post(path, json={"name": "A"}), 409, "project_archived")


def test_a_new_device_for_an_existing_customer(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    phone, chat = join(client, invite(owner, project["id"])["token"])
    lead = login(client, biz, "lead")
    link = ok(
        lead.post(f"/customer-chats/{chat}/device-links", json={"client_id": "geraet-1"}), 201
    )
    assert link["name"] == "Erika Zander"
    consent = ok(lookup(client, link["token"]))["consent"]
    tablet = ok(accept(client, link["token"], consent, device_name="Tablet"), 201)
    assert (tablet["user_id"], tablet["chat_id"]) == (phone.user_id, chat)
    assert _count(ctx, s.users, s.users.c.kind == "customer") == 1
    devices = [e["device"] for e in journal_entries(ctx, biz.tenant_id, "consent.given")]
    assert devices == ["Erikas Telefon", "Tablet"]
    assert len(ok(phone.get("/sessions"))["sessions"]) == 2
    assert_error(accept(client, link["token"], consent), 404, "invitation_invalid")
    # After a withdrawal no link opens the account again.
    spare = ok(lead.post(f"/customer-chats/{chat}/device-links", json={}), 201)
    assert phone.post("/customer/consent/withdraw").status_code == 204
    assert_error(lookup(client, spare["token"]), 404, "invitation_invalid")
    r = lead.post(f"/customer-chats/{chat}/device-links", json={})
    assert_error(r, 409, "consent_withdrawn")
    # Only customer chats have device links; a worker outside the chat does not see it.
    r = lead.post(f"/customer-chats/{project['chat_id']}/device-links", json={})
    assert_error(r, 404, "not_found")
    worker = login(client, biz, "worker")
    assert_error(worker.post(f"/customer-chats/{chat}/device-links", json={}), 404, "not_found")


def test_a_known_customer_invited_to_another_project(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    first = ok(owner.post("/projects", json={"name": "Bad"}), 201)  # no lead
    erika, bad_chat = join(client, invite(owner, first["id"])["token"])
    second = make_project(owner, biz, name="Küche Zander")
    path = f"/projects/{second['id']}/customer-invitations"
    # The lead does not see Erika's first chat: to them she is unknown.
    lead = login(client, biz, "lead")
    assert_error(lead.post(path, json={"customer_id": erika.user_id}), 404, "not_found")
    assert_error(lead.post(path, json={}), 422, "invalid_name")
    inv = ok(owner.post(path, json={"customer_id": erika.user_id}), 201)
    assert inv["name"] == "Erika Zander"
    again = owner.post(
        f"/projects/{first['id']}/customer-invitations", json={"customer_id": erika.user_id}
    )
    assert_error(again, 409, "customer_in_project")
    consent = ok(lookup(client, inv["token"]))["consent"]
    joined = ok(accept(client, inv["token"], consent), 201)
    assert joined["user_id"] == erika.user_id
    kitchen_chat = joined["chat_id"]
    assert kitchen_chat != bad_chat
    titles = {c["id"]: c["title"] for c in ok(erika.get("/chats"))["chats"]}
    assert titles == {bad_chat: "Bad", kitchen_chat: "Küche Zander"}
    assert len(ok(erika.get("/customer/me"))["chats"]) == 2
    assert _count(ctx, s.users, s.users.c.kind == "customer") == 1
    # The second project's lead is in the new chat, not in the first one.
    assert {c["chat_id"] for c in ok(lead.get("/customer-chats"))["chats"]} == {kitchen_chat}
