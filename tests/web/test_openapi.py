"""The OpenAPI document is valid and tells the truth about the API's prefix and error shape;
every response carries the security headers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from tests.factories import Api, Business, login
from tests.web.helpers import general_chat_id, raw
from zunft.ids import new_id

API = "/api/v1"
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


@pytest.fixture
def doc(client: TestClient) -> dict[str, Any]:
    r = client.get(f"{API}/openapi.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = r.json()
    return document


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _fill(template: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: new_id(), template)


def test_document_is_valid_openapi(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.")
    validate(doc)  # raises on any violation of the OpenAPI schema, or an unresolvable $ref
    assert doc["info"]["title"] == "zunft"
    assert len(_operations(doc)) >= 30


def test_every_operation_is_described(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    for method, path, op in _operations(doc):
        assert op.get("summary"), f"{method.upper()} {path} has no summary"
        assert op.get("tags"), f"{method.upper()} {path} has no tag"


def test_no_two_paths_differ_only_in_parameter_names(doc: dict[str, Any]) -> None:
    # OpenAPI 3.1, Paths Object: "Templated paths with the same hierarchy but different
    # templated names MUST NOT exist as they are identical." The validator does not check it.
    seen: dict[str, str] = {}
    clashes = []
    for path in doc["paths"]:
        shape = re.sub(r"\{[^}]+\}", "{}", path)
        if shape in seen:
            clashes.append((seen[shape], path))
        seen[shape] = path
    assert not clashes


def _may_match_the_same_path(a: str, b: str) -> bool:
    left, right = a.split("/"), b.split("/")
    return len(left) == len(right) and all(
        x == y or x.startswith("{") or y.startswith("{") for x, y in zip(left, right, strict=True)
    )


def test_no_two_operations_can_answer_one_request(doc: dict[str, Any]) -> None:
    """web/app.py puts the busiest routers first for speed: that is only safe while no
    request can match two routes, so the order never decides which one answers."""
    ops = [(method, path) for method, path, _op in _operations(doc)]
    assert len(ops) > 100
    assert not any(":" in path for _method, path in ops)  # no {x:path}, which spans segments
    overlaps = [
        (m1, p1, p2)
        for i, (m1, p1) in enumerate(ops)
        for m2, p2 in ops[i + 1 :]
        if m1 == m2 and p1 != p2 and _may_match_the_same_path(p1, p2)
    ]
    assert not overlaps


def test_every_path_is_under_api_v1(client: TestClient, doc: dict[str, Any]) -> None:
    paths = list(doc["paths"])
    assert all(p.startswith(f"{API}/") for p in paths), paths
    # Nothing answers outside the prefix: not the API's paths without it, not FastAPI's
    # documentation pages (they load scripts from other hosts), not the document itself.
    outside = {_fill(p.removeprefix(API)) for p in paths}
    outside |= {"/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect", f"{API}/docs"}
    for path in sorted(outside):
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert r.json()["error"]["code"] == "not_found"


def _schema(doc: dict[str, Any], op: dict[str, Any], status: str) -> dict[str, Any]:
    responses = op["responses"]
    response = responses.get(status) or responses.get(f"{status[0]}XX") or responses["default"]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def _assert_documented(doc: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The response body validates against the schema the document gives for its status."""
    op = doc["paths"][path][method]
    schema = {**_schema(doc, op, str(response.status_code)), "components": doc["components"]}
    OAS31Validator(schema).validate(response.json())


def test_documented_error_shape_is_the_real_one(
    client: TestClient, doc: dict[str, Any], biz: Business
) -> None:
    api = login(client, biz, "worker")
    chat = general_chat_id(api)
    messages = f"{API}/chats/{{chat_id}}/messages"
    cases = [
        ("post", messages, api.post(f"/chats/{chat}/messages", json={"text": "ohne client_id"})),
        ("post", messages, api.post(f"/chats/{chat}/messages", json={"x": 1})),
        ("get", messages, api.get(f"/chats/{new_id()}/messages")),
        ("get", f"{API}/chats", client.get(f"{API}/chats")),
        ("post", f"{API}/projects", api.post("/projects", json={"name": "Nicht erlaubt"})),
    ]
    assert [r.status_code for _, _, r in cases] == [422, 422, 404, 401, 403]
    for method, path, response in cases:
        _assert_documented(doc, method, path, response)
    # Every operation documents the error shape for its client errors.
    for method, path, op in _operations(doc):
        assert "4XX" in op["responses"], f"{method.upper()} {path}"
        assert _schema(doc, op, "422") == _schema(doc, op, "404"), f"{method.upper()} {path}"


def test_documented_success_shape_is_the_real_one(client: TestClient, doc: dict[str, Any]) -> None:
    _assert_documented(doc, "get", f"{API}/health", client.get(f"{API}/health"))


def _security_headers_ok(r: Any) -> None:
    h = r.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    csp = {d.strip() for d in h["content-security-policy"].split(";")}
    assert {"default-src 'none'", "frame-ancestors 'none'"} <= csp
    assert h["x-frame-options"] == "DENY"
    assert h["cache-control"] == "no-store"


@pytest.fixture
def owner(client: TestClient, biz: Business) -> Api:
    return login(client, biz, "owner")


RESPONSES = {
    "200 health": lambda c, a: c.get(f"{API}/health"),
    "200 openapi": lambda c, a: c.get(f"{API}/openapi.json"),
    "200 authenticated": lambda c, a: a.get("/chats"),
    "201 created": lambda c, a: a.post("/projects", json={"name": "Bad"}),
    "204 no content": lambda c, a: a.delete(f"/invitations/{_invite(a)}"),
    "400 nul": lambda c, a: a.get("/chats/x%00"),
    "401 no session": lambda c, a: c.get(f"{API}/chats"),
    "404 unknown route": lambda c, a: c.get("/nirgends"),
    "404 unknown id": lambda c, a: a.get(f"/projects/{new_id()}"),
    "405 wrong method": lambda c, a: c.put(f"{API}/chats"),
    "413 too large": lambda c, a: a.post("/projects", json={"name": "x" * 2_000_000}),
    "415 media type": lambda c, a: raw(a, "POST", "/projects", b"x", "text/plain"),
    "422 invalid": lambda c, a: a.post("/projects", json={"nme": "Bad"}),
}


def _invite(api: Api) -> str:
    r = api.post("/invitations", json={"role": "worker"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_security_headers_on_every_kind_of_response(client: TestClient, owner: Api) -> None:
    # (The 500 answer is checked in test_errors.py.)
    wrong = []
    for case, request in RESPONSES.items():
        r = request(client, owner)
        try:
            assert r.status_code == int(case.split()[0]), r.text[:200]
            _security_headers_ok(r)
        except (AssertionError, KeyError) as exc:
            wrong.append(f"{case}: {exc!r}")
    assert not wrong, "\n".join(wrong)
