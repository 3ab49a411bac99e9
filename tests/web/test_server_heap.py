"""A served app leaves its startup heap out of later garbage collections (web/app.py,
freeze_startup_heap): full collections otherwise stopped the server for ~100 ms under load."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from zunft.context import AppContext
from zunft.web.app import create_app


def test_a_served_app_freezes_its_startup_heap(ctx: AppContext) -> None:
    gc.unfreeze()
    try:
        with TestClient(create_app(ctx), base_url="http://127.0.0.1:8080") as client:
            assert client.get("/api/v1/health").status_code == 200
            assert gc.get_freeze_count() == 0  # an app in tests: the heap is left alone
        with TestClient(
            create_app(ctx, background=True), base_url="http://127.0.0.1:8080"
        ) as client:
            assert client.get("/api/v1/health").status_code == 200
            frozen = gc.get_freeze_count()
        assert frozen > 10_000  # modules, routes, compiled statements
    finally:
        gc.unfreeze()
