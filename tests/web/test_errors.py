"""The API's error contract: every error is JSON {"error": {"code", "message"}} with a stable
code and a clear 4xx status, and a rejected write stores nothing at all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Api, Business, login
from tests.web.helpers import (
    assert_error,
    general_chat_id,
    nothing_stored,
    raw,
    row_counts,
)
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.ids import new_id
from zunft.web.app import create_app

MAX_TEXT = 10_000


@pytest.fixture
def owner(client: TestClient, biz: Business) -> Api:
    return login(client, biz, "owner")


@pytest.fixture
def chat(owner: Api) -> str:
    return general_chat_id(owner)


def _msg(text: str = "Bin um 8 auf der Baustelle.", **extra: Any) -> dict[str, Any]:
    return {"client_id": f"c-{new_id()}", "text": text, **extra}


def _encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


# --- the counting helper itself must see a stored write, or every "unchanged" proves nothing ---


def test_a_successful_send_is_counted(ctx: AppContext, owner: Api, chat: str) -> None:
    before = row_counts(ctx)
    r = owner.post(f"/chats/{chat}/messages", json=_msg())
    assert r.status_code == 201, r.text
    after = row_counts(ctx)
    assert after["messages"] == before["messages"] + 1
    assert after["journal"] > before["journal"]
    assert after["client_writes"] == before["client_writes"] + 1


# --- malformed requests: every kind of broken body, each its own code, nothing stored ---

J = "application/json"
BAD_BODIES: list[tuple[str, Callable[[], bytes], str | None, int, str]] = [
    # id, body, content type, status, code
    ("unknown_field", lambda: _encoded(_msg(colour="rot")), J, 422, "unknown_field"),
    ("missing_field", lambda: b'{"client_id": "c-12345678"}', J, 422, "validation_error"),
    ("wrong_type", lambda: _encoded(_msg(text=42)), J, 422, "validation_error"),
    ("not_an_object", lambda: b"[1, 2, 3]", J, 422, "validation_error"),
    ("json_null", lambda: b"null", J, 422, "validation_error"),
    ("empty_body", lambda: b"", J, 422, "validation_error"),
    ("nan", lambda: b'{"client_id": "c-12345678", "text": NaN}', J, 422, "validation_error"),
    ("nul_in_string", lambda: _encoded(_msg(text="a\x00b")), J, 422, "validation_error"),
    (
        "lone_surrogate",
        lambda: b'{"client_id": "c-1234567", "text": "\\ud800"}',
        J,
        422,
        "validation_error",
    ),
    ("truncated_json", lambda: b'{"client_id": "c-12345678", "te', J, 400, "malformed_json"),
    ("trailing_comma", lambda: b'{"text": "Hallo",}', J, 400, "malformed_json"),
    ("deeply_nested", lambda: b"[" * 100_000 + b"]" * 100_000, J, 400, "malformed_json"),
    ("too_many_digits", lambda: b'{"text": ' + b"9" * 5000 + b"}", J, 400, "malformed_json"),
    ("latin1_body", lambda: '{"text": "Grüße"}'.encode("latin-1"), J, 400, "invalid_utf8"),
    ("utf16_body", lambda: '{"text": "Grüße"}'.encode("utf-16"), J, 400, "invalid_utf8"),
    ("text_plain", lambda: _encoded(_msg()), "text/plain", 415, "unsupported_media_type"),
    (
        "form",
        lambda: b"text=Hallo",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
    ),
    ("no_content_type", lambda: _encoded(_msg()), None, 415, "unsupported_media_type"),
    ("text_too_long", lambda: _encoded(_msg("x" * (MAX_TEXT + 1))), J, 422, "text_too_long"),
    ("text_far_too_long", lambda: _encoded(_msg("Ä" * 50_000)), J, 422, "text_too_long"),
    ("text_blank", lambda: _encoded(_msg("  \n ")), J, 422, "empty_text"),
    (
        "bad_client_id",
        lambda: b'{"client_id": "kurz", "text": "Hallo"}',
        J,
        422,
        "invalid_client_id",
    ),
]


def test_bad_sends_are_clear_4xx_and_store_nothing(ctx: AppContext, owner: Api, chat: str) -> None:
    # One test walks the table (a fixture setup per case would cost a minute); every case that
    # fails is named at the end.
    wrong = []
    for case, body, content_type, status, code in BAD_BODIES:
        before = row_counts(ctx)
        r = raw(owner, "POST", f"/chats/{chat}/messages", body(), content_type)
        try:
            assert_error(r, status, code)
        except AssertionError as exc:
            wrong.append(f"{case}: {exc}")
        if row_counts(ctx) != before:
            wrong.append(f"{case}: stored something")
    assert not wrong, "\n".join(wrong)


def test_validation_errors_name_the_fields(owner: Api, chat: str) -> None:
    r = owner.post(f"/chats/{chat}/messages", json={"text": 1, "client_id": "c-12345678", "x": 1})
    error = assert_error(r, 422, "unknown_field")
    fields = {f["field"] for f in error["details"]["fields"]}
    assert {"x", "text"} <= fields


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/projects", {"name": "Bad\x00name"}),
        ("POST", "/chats/channels", {"title": "Lager\x00"}),
        ("POST", "/invitations", {"role": "worker", "note": "\x00"}),
        ("PATCH", "/me", {"name": "Eva\x00"}),
    ],
)
def test_nul_in_any_field_is_refused_before_the_database(
    ctx: AppContext, owner: Api, method: str, path: str, body: dict[str, Any]
) -> None:
    # PostgreSQL refuses NUL in text: this was a 500 there, and stored on SQLite.
    with nothing_stored(ctx):
        r = raw(owner, method, path, _encoded(body))
        assert_error(r, 422, "validation_error")


@pytest.mark.parametrize(
    "path",
    [
        "/chats/abc%00def",
        "/chats/{chat}/messages?before=%00",
        "/search?q=Rohr&chat_id=x%00y",
        "/projects?status=active%00",
    ],
)
def test_nul_in_the_address_is_refused(owner: Api, chat: str, path: str) -> None:
    assert_error(owner.get(path.format(chat=chat)), 400, "invalid_characters")


@pytest.mark.parametrize("param", ["before", "after"])
def test_cursor_beyond_64_bits_is_a_validation_error(owner: Api, chat: str, param: str) -> None:
    # Was a 500: the driver cannot bind an integer the database cannot hold.
    r = owner.get(f"/chats/{chat}/messages", params={param: 2**63})
    assert_error(r, 422, "validation_error")
    r = owner.get(f"/chats/{chat}/messages", params={param: 2**63 - 1})
    assert r.status_code == 200, r.text
    r = owner.get("/search", params={"q": "Rohr", "before": 10**30})
    assert_error(r, 422, "validation_error")


# --- text length: the limit is 10,000 characters after trimming ---


def test_text_at_the_limit_is_sent(owner: Api, chat: str) -> None:
    for text in ("ü" * MAX_TEXT, "\n  " + "x" * MAX_TEXT + "  \n"):
        r = owner.post(f"/chats/{chat}/messages", json=_msg(text))
        assert r.status_code == 201, r.text[:200]
        assert len(r.json()["text"]) == MAX_TEXT


def test_editing_to_too_long_a_text_stores_nothing(ctx: AppContext, owner: Api, chat: str) -> None:
    sent = owner.post(f"/chats/{chat}/messages", json=_msg("Erste Fassung")).json()
    for text in ("y" * (MAX_TEXT + 1), "y" * 60_000):
        with nothing_stored(ctx):
            r = owner.patch(f"/messages/{sent['id']}", json={"text": text})
            assert_error(r, 422, "text_too_long")
    history = owner.get(f"/chats/{chat}/messages").json()["messages"]
    assert [m["text"] for m in history] == ["Erste Fassung"]


# --- body size: settings.max_body_bytes, however the client declares (or hides) the size ---


def _body_of_size(size: int) -> bytes:
    """A valid send body of exactly `size` bytes."""
    shell = _encoded(_msg(""))
    body = _encoded(_msg("x" * (size - len(shell))))
    assert len(body) == size
    return body


def test_default_body_limit_is_one_mebibyte(ctx: AppContext) -> None:
    assert ctx.settings.max_body_bytes == 1_048_576


def test_body_at_the_limit_passes_the_guard(ctx: AppContext, owner: Api, chat: str) -> None:
    limit = ctx.settings.max_body_bytes
    with nothing_stored(ctx):
        r = raw(owner, "POST", f"/chats/{chat}/messages", _body_of_size(limit))
        assert_error(r, 422, "text_too_long")  # reached the domain: not a size problem


def test_body_over_the_limit_with_honest_length(ctx: AppContext, owner: Api, chat: str) -> None:
    body = _body_of_size(ctx.settings.max_body_bytes + 1)
    with nothing_stored(ctx):
        r = raw(owner, "POST", f"/chats/{chat}/messages", body)
        assert r.request.headers["content-length"] == str(len(body))
        assert_error(r, 413, "body_too_large")


def test_body_over_the_limit_with_lying_length(ctx: AppContext, owner: Api, chat: str) -> None:
    body = _body_of_size(ctx.settings.max_body_bytes + 1)
    with nothing_stored(ctx):
        r = raw(owner, "POST", f"/chats/{chat}/messages", body, **{"Content-Length": "20"})
        assert r.request.headers["content-length"] == "20"  # the lie reached the server
        assert_error(r, 413, "body_too_large")


def test_streamed_body_without_length(ctx: AppContext, owner: Api, chat: str) -> None:
    chunk = b" " * 65_536  # whitespace: valid JSON padding, so only the size is wrong
    n = ctx.settings.max_body_bytes // len(chunk) + 1

    def stream() -> Iterator[bytes]:
        yield b'{"client_id": "c-12345678", "text": "Hallo"}'
        for _ in range(n):
            yield chunk

    with nothing_stored(ctx):
        r = raw(owner, "POST", f"/chats/{chat}/messages", stream())
        assert "content-length" not in r.request.headers
        assert r.request.headers["transfer-encoding"] == "chunked"
        assert_error(r, 413, "body_too_large")


def _asgi_post(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, bytes, int]:
    """POST through the ASGI interface itself, the body in many receive() messages as a server
    delivers a chunked upload. Returns (status, body, chunks the app pulled)."""
    pulled = 0
    out: dict[str, Any] = {"body": b""}
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled == len(chunks):
            await done.wait()  # the client stays until it has its answer
            return {"type": "http.disconnect"}
        pulled += 1
        more = pulled < len(chunks)
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")
            if not message.get("more_body", False):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    asyncio.run(app(scope, receive, send))
    return out["status"], out["body"], pulled


def test_guard_stops_reading_a_chunked_body_once_it_is_too_large(
    ctx: AppContext, owner: Api, chat: str
) -> None:
    app = create_app(ctx)
    headers = [
        (b"authorization", owner.headers["Authorization"].encode()),
        (b"content-type", b"application/json"),
        (b"content-length", b"45"),  # a lie, and the guard must not believe it
    ]
    chunk = b" " * 65_536
    chunks = [b'{"client_id": "c-12345678", "text": "Hallo"}'] + [chunk] * 100
    with nothing_stored(ctx):
        status, body, pulled = _asgi_post(app, f"/api/v1/chats/{chat}/messages", headers, chunks)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "body_too_large"
    assert pulled <= ctx.settings.max_body_bytes // len(chunk) + 2  # did not drain 6.5 MB


def test_guard_reassembles_a_chunked_body(ctx: AppContext, owner: Api, chat: str) -> None:
    app = create_app(ctx)
    headers = [
        (b"authorization", owner.headers["Authorization"].encode()),
        (b"content-type", b"application/json"),
    ]
    body = _encoded(_msg("Grüße von der Baustelle"))
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]  # splits the ü's UTF-8 bytes
    status, answer, _ = _asgi_post(app, f"/api/v1/chats/{chat}/messages", headers, chunks)
    assert status == 201, answer
    assert json.loads(answer)["text"] == "Grüße von der Baustelle"


# --- routes and methods ---


@pytest.mark.parametrize(
    "path", ["/api/v1/gibtsnicht", "/api/v2/chats", "/gibtsnicht", "/index.html"]
)
def test_unknown_route_is_json_404(client: TestClient, path: str) -> None:
    assert_error(client.get(path), 404, "not_found")


def test_unknown_route_with_a_body_is_json_404(ctx: AppContext, owner: Api) -> None:
    with nothing_stored(ctx):
        assert_error(owner.post("/gibtsnicht", json={"a": 1}), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/chats", {"GET"}),
        ("DELETE", "/projects", {"GET", "POST"}),
        ("GET", "/auth/login", {"POST"}),
        ("PUT", "/chats/{chat}/messages", {"GET", "POST"}),
    ],
)
def test_wrong_method_is_json_405_with_allow(
    ctx: AppContext, owner: Api, chat: str, method: str, path: str, allowed: set[str]
) -> None:
    with nothing_stored(ctx):
        r = owner.client.request(
            method, f"/api/v1{path.format(chat=chat)}", headers=owner.headers, json={}
        )
        assert_error(r, 405, "method_not_allowed")
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


# --- sessions: missing, garbage, wrong scheme, expired, revoked ---


def _send_as(client: TestClient, chat: str, headers: dict[str, str]) -> Any:
    return client.post(f"/api/v1/chats/{chat}/messages", json=_msg(), headers=headers)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "not_logged_in"),
        ({"Authorization": "Bearer " + "A" * 43}, "session_invalid"),
        ({"Authorization": "Bearer "}, "invalid_authorization"),
        ({"Authorization": "Basic b3duZXI6cGFzcw=="}, "invalid_authorization"),
        ({"Cookie": "zunft_session=garbage"}, "session_invalid"),
    ],
)
def test_no_valid_session_is_401(
    ctx: AppContext, client: TestClient, chat: str, headers: dict[str, str], code: str
) -> None:
    with nothing_stored(ctx):
        assert_error(_send_as(client, chat, headers), 401, code)
        r = client.get("/api/v1/chats", headers=headers)
        assert_error(r, 401, code)
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_expired_session_is_401(ctx: AppContext, owner: Api, chat: str, clock: FakeClock) -> None:
    clock.advance(days=ctx.settings.session_days - 1)
    assert owner.get("/chats").status_code == 200  # still valid the day before
    ctx.write(lambda tx: None)  # that use extended the session (the touch is queued FIFO)
    clock.advance(days=ctx.settings.session_days - 1)
    assert owner.get("/chats").status_code == 200
    ctx.write(lambda tx: None)
    clock.advance(days=ctx.settings.session_days, seconds=1)  # unused for too long
    with nothing_stored(ctx):
        assert_error(_send_as(owner.client, chat, owner.headers), 401, "session_expired")
        assert_error(owner.get("/chats"), 401, "session_expired")


def test_revoked_session_is_401(
    ctx: AppContext, client: TestClient, biz: Business, chat: str
) -> None:
    phone = login(client, biz, "worker", device="Handy")
    laptop = login(client, biz, "worker", device="Laptop")
    sessions = laptop.get("/sessions").json()["sessions"]
    [phone_session] = [s["id"] for s in sessions if s["device_name"] == "Handy"]
    assert phone.get("/chats").status_code == 200
    assert laptop.delete(f"/sessions/{phone_session}").status_code == 204
    with nothing_stored(ctx):
        assert_error(_send_as(client, chat, phone.headers), 401, "session_invalid")
    # Logging out revokes the session that did it.
    assert laptop.post("/auth/logout").status_code == 204
    with nothing_stored(ctx):
        assert_error(laptop.get("/chats"), 401, "session_invalid")


def test_disabled_user_is_401(
    ctx: AppContext, owner: Api, client: TestClient, biz: Business, chat: str
) -> None:
    worker = login(client, biz, "worker")
    r = owner.patch(f"/users/{biz.users['worker']}", json={"disabled": True})
    assert r.status_code == 200, r.text
    with nothing_stored(ctx):
        assert_error(_send_as(client, chat, worker.headers), 401, "session_invalid")


# --- an unexpected failure is still the JSON shape, with the security headers ---


def test_unexpected_error_is_json_500_with_security_headers(ctx: AppContext) -> None:
    app = create_app(ctx)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/test-boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/test-boom")
    error = assert_error(r, 500, "internal_error")
    assert "a bug" not in error["message"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["content-security-policy"]


# --- idempotency by client_id ---


def test_same_client_id_twice_returns_the_first_message(
    ctx: AppContext, owner: Api, chat: str
) -> None:
    body = _msg("Material ist da.")
    first = owner.post(f"/chats/{chat}/messages", json=body)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    before = row_counts(ctx)
    second = owner.post(f"/chats/{chat}/messages", json=body)
    assert second.status_code == 201, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert row_counts(ctx) == before
    texts = [m["text"] for m in owner.get(f"/chats/{chat}/messages").json()["messages"]]
    assert texts == ["Material ist da."]


@pytest.mark.parametrize(
    "change", [{"text": "Material fehlt."}, {"text": "Material ist da. "}, {"mentions": ["x"]}]
)
def test_reused_client_id_with_a_different_request_is_409(
    ctx: AppContext, owner: Api, chat: str, change: dict[str, Any]
) -> None:
    body = _msg("Material ist da.")
    first = owner.post(f"/chats/{chat}/messages", json=body)
    assert first.status_code == 201, first.text
    with nothing_stored(ctx):
        r = owner.post(f"/chats/{chat}/messages", json={**body, **change})
        assert_error(r, 409, "client_id_reused")


def test_reused_client_id_in_another_chat_is_409(
    ctx: AppContext, owner: Api, chat: str, biz: Business
) -> None:
    other = owner.post("/chats/direct", json={"user_id": biz.users["worker"]}).json()["id"]
    body = _msg("Material ist da.")
    assert owner.post(f"/chats/{chat}/messages", json=body).status_code == 201
    with nothing_stored(ctx):
        assert_error(owner.post(f"/chats/{other}/messages", json=body), 409, "client_id_reused")


def test_client_ids_belong_to_their_user(
    ctx: AppContext, owner: Api, client: TestClient, biz: Business, chat: str
) -> None:
    worker = login(client, biz, "worker")
    body = _msg("Feierabend!")
    a = owner.post(f"/chats/{chat}/messages", json=body)
    b = worker.post(f"/chats/{chat}/messages", json=body)
    assert (a.status_code, b.status_code) == (201, 201)
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]


def test_a_rejected_first_try_does_not_use_up_the_client_id(
    ctx: AppContext, owner: Api, chat: str
) -> None:
    body = _msg("x" * (MAX_TEXT + 1))
    with nothing_stored(ctx):
        assert_error(owner.post(f"/chats/{chat}/messages", json=body), 422, "text_too_long")
    r = owner.post(f"/chats/{chat}/messages", json={**body, "text": "kurz"})
    assert r.status_code == 201, r.text
    assert "idempotent-replayed" not in r.headers


def test_concurrent_retries_store_one_message(ctx: AppContext, owner: Api, chat: str) -> None:
    body = _msg("Gerüst steht, Abnahme morgen.")
    before = row_counts(ctx)
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(lambda _: owner.post(f"/chats/{chat}/messages", json=body), range(16))
        )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    fresh = [r for r in responses if "idempotent-replayed" not in r.headers]
    assert len(fresh) == 1
    after = row_counts(ctx)
    assert after["messages"] == before["messages"] + 1
    assert after["client_writes"] == before["client_writes"] + 1
    history = owner.get(f"/chats/{chat}/messages").json()["messages"]
    assert [m["id"] for m in history] == [responses[0].json()["id"]]
