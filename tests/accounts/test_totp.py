"""The optional TOTP second factor: set-up, login with a code, replay, disabling, and the
business-wide requirement for owner and office."""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import PASSWORD, Api, Business, error, journal_entries, login
from zunft.accounts.login import FREE_FAILURES, do_login_success
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.errors import Unauthenticated
from zunft.web.app import API


def _code(secret: str, clock: FakeClock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now(), counter_offset=steps)


def _set_up(api: Api, clock: FakeClock) -> str:
    r = api.post("/me/totp")
    assert r.status_code == 200, r.text
    secret: str = r.json()["secret"]
    r = api.post("/me/totp/confirm", {"code": _code(secret, clock)})
    assert r.status_code == 204, r.text
    return secret


def _login(client: TestClient, biz: Business, role: str, code: str | None = None) -> Any:
    body: dict[str, Any] = {
        "tenant": biz.slug,
        "email": biz.emails[role],
        "password": PASSWORD,
        "device_name": "Handy",
        "session_kind": "bearer",
    }
    if code is not None:
        body["totp_code"] = code
    return client.post("/api/v1/auth/login", json=body)


def _failed_logins(ctx: AppContext, user_id: str) -> int:
    return int(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(s.users.c.failed_logins).where(s.users.c.id == user_id)
            ).scalar_one()
        )
    )


def test_setup_returns_secret_and_provisioning_uri(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    api = login(client, biz, "lead")
    r = api.post("/me/totp")
    assert r.status_code == 200
    body = r.json()
    assert len(body["secret"]) >= 16
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert "issuer=zunft" in body["otpauth_uri"]
    # Not active before it is confirmed: login still works without a code.
    assert api.get("/me").json()["totp_enabled"] is False
    assert _login(client, biz, "lead").status_code == 200


def test_confirm_enables_it_and_is_journaled(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    api = login(client, biz, "lead")
    _set_up(api, clock)
    assert api.get("/me").json()["totp_enabled"] is True
    [entry] = journal_entries(ctx, biz.tenant_id, "user.totp_enabled")
    assert entry["user_id"] == biz.users["lead"]
    # The secret is stored encrypted, never in the clear.
    stored = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.users.c.totp_secret_enc).where(s.users.c.id == biz.users["lead"])
        ).scalar_one()
    )
    assert stored is not None


@pytest.mark.parametrize("bad", ["000000", "12345", "abcdef", ""])
def test_confirm_with_a_wrong_code_is_refused(
    client: TestClient, clock: FakeClock, biz: Business, bad: str
) -> None:
    api = login(client, biz, "lead")
    secret = api.post("/me/totp").json()["secret"]
    if bad == "000000" and _code(secret, clock) == bad:  # one in a million
        bad = "000001"
    assert error(api.post("/me/totp/confirm", {"code": bad})) == (422, "invalid_totp")
    assert api.get("/me").json()["totp_enabled"] is False
    assert _login(client, biz, "lead").status_code == 200


