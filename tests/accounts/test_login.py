"""Logging in: password check, the same answer for unknown accounts, throttling and lockout."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.factories import PASSWORD, Business, error, journal_entries, make_business
from zunft.accounts.login import FREE_FAILURES, LOCK_AFTER, LOCK_MINUTES, MAX_DELAY_S, delay_ms
from zunft.accounts.passwords import Hasher
from zunft.accounts.users import do_change_user
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s

WRONG = "Falsches-Kennwort-99"


def _login(
    client: TestClient,
    biz: Business,
    role: str = "worker",
    password: str = WRONG,
    **fields: Any,
) -> Any:
    body = {
        "tenant": biz.slug,
        "email": biz.emails[role],
        "password": password,
        "device_name": "Handy",
        "session_kind": "bearer",
        **fields,
    }
    return client.post("/api/v1/auth/login", json=body)


def _user(ctx: AppContext, user_id: str) -> Any:
    return ctx.read(
        lambda rx: rx.conn.execute(select(s.users).where(s.users.c.id == user_id)).one()
    )


def test_right_password_gives_a_working_session(client: TestClient, biz: Business) -> None:
    r = _login(client, biz, password=PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_id"] == biz.users["worker"]
    assert "csrf_token" not in body
    assert "set-cookie" not in r.headers
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == biz.users["worker"]


def test_email_and_business_are_matched_loosely(client: TestClient, biz: Business) -> None:
    r = _login(
        client,
        biz,
        password=PASSWORD,
        email=f"  {biz.emails['worker'].upper()} ",
        tenant=biz.slug.upper(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == biz.users["worker"]


def test_wrong_password_is_refused_and_journaled(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    r = _login(client, biz, device_name="Samsung im Bus")
    assert error(r) == (401, "invalid_credentials")
    assert "token" not in r.text
    failed = journal_entries(ctx, biz.tenant_id, "auth.login_failed")
    assert [(e["user_id"], e["reason"], e["device"]) for e in failed] == [
        (biz.users["worker"], "password", "Samsung im Bus")
    ]
    assert _user(ctx, biz.users["worker"]).failed_logins == 1


def test_unknown_email_answers_exactly_like_a_wrong_password(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    wrong = _login(client, biz)
    unknown = _login(client, biz, email="niemand@mueller.example")
    malformed = _login(client, biz, email="kein-at-zeichen")
    for r in (unknown, malformed):
        assert (r.status_code, r.json()) == (wrong.status_code, wrong.json())
        assert "retry-after" not in r.headers
    assert error(unknown) == (401, "invalid_credentials")
    failed = journal_entries(ctx, biz.tenant_id, "auth.login_failed")
    assert [(e["user_id"], e["reason"]) for e in failed] == [
        (biz.users["worker"], "password"),
        (None, "unknown_account"),
        (None, "unknown_account"),
    ]


def test_an_address_without_account_slows_down_and_locks_like_an_account(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    """Otherwise the fourth wrong guess would tell which addresses have an account."""
    nobody = "niemand@mueller.example"
    seen = []
    for _ in range(3 * LOCK_AFTER):
        known = _login(client, biz)
        unknown = _login(client, biz, email=nobody)
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
        assert unknown.headers.get("retry-after") == known.headers.get("retry-after")
        seen.append(error(known)[1])
        if seen[-1] == "account_locked":
            break
        if seen[-1] == "slow_down":
            clock.advance(seconds=MAX_DELAY_S)  # wait as told, then guess again
    assert seen[: FREE_FAILURES + 1] == ["invalid_credentials"] * FREE_FAILURES + ["slow_down"]
    assert seen[-1] == "account_locked"
    clock.advance(minutes=LOCK_MINUTES)
    assert error(_login(client, biz, email=nobody)) == error(_login(client, biz))


def test_unknown_business_answers_like_a_wrong_password(client: TestClient, biz: Business) -> None:
    wrong = _login(client, biz)
    r = _login(client, biz, tenant="gibtsnicht", password=PASSWORD)
    assert (r.status_code, r.json()) == (wrong.status_code, wrong.json())


def test_account_of_another_business_does_not_log_in_here(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    other = make_business(ctx, slug="schulz", name="Schulz Elektro")
    # The right password, but for Schulz's worker, asked at Müller's door.
    r = _login(client, biz, email=other.emails["worker"], password=PASSWORD)
    assert error(r) == (401, "invalid_credentials")
    assert _login(client, other, password=PASSWORD).status_code == 200


def test_delay_schedule() -> None:
    assert [delay_ms(n) // 1000 for n in range(12)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert FREE_FAILURES == 3
    assert MAX_DELAY_S == 60


def test_repeated_failures_slow_down(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    for _ in range(FREE_FAILURES):
        assert error(_login(client, biz)) == (401, "invalid_credentials")
    # Even the right password has to wait: the delay is not a hint about the password.
    r = _login(client, biz, password=PASSWORD)
    assert error(r) == (429, "slow_down")
    assert r.headers["Retry-After"] == "1"
    assert _user(ctx, biz.users["worker"]).failed_logins == FREE_FAILURES  # a refusal is no guess
    clock.advance(seconds=1)
    assert error(_login(client, biz)) == (401, "invalid_credentials")
    r = _login(client, biz)
    assert error(r) == (429, "slow_down")
    assert r.headers["Retry-After"] == "2"
    clock.advance(seconds=1.5)
    r = _login(client, biz, password=PASSWORD)
    assert error(r) == (429, "slow_down")
    assert r.headers["Retry-After"] == "1"
    clock.advance(seconds=0.5)
    assert _login(client, biz, password=PASSWORD).status_code == 200
    assert _user(ctx, biz.users["worker"]).failed_logins == 0
    assert len(journal_entries(ctx, biz.tenant_id, "auth.login_failed")) == FREE_FAILURES + 1


def test_success_resets_the_count(ctx: AppContext, client: TestClient, biz: Business) -> None:
    for _ in range(FREE_FAILURES - 1):
        assert error(_login(client, biz)) == (401, "invalid_credentials")
    assert _login(client, biz, password=PASSWORD).status_code == 200
    for _ in range(FREE_FAILURES - 1):
        assert error(_login(client, biz)) == (401, "invalid_credentials")
    # Without the reset this would be failure number 4 or more and be slowed down.
    assert error(_login(client, biz)) == (401, "invalid_credentials")


def _fail_until_locked(client: TestClient, clock: FakeClock, biz: Business) -> None:
    for _ in range(LOCK_AFTER):
        clock.advance(seconds=MAX_DELAY_S)
        assert error(_login(client, biz)) == (401, "invalid_credentials")


def test_ten_failures_lock_the_account(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    _fail_until_locked(client, clock, biz)
    locked_at = ctx.now_ms()
    r = _login(client, biz, password=PASSWORD)
    assert error(r) == (429, "account_locked")
    assert r.headers["Retry-After"] == str(LOCK_MINUTES * 60)
    failed = journal_entries(ctx, biz.tenant_id, "auth.login_failed")
    assert len(failed) == LOCK_AFTER
    [locked] = journal_entries(ctx, biz.tenant_id, "auth.account_locked")
    assert locked["user_id"] == biz.users["worker"]
    assert locked["failures"] == LOCK_AFTER
    assert locked["until"] == locked_at + LOCK_MINUTES * 60_000
    # Colleagues are not locked out with them.
    assert _login(client, biz, role="lead", password=PASSWORD).status_code == 200


def test_lock_expires_after_fifteen_minutes(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    _fail_until_locked(client, clock, biz)
    clock.advance(minutes=LOCK_MINUTES, seconds=-1)
    r = _login(client, biz, password=PASSWORD)
    assert error(r) == (429, "account_locked")
    assert r.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert _login(client, biz, password=PASSWORD).status_code == 200
    # Nothing was recorded for the refused attempts during the lock.
    assert len(journal_entries(ctx, biz.tenant_id, "auth.login_failed")) == LOCK_AFTER
    assert len(journal_entries(ctx, biz.tenant_id, "auth.account_locked")) == 1


def test_after_a_lock_the_count_starts_afresh(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    _fail_until_locked(client, clock, biz)
    clock.advance(minutes=LOCK_MINUTES)
    for _ in range(FREE_FAILURES):
        assert error(_login(client, biz)) == (401, "invalid_credentials")
    assert error(_login(client, biz)) == (429, "slow_down")


def test_disabled_account_cannot_log_in(ctx: AppContext, client: TestClient, biz: Business) -> None:
    ctx.write(lambda tx: do_change_user(tx, biz.actor("owner"), biz.users["worker"], disabled=True))
    assert error(_login(client, biz, password=PASSWORD)) == (403, "account_disabled")
    # Without the right password it reads like any other wrong password.
    assert error(_login(client, biz)) == (401, "invalid_credentials")


def test_login_upgrades_a_hash_with_old_parameters(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    old = Hasher(memory_kib=2048, time_cost=2, parallelism=1).hash(PASSWORD)
    ctx.write(
        lambda tx: tx.conn.execute(
            update(s.users).where(s.users.c.id == biz.users["worker"]).values(password_hash=old)
        )
    )
    assert _login(client, biz, password=PASSWORD).status_code == 200
    stored = _user(ctx, biz.users["worker"]).password_hash
    assert stored != old
    assert stored.startswith("$argon2id$")
    assert not ctx.hasher.needs_rehash(stored)
    assert _login(client, biz, password=PASSWORD).status_code == 200


def _guess_at_once(ctx: AppContext, biz: Business, email: str, n: int) -> dict[str, int]:
    """n wrong guesses released at the same moment (the clock stands still)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from zunft.accounts.login import login
    from zunft.errors import TooManyAttempts, Unauthenticated

    start = threading.Barrier(n)

    def guess(_: int) -> str:
        start.wait()
        try:
            login(
                ctx,
                tenant=biz.slug,
                email=email,
                password=WRONG,
                totp_code=None,
                device_name="Skript",
                kind="bearer",
            )
        except Unauthenticated:
            return "checked"
        except TooManyAttempts:
            return "throttled"
        return "in"

    with ThreadPoolExecutor(n) as pool:
        outcomes = list(pool.map(guess, range(n)))
    return {k: outcomes.count(k) for k in ("checked", "throttled", "in")}


