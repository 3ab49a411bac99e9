"""The page at / tells a newcomer, in German, that zunft runs; it loads nothing from elsewhere."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_index_page_is_german_and_self_contained(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "zunft läuft" in r.text
    assert '<html lang="de">' in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert re.findall(r'(?:src|href)="(https?:)?//', r.text) == []


def test_trailing_slash_is_not_redirected(client: TestClient) -> None:
    r = client.get("/api/v1/health/", follow_redirects=False)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
