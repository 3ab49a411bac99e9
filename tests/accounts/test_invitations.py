"""Staff invitations: single-use, expiring links that create an account and a session."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import Api, Business, error, journal_entries, login, make_business
from zunft.accounts.sessions import DAY_MS
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s

NEW_PASSWORD = "Neuer-Monteur-Zugang-5"


def _invite(api: Api, role: str = "worker", **fields: Any) -> dict[str, Any]:
    r = api.post("/invitations", {"role": role, **fields})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _accept(client: TestClient, token: str, **fields: Any) -> Any:
    body = {
        "token": token,
        "name": "Jonas Neumann",
        "email": "jonas@mueller.example",
        "password": NEW_PASSWORD,
        "device_name": "Jonas Handy",
        "session_kind": "bearer",
        **fields,
    }
    return client.post("/api/v1/invitations/accept", json=body)


def _staff_count(ctx: AppContext, tenant_id: str) -> int:
    return int(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(func.count()).select_from(s.users).where(s.users.c.tenant_id == tenant_id)
            ).scalar_one()
        )
    )


def test_owner_invites_and_the_link_shows_business_and_role(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    inv = _invite(owner, "lead", note="Für Jonas, neuer Meister")
    assert inv["role"] == "lead"
    assert inv["expires_at"] == ctx.now_ms() + 7 * DAY_MS
    assert len(inv["token"]) >= 20
    # Anyone holding the link may see what it is for, without logging in.
    r = client.post("/api/v1/invitations/lookup", json={"token": inv["token"]})
    assert r.status_code == 200
    assert r.json() == {
        "tenant": "mueller",
        "tenant_name": "Müller Haustechnik GmbH",
        "role": "lead",
        "expires_at": inv["expires_at"],
    }
    listed = owner.get("/invitations").json()["invitations"]
    assert listed == [
        {
            "id": inv["id"],
            "role": "lead",
            "note": "Für Jonas, neuer Meister",
            "expires_at": inv["expires_at"],
        }
    ]
    assert "token" not in str(listed)
    [entry] = journal_entries(ctx, biz.tenant_id, "invitation.created")
    assert (entry["invitation_id"], entry["role"], entry["_actor"]) == (
        inv["id"],
        "lead",
        biz.users["owner"],
    )
    # Only a hash of the token is stored.
    stored = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.invitations.c.token_hash).where(s.invitations.c.id == inv["id"])
        ).scalar_one()
    )
    assert inv["token"].encode() not in stored


def test_accepting_creates_the_account_and_a_session(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    inv = _invite(owner, "worker")
    before = _staff_count(ctx, biz.tenant_id)
    r = _accept(client, inv["token"], phone="+49 170 1234567")
    assert r.status_code == 201, r.text
    body = r.json()
    jonas = Api(client, body["token"], body["user_id"])
    me = jonas.get("/me").json()
    assert (me["name"], me["role"], me["email"], me["phone"], me["tenant_id"]) == (
        "Jonas Neumann",
        "worker",
        "jonas@mueller.example",
        "+49 170 1234567",
        biz.tenant_id,
    )
    assert [x["device_name"] for x in jonas.get("/sessions").json()["sessions"]] == ["Jonas Handy"]
    assert _staff_count(ctx, biz.tenant_id) == before + 1
    stored = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.users.c.password_hash).where(s.users.c.id == body["user_id"])
        ).scalar_one()
    )
    assert stored.startswith("$argon2id$")
    assert body["user_id"] in {u["id"] for u in owner.get("/users").json()["users"]}
    [accepted] = journal_entries(ctx, biz.tenant_id, "invitation.accepted")
    assert accepted["invitation_id"] == inv["id"]
    assert accepted["user_id"] == body["user_id"]
    assert owner.get("/invitations").json()["invitations"] == []
    # They can log in with the password they chose.
    r = client.post(
        "/api/v1/auth/login",
        json={
            "tenant": "mueller",
            "email": "jonas@mueller.example",
            "password": NEW_PASSWORD,
            "session_kind": "bearer",
        },
    )
    assert r.status_code == 200


def test_accepting_in_the_browser_sets_the_session_cookie(
    client: TestClient, biz: Business
) -> None:
    inv = _invite(login(client, biz, "office"))
    r = _accept(client, inv["token"], session_kind="cookie")
    assert r.status_code == 201
    assert "token" not in r.json()
    assert r.json()["csrf_token"]
    set_cookie = " ".join(r.headers.get_list("set-cookie"))
    assert "zunft_session=" in set_cookie
    assert "HttpOnly" in set_cookie


def test_a_link_works_only_once(ctx: AppContext, client: TestClient, biz: Business) -> None:
    inv = _invite(login(client, biz, "owner"))
    assert _accept(client, inv["token"]).status_code == 201
    count = _staff_count(ctx, biz.tenant_id)
    r = _accept(client, inv["token"], email="zweiter@mueller.example", name="Zweiter")
    assert error(r) == (404, "invitation_invalid")
    assert error(client.post("/api/v1/invitations/lookup", json={"token": inv["token"]})) == (
        404,
        "invitation_invalid",
    )
    assert _staff_count(ctx, biz.tenant_id) == count


def test_a_link_expires_after_seven_days(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    late, in_time = _invite(owner), _invite(owner)
    clock.advance(days=7, milliseconds=-1)
    assert (
        client.post("/api/v1/invitations/lookup", json={"token": late["token"]}).status_code == 200
    )
    assert _accept(client, in_time["token"]).status_code == 201
    clock.advance(milliseconds=1)
    assert error(client.post("/api/v1/invitations/lookup", json={"token": late["token"]})) == (
        404,
        "invitation_invalid",
    )
    assert error(_accept(client, late["token"])) == (404, "invitation_invalid")
    assert owner.get("/invitations").json()["invitations"] == []


def test_validity_follows_the_setting_unless_given(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    ctx.settings = ctx.settings.with_overrides(invitation_days=3)
    owner = login(client, biz, "owner")
    assert _invite(owner)["expires_at"] == ctx.now_ms() + 3 * DAY_MS
    assert _invite(owner, days=10)["expires_at"] == ctx.now_ms() + 10 * DAY_MS
    for days in (0, 31):
        assert error(owner.post("/invitations", {"role": "worker", "days": days})) == (
            422,
            "validation_error",
        )


def test_unknown_link(client: TestClient, biz: Business) -> None:
    assert error(client.post("/api/v1/invitations/lookup", json={"token": "erfunden"})) == (
        404,
        "invitation_invalid",
    )
    assert error(_accept(client, "erfunden")) == (404, "invitation_invalid")


def test_revoked_link_is_dead(ctx: AppContext, client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    inv = _invite(owner)
    assert owner.delete(f"/invitations/{inv['id']}").status_code == 204
    assert error(client.post("/api/v1/invitations/lookup", json={"token": inv["token"]})) == (
        404,
        "invitation_invalid",
    )
    assert error(_accept(client, inv["token"])) == (404, "invitation_invalid")
    assert owner.get("/invitations").json()["invitations"] == []
    [entry] = journal_entries(ctx, biz.tenant_id, "invitation.revoked")
    assert entry["invitation_id"] == inv["id"]
    assert error(owner.delete(f"/invitations/{inv['id']}")) == (404, "not_found")


def test_used_link_cannot_be_revoked(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    inv = _invite(owner)
    assert _accept(client, inv["token"]).status_code == 201
    assert error(owner.delete(f"/invitations/{inv['id']}")) == (404, "not_found")


@pytest.mark.parametrize("role", ["lead", "worker", "apprentice"])
def test_staff_below_office_cannot_invite(client: TestClient, biz: Business, role: str) -> None:
    api = login(client, biz, role)
    assert error(api.post("/invitations", {"role": "worker"})) == (403, "forbidden")
    assert error(api.get("/invitations")) == (403, "forbidden")
    inv = _invite(login(client, biz, "owner"))
    assert error(api.delete(f"/invitations/{inv['id']}")) == (403, "forbidden")
    assert (
        client.post("/api/v1/invitations/lookup", json={"token": inv["token"]}).status_code == 200
    )


def test_office_cannot_invite_an_owner(client: TestClient, biz: Business) -> None:
    office = login(client, biz, "office")
    assert error(office.post("/invitations", {"role": "owner"})) == (403, "forbidden")
    assert office.get("/invitations").json()["invitations"] == []
    for role in ("office", "lead", "worker", "apprentice"):
        assert _invite(office, role)["role"] == role
    inv = _invite(login(client, biz, "owner"), "owner")
    r = _accept(client, inv["token"])
    assert r.status_code == 201
    assert Api(client, r.json()["token"], "").get("/me").json()["role"] == "owner"


def test_email_already_taken(ctx: AppContext, client: TestClient, biz: Business) -> None:
    inv = _invite(login(client, biz, "owner"))
    r = _accept(client, inv["token"], email=biz.emails["worker"].upper())
    assert error(r) == (409, "email_taken")
    # The link was not spent by the failed attempt.
    assert _accept(client, inv["token"]).status_code == 201


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"password": "Sommer2026!"}, "password_common"),
        ({"password": "kurz"}, "password_too_short"),
        ({"password": "Jonas-Neumann-Baustelle"}, "password_personal"),
        ({"email": "kein-at-zeichen"}, "invalid_email"),
        ({"name": "   "}, "invalid_name"),
        ({"phone": "ruf mich an"}, "invalid_phone"),
    ],
)
def test_accepting_checks_the_new_account(
    ctx: AppContext, client: TestClient, biz: Business, fields: dict[str, str], code: str
) -> None:
    inv = _invite(login(client, biz, "owner"))
    count = _staff_count(ctx, biz.tenant_id)
    assert error(_accept(client, inv["token"], **fields)) == (422, code)
    assert _staff_count(ctx, biz.tenant_id) == count
    assert _accept(client, inv["token"]).status_code == 201


def test_retry_with_client_id_returns_the_same_invitation(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    first = owner.post("/invitations", {"role": "worker", "client_id": "einladung-0001"})
    again = owner.post("/invitations", {"role": "worker", "client_id": "einladung-0001"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(owner.get("/invitations").json()["invitations"]) == 1
    r = owner.post("/invitations", {"role": "lead", "client_id": "einladung-0001"})
    assert error(r) == (409, "client_id_reused")


def test_other_business_cannot_see_or_revoke(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    other = make_business(ctx, slug="schulz", name="Schulz Elektro")
    inv = _invite(login(client, biz, "owner"))
    schulz = login(client, other, "owner")
    assert schulz.get("/invitations").json()["invitations"] == []
    unknown = schulz.delete("/invitations/00000000000000000000000000")
    r = schulz.delete(f"/invitations/{inv['id']}")
    assert (r.status_code, r.json()) == (unknown.status_code, unknown.json())
    assert error(r) == (404, "not_found")
    # The link still belongs to Müller and joins Müller.
    r = _accept(client, inv["token"])
    assert r.status_code == 201
    assert Api(client, r.json()["token"], "").get("/me").json()["tenant_id"] == biz.tenant_id