def test_guesses_sent_at_once_are_throttled_like_guesses_in_a_row(
    ctx: AppContext, biz: Business
) -> None:
    got = _guess_at_once(ctx, biz, biz.emails["worker"], 12)
    # Only the free attempts get their password checked; the others wait like the fourth
    # attempt in a row would, although all of them arrived before any check had finished.
    assert got == {"checked": FREE_FAILURES, "throttled": 12 - FREE_FAILURES, "in": 0}
    assert _user(ctx, biz.users["worker"]).failed_logins == FREE_FAILURES
    assert len(journal_entries(ctx, biz.tenant_id, "auth.login_failed")) == FREE_FAILURES


def test_guesses_at_once_at_an_address_without_account_are_throttled_alike(
    ctx: AppContext, biz: Business
) -> None:
    got = _guess_at_once(ctx, biz, "niemand@mueller.example", 12)
    assert got == {"checked": FREE_FAILURES, "throttled": 12 - FREE_FAILURES, "in": 0}


def test_a_right_password_waiting_for_its_second_factor_is_no_failure(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    ctx.write(
        lambda tx: tx.conn.execute(
            update(s.users).where(s.users.c.id == biz.users["worker"]).values(totp_enabled=True)
        )
    )
    for _ in range(FREE_FAILURES + 2):  # the app asks for the code: no failure, no delay
        assert error(_login(client, biz, password=PASSWORD)) == (401, "totp_required")
    assert _user(ctx, biz.users["worker"]).failed_logins == 0
