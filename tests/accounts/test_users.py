"""Staff accounts: the staff list, profiles, role changes, disabling, and the last owner."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import PASSWORD, Api, Business, error, journal_entries, login, make_business
from zunft.context import AppContext
from zunft.db import schema as s

UNKNOWN_ID = "00000000000000000000000000"


def _change(api: Api, user_id: str, **fields: Any) -> Any:
    return api.patch(f"/users/{user_id}", fields)


def _role(ctx: AppContext, user_id: str) -> str:
    return str(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(s.users.c.role).where(s.users.c.id == user_id)
            ).scalar_one()
        )
    )


def _login_status(client: TestClient, biz: Business, role: str) -> tuple[int, str | None]:
    r = client.post(
        "/api/v1/auth/login",
        json={
            "tenant": biz.slug,
            "email": biz.emails[role],
            "password": PASSWORD,
            "session_kind": "bearer",
        },
    )
    return r.status_code, r.json().get("error", {}).get("code")


def test_staff_list(client: TestClient, biz: Business) -> None:
    users = login(client, biz, "office").get("/users").json()["users"]
    assert [(u["name"], u["role"], u["disabled"]) for u in users] == [
        ("Apprentice mueller", "apprentice", False),
        ("Lead mueller", "lead", False),
        ("Office mueller", "office", False),
        ("Owner mueller", "owner", False),
        ("Worker mueller", "worker", False),
    ]
    # Owner and office see contact details; colleagues see only their own.
    assert all(u["email"] == biz.emails[u["role"]] for u in users)
    seen_by_worker = login(client, biz, "worker").get("/users").json()["users"]
    assert {u["role"] for u in seen_by_worker if "email" in u} == {"worker"}
    assert all("totp_enabled" not in u for u in seen_by_worker if u["role"] != "worker")


def test_profile_changes(ctx: AppContext, client: TestClient, biz: Business) -> None:
    api = login(client, biz, "worker")
    r = api.patch("/me", {"name": "  Wolfgang   Becker ", "phone": "+49 170 555 12 34"})
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["phone"]) == ("Wolfgang Becker", "+49 170 555 12 34")
    r = api.patch("/me", {"phone": None})
    assert r.status_code == 200
    assert r.json()["phone"] is None
    assert r.json()["name"] == "Wolfgang Becker"
    assert error(api.patch("/me", {"name": " "})) == (422, "invalid_name")
    assert error(api.patch("/me", {"phone": "ruf an"})) == (422, "invalid_phone")
    assert error(api.patch("/me", {"role": "owner"})) == (422, "unknown_field")
    assert api.get("/me").json()["role"] == "worker"
    changes = journal_entries(ctx, biz.tenant_id, "user.profile_changed")
    assert [c["fields"] for c in changes] == [["name", "phone"], ["phone"]]


@pytest.mark.parametrize("admin", ["owner", "office"])
def test_owner_and_office_change_roles(
    ctx: AppContext, client: TestClient, biz: Business, admin: str
) -> None:
    api = login(client, biz, admin)
    worker = login(client, biz, "worker")
    r = _change(api, biz.users["worker"], role="lead")
    assert r.status_code == 200
    assert r.json()["role"] == "lead"
    # Takes effect for the user's open sessions at once.
    assert worker.get("/me").json()["role"] == "lead"
    [entry] = journal_entries(ctx, biz.tenant_id, "user.role_changed")
    assert entry == {
        "user_id": biz.users["worker"],
        "from": "worker",
        "to": "lead",
        "_actor": biz.users[admin],
    }
    # Setting the role it already has changes nothing and records nothing.
    assert _change(api, biz.users["worker"], role="lead").status_code == 200
    assert len(journal_entries(ctx, biz.tenant_id, "user.role_changed")) == 1


@pytest.mark.parametrize("role", ["lead", "worker", "apprentice"])
def test_other_staff_cannot_change_users(
    ctx: AppContext, client: TestClient, biz: Business, role: str
) -> None:
    api = login(client, biz, role)
    assert error(_change(api, biz.users["apprentice"], role="worker")) == (403, "forbidden")
    assert error(_change(api, biz.users[role], role="office")) == (403, "forbidden")
    assert error(_change(api, biz.users["office"], disabled=True)) == (403, "forbidden")
    assert _role(ctx, biz.users[role]) == role
    assert journal_entries(ctx, biz.tenant_id, "user.role_changed") == []


def test_only_owners_grant_or_remove_the_owner_role(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    office = login(client, biz, "office")
    assert error(_change(office, biz.users["lead"], role="owner")) == (403, "forbidden")
    assert error(_change(office, biz.users["office"], role="owner")) == (403, "forbidden")
    assert error(_change(office, biz.users["owner"], role="worker")) == (403, "forbidden")
    assert error(_change(office, biz.users["owner"], disabled=True)) == (403, "forbidden")
    assert _role(ctx, biz.users["lead"]) == "lead"
    assert _role(ctx, biz.users["owner"]) == "owner"
    owner = login(client, biz, "owner")
    assert _change(owner, biz.users["lead"], role="owner").json()["role"] == "owner"
    # The new owner may now demote the first one, who is no longer the last.
    second = login(client, biz, "lead")
    assert _change(second, biz.users["owner"], role="office").json()["role"] == "office"


def test_last_owner_cannot_be_demoted_or_disabled(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    assert error(_change(owner, biz.users["owner"], role="office")) == (409, "last_owner")
    assert error(_change(owner, biz.users["owner"], disabled=True)) == (409, "last_owner")
    assert _role(ctx, biz.users["owner"]) == "owner"
    assert owner.get("/me").status_code == 200
    assert journal_entries(ctx, biz.tenant_id, "user.role_changed") == []
    assert journal_entries(ctx, biz.tenant_id, "user.disabled") == []


def test_a_disabled_owner_does_not_count(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    assert _change(owner, biz.users["lead"], role="owner").status_code == 200
    assert _change(owner, biz.users["lead"], disabled=True).status_code == 200
    # Only one owner is left who can act: they stay the owner.
    assert error(_change(owner, biz.users["owner"], role="office")) == (409, "last_owner")
    # Tidying up the disabled owner's role takes nothing away from the business.
    r = _change(owner, biz.users["lead"], role="lead")
    assert r.status_code == 200, r.text
    assert (r.json()["role"], r.json()["disabled"]) == ("lead", True)


def test_disabling_ends_the_sessions_at_once(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    office = login(client, biz, "office")
    phone = login(client, biz, "worker", device="Handy")
    pc = login(client, biz, "worker", device="PC")
    r = _change(office, biz.users["worker"], disabled=True)
    assert r.status_code == 200
    assert r.json()["disabled"] is True
    assert error(phone.get("/me")) == (401, "session_invalid")
    assert error(pc.post("/sessions/revoke-others")) == (401, "session_invalid")
    assert _login_status(client, biz, "worker") == (403, "account_disabled")
    [entry] = journal_entries(ctx, biz.tenant_id, "user.disabled")
    assert (entry["user_id"], entry["_actor"]) == (biz.users["worker"], biz.users["office"])
    open_sessions = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.sessions.c.id).where(
                s.sessions.c.user_id == biz.users["worker"], s.sessions.c.revoked_at.is_(None)
            )
        ).all()
    )
    assert open_sessions == []
    # Enabling again lets them log in anew; the old devices stay logged out.
    assert _change(office, biz.users["worker"], disabled=False).json()["disabled"] is False
    assert _login_status(client, biz, "worker") == (200, None)
    assert error(phone.get("/me")) == (401, "session_invalid")
    assert len(journal_entries(ctx, biz.tenant_id, "user.enabled")) == 1


def test_invalid_changes(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    r = _change(owner, biz.users["worker"], role="chef")
    assert error(r) == (422, "validation_error")
    assert error(_change(owner, UNKNOWN_ID, role="lead")) == (404, "not_found")


def test_other_business_cannot_see_or_change_users(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    other = make_business(ctx, slug="schulz", name="Schulz Elektro")
    mueller_ids = set(biz.users.values())
    for role in ("owner", "office"):
        schulz = login(client, other, role)
        listed = {u["id"] for u in schulz.get("/users").json()["users"]}
        assert listed == set(other.users.values())
        assert not listed & mueller_ids
        unknown = _change(schulz, UNKNOWN_ID, role="lead")
        for user_id in (biz.users["worker"], biz.users["owner"]):
            for change in ({"role": "lead"}, {"disabled": True}):
                r = _change(schulz, user_id, **change)
                assert (r.status_code, r.json()) == (unknown.status_code, unknown.json())
        assert error(unknown) == (404, "not_found")
    assert _role(ctx, biz.users["worker"]) == "worker"
    assert _login_status(client, biz, "worker") == (200, None)
    assert journal_entries(ctx, biz.tenant_id, "user.role_changed") == []
    assert journal_entries(ctx, other.tenant_id, "user.role_changed") == []
