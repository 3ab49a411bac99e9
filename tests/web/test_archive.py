"""Archive exports over HTTP: owner and office start one, watch it, download the ZIP; others
cannot; jobs say honestly what happened to them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.archive.helpers import build_site, ok
from tests.factories import Business, journal_entries, login
from zunft.archive import jobs as jobs_module
from zunft.archive.verify_export import verify_export
from zunft.context import AppContext
from zunft.crypto.signing import decode_public_key
from zunft.web.app import create_app


def _exports(client: TestClient) -> Any:
    return client.app.state.exports  # type: ignore[attr-defined]


def test_owner_exports_a_project_and_downloads_a_verifiable_zip(
    ctx: AppContext, client: TestClient, biz: Business, tmp_path: Path
) -> None:
    site = build_site(client, biz)
    owner = login(client, biz, "owner")
    job = ok(
        owner.post(
            "/archive/exports",
            json={"scope": "project", "ref_id": site.project_id, "date_from": "2020-01-01"},
        ),
        202,
    )
    assert job["state"] == "running"
    assert _exports(client).wait(job["id"])
    done = ok(owner.get(f"/archive/exports/{job['id']}"))
    assert done["state"] == "done"
    assert done["done"] == done["total"] > 0
    assert done["messages"] >= 5
    assert [j["id"] for j in ok(owner.get("/archive/exports"))["exports"]] == [job["id"]]
    r = owner.get(f"/archive/exports/{job['id']}/download")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert f"zunft-export-{job['id']}.zip" in r.headers["content-disposition"]
    path = tmp_path / "download.zip"
    path.write_bytes(r.content)
    key = ok(owner.get("/archive/public-key"))
    assert verify_export(path, public_key=decode_public_key(key["public_key"])).ok
    [exported] = journal_entries(ctx, biz.tenant_id, "archive.exported")
    assert exported["_actor"] == biz.users["owner"]
    assert exported["export_id"] == job["id"]
    [downloaded] = journal_entries(ctx, biz.tenant_id, "archive.export_downloaded")
    assert downloaded["_actor"] == biz.users["owner"]


def test_only_owner_and_office_may_export(client: TestClient, biz: Business) -> None:
    office = login(client, biz, "office")
    job = ok(office.post("/archive/exports", json={}), 202)
    assert _exports(client).wait(job["id"])
    for role in ("lead", "worker", "apprentice"):
        api = login(client, biz, role)
        for r in (
            api.post("/archive/exports", json={}),
            api.get("/archive/exports"),
            api.get(f"/archive/exports/{job['id']}"),
            api.get(f"/archive/exports/{job['id']}/download"),
            api.get("/archive/public-key"),
        ):
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"] == "admin_only"


def test_a_customer_reaches_no_archive_route(client: TestClient, biz: Business) -> None:
    site = build_site(client, biz)
    owner = login(client, biz, "owner")
    path = f"/projects/{site.project_id}/customer-invitations"
    token = ok(owner.post(path, json={"name": "Kundin"}), 201)["token"]
    consent = ok(client.post("/api/v1/customer/invitations/lookup", json={"token": token}))[
        "consent"
    ]
    joined = ok(
        client.post(
            "/api/v1/customer/invitations/accept",
            json={
                "token": token,
                "consent_version": consent["version"],
                "consent_sha256": consent["sha256"],
                "session_kind": "bearer",
            },
        ),
        201,
    )
    headers = {"Authorization": f"Bearer {joined['token']}"}
    for method, path in (
        ("POST", "/api/v1/archive/exports"),
        ("GET", "/api/v1/archive/exports"),
        ("GET", "/api/v1/archive/public-key"),
    ):
        r = client.request(method, path, headers=headers, json={} if method == "POST" else None)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "staff_only"


def test_bad_requests_get_clear_errors_and_start_nothing(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    cases = [
        ({"scope": "project"}, 422),  # what to export is missing
        ({"scope": "project", "ref_id": "01unknownunknownunknownunk"}, 404),
        ({"scope": "galaxy"}, 422),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, 422),
        ({"unknown": 1}, 422),
    ]
    for body, status in cases:
        r = owner.post("/archive/exports", json=body)
        assert r.status_code == status, (body, r.text)
    assert ok(owner.get("/archive/exports"))["exports"] == []
    r = owner.get("/archive/exports/not-an-id")
    assert r.status_code == 404


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Exports that wait for the gate, reporting progress meanwhile."""
    release = threading.Event()
    real = jobs_module.run_export

    def slow(ctx: AppContext, req: Any, path: Path, **kw: Any) -> Any:
        while not release.wait(0.01):
            kw["progress"](1, 10)  # raises when the server stops
        return real(ctx, req, path, **kw)

    monkeypatch.setattr(jobs_module, "run_export", slow)
    return release


def test_one_export_at_a_time_and_not_ready_is_not_downloadable(
    client: TestClient, biz: Business, gate: threading.Event
) -> None:
    owner = login(client, biz, "owner")
    first = ok(owner.post("/archive/exports", json={}), 202)
    r = owner.post("/archive/exports", json={})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "export_running"
    r = owner.get(f"/archive/exports/{first['id']}/download")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "export_not_ready"
    gate.set()
    assert _exports(client).wait(first["id"])
    assert ok(owner.get(f"/archive/exports/{first['id']}"))["state"] == "done"


def test_an_export_cut_short_by_shutdown_says_interrupted(
    ctx: AppContext, biz: Business, gate: threading.Event
) -> None:
    with TestClient(create_app(ctx), base_url="http://127.0.0.1:8080") as client:
        owner = login(client, biz, "owner")
        job = ok(owner.post("/archive/exports", json={}), 202)
    # The app stopped while the export waited: its job ended, and nothing half-written stays.
    with TestClient(create_app(ctx), base_url="http://127.0.0.1:8080") as client:
        owner = login(client, biz, "owner")
        seen = ok(owner.get(f"/archive/exports/{job['id']}"))
        assert seen["state"] == "interrupted"
        folder = ctx.settings.data_path / "exports" / biz.tenant_id / job["id"]
        assert sorted(p.name for p in folder.iterdir()) == ["job.json"]
        ok(owner.post("/archive/exports", json={}), 202)  # a new one may start
        gate.set()


def test_a_finished_export_is_deleted_after_a_day(
    ctx: AppContext, client: TestClient, biz: Business, clock: Any
) -> None:
    owner = login(client, biz, "owner")
    job = ok(owner.post("/archive/exports", json={}), 202)
    assert _exports(client).wait(job["id"])
    folder = ctx.settings.data_path / "exports" / biz.tenant_id / job["id"]
    assert (folder / "export.zip").exists()
    clock.advance(hours=23)
    assert [j["id"] for j in ok(owner.get("/archive/exports"))["exports"]] == [job["id"]]
    clock.advance(hours=1)
    assert ok(owner.get("/archive/exports"))["exports"] == []
    assert not folder.exists()
    assert owner.get(f"/archive/exports/{job['id']}").status_code == 404
