"""run_due, the work that falls due with time, and the server's background task around it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from zunft.context import AppContext
from zunft.due import run_due
from zunft.web.app import create_app

NOTHING = {"escalated": 0, "reminded": 0, "checkpoints": 0}


def test_nothing_due_changes_nothing(ctx: AppContext) -> None:
    # The first round also sweeps for orphaned files (weekly, zunft.blobs.sweep) and finds
    # none; the next one does not sweep.
    assert run_due(ctx) == {**NOTHING, "swept": 0}
    assert run_due(ctx) == {**NOTHING, "swept": None}


def test_the_background_task_starts_and_stops_with_the_app(ctx: AppContext) -> None:
    # The task sleeps ZUNFT_DUE_INTERVAL_SECONDS before its first round, so here it only has
    # to start with the app and be cancelled cleanly when the app stops.
    app = create_app(ctx, background=True)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        assert client.get("/api/v1/health").status_code == 200
    assert run_due(ctx) == {**NOTHING, "swept": 0}  # the writer still answers
