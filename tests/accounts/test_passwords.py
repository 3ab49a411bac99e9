"""Password policy, Argon2id hashing, and changing one's password."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import PASSWORD, Business, error, journal_entries, login
from zunft.accounts.login import FREE_FAILURES, LOCK_AFTER
from zunft.accounts.passwords import MAX_LENGTH, MIN_LENGTH, Hasher, check_password_policy
from zunft.accounts.users import do_set_password
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.errors import Invalid

NEW = "Dachrinne-am-Montag-7"


def _policy_code(password: str, personal: tuple[str, ...] = ()) -> str | None:
    try:
        check_password_policy(password, personal=personal)
    except Invalid as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("x7#kQ9!pZ", "password_too_short"),  # 9 characters
        ("", "password_too_short"),
        ("x7#kQ9!pZ2", None),  # exactly 10
        ("Ab1-" * 64, None),  # exactly the maximum
        ("Ab1-" * 64 + "x", "password_too_long"),
        ("passwort1234", "password_common"),
        ("PassWort1234", "password_common"),
        ("Sommer2026!", "password_common"),
        ("sommer2026!?", "password_common"),  # the listed word plus punctuation
        ("Hallo12345!", "password_common"),
        ("1234567890", "password_common"),
        ("aaaaaaaaaaaaaa", "password_common"),  # too few different characters
        ("abababababab", "password_common"),
        ("Kabelbinder-Eimer-9", None),
    ],
)
def test_policy(password: str, code: str | None) -> None:
    assert MIN_LENGTH == 10
    assert Invalid.status == 422
    assert len("Ab1-" * 64) == MAX_LENGTH
    assert _policy_code(password) == code


@pytest.mark.parametrize(
    "password",
    ["Wolfgang-Becker-7", "wolfgang.becker.2026", "Becker-Baustelle-2026", "Baustelle-Wolfgang!"],
)
def test_policy_refuses_name_and_email(password: str) -> None:
    personal = ("Wolfgang Becker", "wolfgang.becker")
    assert _policy_code(password, personal) == "password_personal"
    assert _policy_code("Kabelbinder-Eimer-9", personal) is None


def test_hasher_uses_argon2id() -> None:
    hasher = Hasher(memory_kib=1024, time_cost=1)
    stored = hasher.hash(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert stored != hasher.hash(PASSWORD)  # salted
    assert hasher.verify(stored, PASSWORD)
    assert not hasher.verify(stored, PASSWORD + "x")
    assert not hasher.verify(None, PASSWORD)
    assert not hasher.verify("kein-hash", PASSWORD)
    assert not hasher.verify("", "")


def _hash(ctx: AppContext, user_id: str) -> str:
    return str(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(s.users.c.password_hash).where(s.users.c.id == user_id)
            ).scalar_one()
        )
    )


def _try_login(client: TestClient, biz: Business, password: str) -> Any:
    return client.post(
        "/api/v1/auth/login",
        json={
            "tenant": biz.slug,
            "email": biz.emails["worker"],
            "password": password,
            "session_kind": "bearer",
        },
    )


def test_change_password(ctx: AppContext, client: TestClient, biz: Business) -> None:
    api = login(client, biz, "worker")
    before = _hash(ctx, biz.users["worker"])
    r = api.post("/me/password", {"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 204, r.text
    after = _hash(ctx, biz.users["worker"])
    assert after != before
    assert after.startswith("$argon2id$")
    assert NEW not in after
    assert error(_try_login(client, biz, PASSWORD)) == (401, "invalid_credentials")
    assert _try_login(client, biz, NEW).status_code == 200
    assert api.get("/me").status_code == 200  # the device that changed it stays logged in
    [entry] = journal_entries(ctx, biz.tenant_id, "user.password_changed")
    assert entry["user_id"] == biz.users["worker"]
    assert entry["_actor"] == biz.users["worker"]


def test_change_password_ends_the_other_sessions(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    # Changing a password because a phone was lost must lock that phone out.
    lost = login(client, biz, "worker", device="Verlorenes Handy")
    here = login(client, biz, "worker", device="PC")
    colleague = login(client, biz, "lead")
    r = here.post("/me/password", {"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 204
    assert error(lost.get("/me")) == (401, "session_invalid")
    assert here.get("/me").status_code == 200
    assert colleague.get("/me").status_code == 200
    assert [x["device_name"] for x in here.get("/sessions").json()["sessions"]] == ["PC"]
    [entry] = journal_entries(ctx, biz.tenant_id, "user.password_changed")
    assert entry["sessions_ended"] == 1


@pytest.mark.parametrize(
    ("new", "code"),
    [
        ("kurz-1", "password_too_short"),
        ("passwort1234", "password_common"),
        ("Sommer2026!", "password_common"),
        ("Worker-mueller-99", "password_personal"),  # the account's name is "Worker mueller"
    ],
)
def test_change_password_applies_the_policy(
    ctx: AppContext, client: TestClient, biz: Business, new: str, code: str
) -> None:
    api = login(client, biz, "worker")
    before = _hash(ctx, biz.users["worker"])
    r = api.post("/me/password", {"current_password": PASSWORD, "new_password": new})
    assert error(r) == (422, code)
    assert _hash(ctx, biz.users["worker"]) == before


def test_change_password_needs_the_current_one(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    api = login(client, biz, "worker")
    before = _hash(ctx, biz.users["worker"])
    r = api.post("/me/password", {"current_password": "Falsches-Kennwort-1", "new_password": NEW})
    assert error(r) == (422, "wrong_password")
    assert _hash(ctx, biz.users["worker"]) == before
    assert journal_entries(ctx, biz.tenant_id, "user.password_changed") == []


def test_new_password_unlocks_a_locked_account(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    device = login(client, biz, "worker")
    for _ in range(LOCK_AFTER):
        clock.advance(minutes=1)
        assert error(_try_login(client, biz, "Falsches-Kennwort-1")) == (401, "invalid_credentials")
    assert error(_try_login(client, biz, PASSWORD)) == (429, "account_locked")
    # What `zunft admin reset-password` does for someone who locked themselves out.
    new_hash = ctx.hasher.hash(NEW)
    ctx.write(
        lambda tx: do_set_password(
            tx,
            tenant_id=biz.tenant_id,
            user_id=biz.users["worker"],
            password_hash=new_hash,
            actor_id=None,
        )
    )
    assert _try_login(client, biz, NEW).status_code == 200
    # Set by an administrator, a new password ends every device session of the account.
    assert error(device.get("/me")) == (401, "session_invalid")


def test_guessing_through_password_change_is_throttled_and_journaled(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    api = login(client, biz, "worker")
    for _ in range(FREE_FAILURES):
        r = api.post(
            "/me/password",
            {"current_password": "falsch-falsch-1", "new_password": "Neues-Kennwort-77"},
        )
        assert error(r) == (422, "wrong_password")
    r = api.post(
        "/me/password", {"current_password": PASSWORD, "new_password": "Neues-Kennwort-77"}
    )
    assert error(r) == (429, "slow_down")
    reasons = [e["reason"] for e in journal_entries(ctx, biz.tenant_id, "auth.login_failed")]
    assert reasons == ["password_change"] * FREE_FAILURES
