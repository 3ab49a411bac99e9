"""Installable: chromium itself finds nothing missing (manifest, icons, service worker)."""

from __future__ import annotations

from typing import Any

from tests.web.app.test_offline import wait_for_service_worker


def test_chromium_finds_the_app_installable(people: Any) -> None:
    worker = people("worker")
    page = worker.page
    page.goto("/")
    wait_for_service_worker(page)
    cdp = worker.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []
    assert manifest["url"].endswith("/manifest.webmanifest")
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's browser contexts are incognito, where chromium installs nothing; every
    # other reason (manifest, icons, service worker, start URL) would be listed too.
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []
    for size in ("192", "512"):
        r = worker.context.request.get(f"/app/icons/icon-{size}.png")
        assert r.ok
        assert r.body()[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(r.body()[16:20], "big") == int(size)  # IHDR width