def test_confirm_before_setup_and_setup_twice(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    api = login(client, biz, "lead")
    assert error(api.post("/me/totp/confirm", {"code": "123456"})) == (409, "totp_not_started")
    secret = _set_up(api, clock)
    assert error(api.post("/me/totp")) == (409, "totp_already_enabled")
    clock.advance(seconds=30)
    r = api.post("/me/totp/confirm", {"code": _code(secret, clock)})
    assert error(r) == (409, "totp_already_enabled")


def test_login_then_requires_a_code(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    secret = _set_up(login(client, biz, "lead"), clock)
    clock.advance(seconds=30)
    assert error(_login(client, biz, "lead")) == (401, "totp_required")
    # Leaving the code out is not a guess: it does not count towards the lockout.
    assert _failed_logins(ctx, biz.users["lead"]) == 0
    r = _login(client, biz, "lead", _code(secret, clock))
    assert r.status_code == 200, r.text
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
    assert me.json()["id"] == biz.users["lead"]


def test_wrong_code_fails_and_counts_as_a_failure(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    secret = _set_up(login(client, biz, "lead"), clock)
    clock.advance(seconds=30)
    right = _code(secret, clock)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert error(_login(client, biz, "lead", wrong)) == (401, "invalid_totp")
    assert _failed_logins(ctx, biz.users["lead"]) == 1
    failed = journal_entries(ctx, biz.tenant_id, "auth.login_failed")
    assert [(e["user_id"], e["reason"]) for e in failed] == [(biz.users["lead"], "totp")]
    for _ in range(FREE_FAILURES - 1):
        assert error(_login(client, biz, "lead", wrong)) == (401, "invalid_totp")
    # Wrong codes throttle like wrong passwords, so the six digits cannot be tried through.
    assert error(_login(client, biz, "lead", right)) == (429, "slow_down")


def test_a_code_cannot_be_used_twice(client: TestClient, clock: FakeClock, biz: Business) -> None:
    secret = _set_up(login(client, biz, "lead"), clock)
    # The code that confirmed the set-up is spent.
    assert error(_login(client, biz, "lead", _code(secret, clock))) == (401, "invalid_totp")
    clock.advance(seconds=30)
    code = _code(secret, clock)
    assert _login(client, biz, "lead", code).status_code == 200
    assert error(_login(client, biz, "lead", code)) == (401, "invalid_totp")
    # Nor an older one that would still be inside the drift window.
    clock.advance(seconds=30)
    assert error(_login(client, biz, "lead", code)) == (401, "invalid_totp")
    assert _login(client, biz, "lead", _code(secret, clock)).status_code == 200


def test_one_step_of_clock_drift_is_allowed(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    secret = _set_up(login(client, biz, "lead"), clock)
    clock.advance(seconds=90)
    assert error(_login(client, biz, "lead", _code(secret, clock, -2))) == (401, "invalid_totp")
    assert _login(client, biz, "lead", _code(secret, clock, -1)).status_code == 200
    clock.advance(seconds=90)
    assert _login(client, biz, "lead", _code(secret, clock, +1)).status_code == 200


def test_concurrent_logins_cannot_both_spend_one_code(
    ctx: AppContext, clock: FakeClock, biz: Business
) -> None:
    # Two requests with the same code may both pass the check before either is recorded;
    # the writer must then admit only one of them.
    step = int(clock.now().timestamp()) // 30

    def success(tx: Any) -> Any:
        return do_login_success(
            tx,
            tenant_id=biz.tenant_id,
            user_id=biz.users["lead"],
            kind="bearer",
            device_name="Handy",
            days=90,
            totp_step=step,
            new_hash=None,
        )

    ctx.write(success)
    with pytest.raises(Unauthenticated) as info:
        ctx.write(success)
    assert info.value.code == "invalid_totp"
    sessions = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.sessions.c.id).where(s.sessions.c.user_id == biz.users["lead"])
        ).all()
    )
    assert len(sessions) == 1


def test_disable_needs_a_current_code(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    api = login(client, biz, "lead")
    secret = _set_up(api, clock)
    clock.advance(seconds=30)
    right = _code(secret, clock)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert error(api.post("/me/totp/disable", {"code": wrong})) == (422, "invalid_totp")
    assert api.get("/me").json()["totp_enabled"] is True
    assert api.post("/me/totp/disable", {"code": right}).status_code == 204
    assert api.get("/me").json()["totp_enabled"] is False
    assert _login(client, biz, "lead").status_code == 200
    [entry] = journal_entries(ctx, biz.tenant_id, "user.totp_disabled")
    assert entry["user_id"] == biz.users["lead"]
    assert error(api.post("/me/totp/disable", {"code": right})) == (409, "totp_not_started")


def test_disable_before_confirm(client: TestClient, biz: Business) -> None:
    api = login(client, biz, "lead")
    assert api.post("/me/totp").status_code == 200
    assert error(api.post("/me/totp/disable", {"code": "123456"})) == (409, "totp_not_enabled")


# --- the business requires a second factor for owner and office ---


def _require(api: Api, clock: FakeClock, on: bool = True) -> None:
    if on and not api.get("/me").json()["totp_enabled"]:
        _set_up(api, clock)  # an owner can only require what they have themselves
    r = api.patch("/tenant", {"require_totp_admins": on})
    assert r.status_code == 200, r.text
    assert r.json()["require_totp_admins"] is on


def test_only_an_owner_can_require_it(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    for role in ("office", "lead", "worker"):
        r = login(client, biz, role).patch("/tenant", {"require_totp_admins": True})
        assert error(r) == (403, "forbidden"), role
    owner = login(client, biz, "owner")
    assert owner.get("/tenant").json()["require_totp_admins"] is False
    # Requiring a second factor without having one would lock the owner's own session.
    assert error(owner.patch("/tenant", {"require_totp_admins": True})) == (409, "totp_setup_first")
    _require(owner, clock)
    [entry] = journal_entries(ctx, biz.tenant_id, "tenant.settings_changed")
    assert entry == {"require_totp_admins": True, "_actor": biz.users["owner"]}


RESTRICTED = [
    ("GET", "/users", None),
    ("GET", "/sessions", None),
    ("GET", "/tenant", None),
    ("GET", "/invitations", None),
    ("POST", "/invitations", {"role": "worker"}),
    ("POST", "/me/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
    ("POST", "/me/totp/disable", {"code": "123456"}),
    ("POST", "/sessions/revoke-others", None),
    ("GET", "/projects", None),
]


def _call(api: Api, method: str, path: str, body: Any) -> Any:
    if method == "GET":
        return api.get(path)
    return api.post(path, body)


def test_office_without_second_factor_may_only_set_it_up(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    _set_up(owner, clock)
    _require(owner, clock)
    # Logging in still works without a code: otherwise nobody could ever set one up.
    office = login(client, biz, "office")
    for method, path, body in RESTRICTED:
        r = _call(office, method, path, body)
        assert error(r) == (403, "totp_setup_required"), (method, path)
    me = office.get("/me")
    assert me.status_code == 200
    assert me.json()["totp_setup_required"] is True
    assert office.patch("/me", {"name": "Büro Müller"}).status_code == 200
    _set_up(office, clock)
    assert office.get("/me").json()["totp_setup_required"] is False
    assert office.get("/users").status_code == 200
    assert office.get("/sessions").status_code == 200
    # The owner, who has a second factor, was never restricted.
    assert owner.get("/users").status_code == 200


def test_restricted_session_can_log_out(
    client: TestClient, biz: Business, clock: FakeClock
) -> None:
    _require(login(client, biz, "owner"), clock)
    office = login(client, biz, "office")
    assert error(office.get("/users")) == (403, "totp_setup_required")
    assert office.post("/auth/logout").status_code == 204
    assert error(office.get("/me")) == (401, "session_invalid")


def test_requirement_applies_to_owner_and_office_only(
    client: TestClient, biz: Business, clock: FakeClock
) -> None:
    owner = login(client, biz, "owner")
    _require(owner, clock)
    for role in ("lead", "worker", "apprentice"):
        assert login(client, biz, role).get("/users").status_code == 200, role


def test_promotion_to_office_brings_the_requirement(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    _set_up(owner, clock)
    _require(owner, clock)
    lead = login(client, biz, "lead")
    assert lead.get("/users").status_code == 200
    assert owner.patch(f"/users/{biz.users['lead']}", {"role": "office"}).status_code == 200
    assert error(lead.get("/users")) == (403, "totp_setup_required")
    # Lifting the requirement frees them again.
    _require(owner, clock, on=False)
    assert lead.get("/users").status_code == 200


def test_mandatory_second_factor_cannot_be_disabled(
    client: TestClient, clock: FakeClock, biz: Business
) -> None:
    office = login(client, biz, "office")
    worker = login(client, biz, "worker")
    office_secret = _set_up(office, clock)
    worker_secret = _set_up(worker, clock)
    _require(login(client, biz, "owner"), clock)
    clock.advance(seconds=30)
    r = office.post("/me/totp/disable", {"code": _code(office_secret, clock)})
    assert error(r) == (403, "totp_mandatory")
    assert office.get("/me").json()["totp_enabled"] is True
    # Workers are not covered by the requirement and may still remove theirs.
    assert worker.post("/me/totp/disable", {"code": _code(worker_secret, clock)}).status_code == 204


def test_every_logged_in_route_is_closed_until_set_up(
    client: TestClient, biz: Business, clock: FakeClock
) -> None:
    # Walks the whole API as the OpenAPI document lists it, so routes added later are covered:
    # whatever answers "not_logged_in" to a stranger must answer "totp_setup_required" here.
    _require(login(client, biz, "owner"), clock)
    office = login(client, biz, "office")
    allowed = {("GET", "/me"), ("PATCH", "/me"), ("POST", "/me/totp")}
    allowed |= {("POST", "/me/totp/confirm"), ("POST", "/auth/logout")}
    spec = client.get(f"{API}/openapi.json").json()
    checked = []
    for template, operations in spec["paths"].items():
        path = re.sub(r"\{[^}]+\}", "00000000000000000000000000", template)
        for method in operations:
            method = method.upper()
            if method not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                continue
            r = client.request(method, path)
            if r.status_code != 401 or error(r) != (401, "not_logged_in"):
                continue  # public: login, invitation links, health
            key = (method, template.removeprefix(API))
            checked.append(key)
            if key == ("POST", "/auth/logout"):
                continue  # last, below
            r = client.request(method, path, headers=office.headers)
            if key in allowed:
                assert r.status_code != 403, key
            else:
                assert error(r) == (403, "totp_setup_required"), key
    assert allowed < set(checked)
    assert len(checked) >= 20
    assert office.post("/auth/logout").status_code == 204


def test_the_set_up_answer_carries_the_link_as_an_svg_qr_code(
    client: TestClient, biz: Business
) -> None:
    api = login(client, biz, "worker")
    r = api.post("/me/totp")
    assert r.status_code == 200, r.text
    svg = r.json()["qr_svg"]
    # A standalone SVG document (namespace, viewBox) for the app to parse as SVG; no inline
    # style (the app's CSP forbids it) and nothing scriptable.
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ')
    assert not re.search(r"style|script|foreignObject|on[a-z]+=", svg, re.I)
    assert "<path " in svg
