"""Device sessions: cookie sessions with CSRF protection, bearer tokens, the device list,
revoking one device or all others, logout and expiry."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import PASSWORD, Business, error, journal_entries, login, make_business
from zunft.accounts.sessions import DAY_MS, TOUCH_INTERVAL_MS
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.web.deps import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE

BASE = "http://127.0.0.1:8080"


@pytest.fixture
def browser(client: TestClient) -> Iterator[TestClient]:
    """A second client with its own cookie jar: the web app in a browser."""
    with TestClient(client.app, base_url=BASE) as c:
        yield c


def _cookie_login(
    c: TestClient, biz: Business, role: str = "worker", headers: dict[str, str] | None = None
) -> Any:
    r = c.post(
        "/api/v1/auth/login",
        json={
            "tenant": biz.slug,
            "email": biz.emails[role],
            "password": PASSWORD,
            "device_name": "Firefox im Büro",
            "session_kind": "cookie",
        },
        headers=headers or {},
    )
    assert r.status_code == 200, r.text
    return r


def _set_cookies(response: Any) -> dict[str, Any]:
    jar: dict[str, Any] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            jar[name] = morsel
    return jar


def test_cookie_session_sets_httponly_samesite_cookie(
    ctx: AppContext, browser: TestClient, biz: Business
) -> None:
    r = _cookie_login(browser, biz)
    body = r.json()
    assert "token" not in body  # the session secret stays in the HttpOnly cookie
    cookies = _set_cookies(r)
    session, csrf = cookies[SESSION_COOKIE], cookies[CSRF_COOKIE]
    assert session["httponly"] is True
    assert session["samesite"].lower() == "lax"
    assert session["path"] == "/"
    assert not session["secure"]  # plain http on loopback
    assert int(session["max-age"]) == ctx.settings.session_days * 86_400
    # The CSRF token is readable by the web app, which echoes it in a header.
    assert not csrf["httponly"]
    assert csrf["samesite"].lower() == "strict"
    assert csrf.value == body["csrf_token"]
    assert session.value != csrf.value
    me = browser.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == biz.users["worker"]


def test_cookie_is_secure_behind_an_https_proxy(browser: TestClient, biz: Business) -> None:
    r = _cookie_login(browser, biz, headers={"X-Forwarded-Proto": "https"})
    cookies = _set_cookies(r)
    assert cookies[SESSION_COOKIE]["secure"] is True
    assert cookies[CSRF_COOKIE]["secure"] is True


def test_cookie_is_secure_when_public_url_is_https(
    ctx: AppContext, browser: TestClient, biz: Business
) -> None:
    ctx.settings = ctx.settings.with_overrides(public_url="https://zunft.example.de")
    cookies = _set_cookies(_cookie_login(browser, biz))
    assert cookies[SESSION_COOKIE]["secure"] is True
    assert cookies[CSRF_COOKIE]["secure"] is True


def test_writes_with_a_cookie_need_the_csrf_header(
    client: TestClient, browser: TestClient, biz: Business
) -> None:
    csrf = _cookie_login(browser, biz).json()["csrf_token"]
    other_csrf = _cookie_login(client, biz, role="lead").json()["csrf_token"]
    for headers in ({}, {CSRF_HEADER: "falsch"}, {CSRF_HEADER: other_csrf}, {CSRF_HEADER: ""}):
        r = browser.patch("/api/v1/me", json={"name": "Angreifer"}, headers=headers)
        assert error(r) == (403, "csrf_failed"), headers
        assert error(browser.post("/api/v1/auth/logout", headers=headers)) == (403, "csrf_failed")
        r = browser.post("/api/v1/sessions/revoke-others", headers=headers)
        assert error(r) == (403, "csrf_failed")
    # Nothing was changed by the refused requests, and reading needs no token.
    me = browser.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["name"] == "Worker mueller"
    r = browser.patch("/api/v1/me", json={"name": "Wolfgang"}, headers={CSRF_HEADER: csrf})
    assert r.status_code == 200
    assert r.json()["name"] == "Wolfgang"


def test_bearer_tokens_need_no_csrf_header(client: TestClient, biz: Business) -> None:
    api = login(client, biz, "worker")
    r = api.patch("/me", {"name": "Wolfgang"})
    assert r.status_code == 200
    assert r.json()["name"] == "Wolfgang"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "not_logged_in"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "invalid_authorization"),
        ({"Authorization": "Bearer "}, "invalid_authorization"),
        ({"Authorization": "Bearer erfunden"}, "session_invalid"),
    ],
)
def test_requests_without_a_valid_session(
    client: TestClient, biz: Business, headers: dict[str, str], code: str
) -> None:
    assert error(client.get("/api/v1/me", headers=headers)) == (401, code)


def test_device_list_shows_name_and_last_seen(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    phone = login(client, biz, "worker", device="Handy Monteur")
    logged_in = ctx.now_ms()
    clock.advance(minutes=1)
    pc = login(client, biz, "worker", device="Büro-PC")
    login(client, biz, "lead", device="Fremdes Gerät")  # a colleague's device is not listed
    r = pc.get("/sessions")
    assert r.status_code == 200
    sessions = r.json()["sessions"]
    assert [(x["device_name"], x["kind"], x["current"]) for x in sessions] == [
        ("Büro-PC", "bearer", True),
        ("Handy Monteur", "bearer", False),
    ]
    assert sessions[1]["last_seen_at"] == sessions[1]["created_at"] == logged_in
    # Using the phone later refreshes its "last seen", at most every few minutes.
    clock.advance(milliseconds=TOUCH_INTERVAL_MS + 1)
    assert phone.get("/me").status_code == 200
    used = ctx.now_ms()
    ctx.write(lambda tx: None)  # the writer is FIFO: the refresh queued before this has run
    assert _last_seen(ctx, biz.users["worker"]) == {
        "Handy Monteur": used,
        "Büro-PC": logged_in + 60_000,
    }
    clock.advance(milliseconds=TOUCH_INTERVAL_MS - 1)
    assert phone.get("/me").status_code == 200
    ctx.write(lambda tx: None)
    assert _last_seen(ctx, biz.users["worker"])["Handy Monteur"] == used


def _last_seen(ctx: AppContext, user_id: str) -> dict[str, int]:
    rows = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.sessions.c.device_name, s.sessions.c.last_seen_at).where(
                s.sessions.c.user_id == user_id
            )
        ).all()
    )
    return {r.device_name: r.last_seen_at for r in rows}


def test_revoking_another_device_ends_it_at_once(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    phone = login(client, biz, "worker", device="Handy")
    pc = login(client, biz, "worker", device="PC")
    [phone_session] = [x for x in pc.get("/sessions").json()["sessions"] if not x["current"]]
    assert phone.get("/me").status_code == 200
    assert pc.delete(f"/sessions/{phone_session['id']}").status_code == 204
    assert error(phone.get("/me")) == (401, "session_invalid")
    assert pc.get("/me").status_code == 200
    assert [x["device_name"] for x in pc.get("/sessions").json()["sessions"]] == ["PC"]
    [entry] = journal_entries(ctx, biz.tenant_id, "session.revoked")
    assert entry == {
        "session_id": phone_session["id"],
        "user_id": biz.users["worker"],
        "_actor": biz.users["worker"],
    }
    # Revoked is revoked: a second try finds nothing.
    assert error(pc.delete(f"/sessions/{phone_session['id']}")) == (404, "not_found")


def test_sessions_of_others_answer_like_unknown_ones(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    other = make_business(ctx, slug="schulz", name="Schulz Elektro")
    victim = login(client, biz, "worker", device="Handy")
    victim_id = victim.get("/sessions").json()["sessions"][0]["id"]
    unknown = login(client, biz, "lead").delete("/sessions/00000000000000000000000000")
    for attacker in (
        login(client, biz, "owner"),  # even the owner of the same business
        login(client, other, "owner"),
        login(client, other, "worker"),
    ):
        r = attacker.delete(f"/sessions/{victim_id}")
        assert (r.status_code, r.json()) == (unknown.status_code, unknown.json())
        assert victim_id not in {x["id"] for x in attacker.get("/sessions").json()["sessions"]}
    assert error(unknown) == (404, "not_found")
    assert victim.get("/me").status_code == 200


def test_logout_ends_a_bearer_session(ctx: AppContext, client: TestClient, biz: Business) -> None:
    api = login(client, biz, "worker")
    other = login(client, biz, "worker", device="Zweitgerät")
    assert api.post("/auth/logout").status_code == 204
    assert error(api.get("/me")) == (401, "session_invalid")
    assert error(api.post("/auth/logout")) == (401, "session_invalid")
    assert other.get("/me").status_code == 200
    assert len(journal_entries(ctx, biz.tenant_id, "session.revoked")) == 1


def test_logout_ends_a_cookie_session_and_clears_the_cookies(
    browser: TestClient, biz: Business
) -> None:
    csrf = _cookie_login(browser, biz).json()["csrf_token"]
    token = browser.cookies[SESSION_COOKIE]
    r = browser.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf})
    assert r.status_code == 204
    cleared = _set_cookies(r)
    assert {SESSION_COOKIE, CSRF_COOKIE} <= set(cleared)
    assert all(cleared[n].value == "" or cleared[n]["max-age"] == "0" for n in cleared)
    assert error(browser.get("/api/v1/me")) == (401, "not_logged_in")
    # A copy of the old cookie is worth nothing either.
    browser.cookies.set(SESSION_COOKIE, token)
    assert error(browser.get("/api/v1/me")) == (401, "session_invalid")


def test_revoke_others_keeps_only_this_device(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    here = login(client, biz, "worker", device="Hier")
    there = [login(client, biz, "worker", device=f"Gerät {i}") for i in range(2)]
    colleague = login(client, biz, "lead")
    r = here.post("/sessions/revoke-others")
    assert r.status_code == 200
    assert r.json() == {"revoked": 2}
    for api in there:
        assert error(api.get("/me")) == (401, "session_invalid")
    assert here.get("/me").status_code == 200
    assert colleague.get("/me").status_code == 200
    assert [x["device_name"] for x in here.get("/sessions").json()["sessions"]] == ["Hier"]
    assert len(journal_entries(ctx, biz.tenant_id, "session.revoked")) == 2
    assert here.post("/sessions/revoke-others").json() == {"revoked": 0}


def test_sessions_expire_after_session_days_unused(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    ctx.settings = ctx.settings.with_overrides(session_days=3)
    idle = login(client, biz, "worker", device="Liegt im Auto")
    used = login(client, biz, "apprentice", device="Handy")
    body = client.post(
        "/api/v1/auth/login",
        json={
            "tenant": biz.slug,
            "email": biz.emails["lead"],
            "password": PASSWORD,
            "session_kind": "bearer",
        },
    ).json()
    assert body["expires_at"] == ctx.now_ms() + 3 * DAY_MS
    clock.advance(days=2)
    assert used.get("/me").status_code == 200  # seen: its three days start again
    ctx.write(lambda tx: None)  # the writer is FIFO: the touch above has landed
    clock.advance(days=1)  # the idle device was not seen for its three days
    assert error(idle.get("/me")) == (401, "session_expired")
    clock.advance(days=2, milliseconds=-1)
    assert used.get("/me").status_code == 200  # seen on day 2, so alive until day 5
    ctx.write(lambda tx: None)
    clock.advance(days=3)
    assert error(used.get("/me")) == (401, "session_expired")
    fresh = login(client, biz, "worker", device="Neu")
    # An expired session is not listed among the devices any more.
    assert [x["device_name"] for x in fresh.get("/sessions").json()["sessions"]] == ["Neu"]


def test_revoke_others_leaves_expired_sessions_alone(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    ctx.settings = ctx.settings.with_overrides(session_days=3)
    login(client, biz, "worker", device="Altes Handy")
    clock.advance(days=2)
    here = login(client, biz, "worker", device="Hier")
    login(client, biz, "worker", device="Tablet")
    clock.advance(days=1)
    # The old phone's session has ended by itself: there is nothing left to revoke there.
    assert here.post("/sessions/revoke-others").json() == {"revoked": 1}
    assert len(journal_entries(ctx, biz.tenant_id, "session.revoked")) == 1
