"""Orphaned objects (a crash between deleting a row and its objects) are swept; objects of
files and uploads that have rows, objects too young to judge, and foreign keys stay."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import delete

from tests.blobs import samples
from tests.blobs.helpers import stored_keys, uploaded
from tests.factories import Business, login
from tests.test_cli import base_env, zunft
from tests.web.helpers import general_chat_id
from zunft.blobs.sweep import SWEPT_FILE, sweep_orphans
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.due import run_due
from zunft.ids import id_time_ms, new_id


def _two_days_on(clock: FakeClock) -> None:
    """Real ids carry the real time; move the test clock two days past it."""
    target = datetime.now(UTC) + timedelta(days=2)
    clock.advance(seconds=(target - clock.now()).total_seconds())


def test_id_time() -> None:
    before = int(datetime.now(UTC).timestamp() * 1000)
    made = id_time_ms(new_id())
    assert made is not None
    assert before <= made <= before + 1000
    assert id_time_ms("readme.txt") is None
    assert id_time_ms("0" * 25 + "!") is None


def test_only_objects_without_a_row_go(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    worker = login(client, biz, "worker")
    chat = general_chat_id(worker)
    kept = uploaded(worker, chat, samples.photo(), name="bleibt.jpg")
    lost = uploaded(worker, chat, samples.photo(width=640), name="verwaist.jpg")
    ctx.write(lambda tx: tx.conn.execute(delete(s.blobs).where(s.blobs.c.id == lost["id"])))
    assert ctx.blobs is not None
    ctx.blobs.put(f"{biz.tenant_id}/notizen/liesmich.txt", b"not zunft's")

    young = sweep_orphans(ctx)  # the orphan is minutes old: too young to judge
    assert young.orphans == []
    assert young.young == 2

    _two_days_on(clock)
    dry = sweep_orphans(ctx, dry_run=True)
    assert dry.orphans == [f"{biz.tenant_id}/{lost['id']}"]
    assert any(lost["id"] in k for k in stored_keys(ctx))

    swept = sweep_orphans(ctx)
    assert swept.orphans == [f"{biz.tenant_id}/{lost['id']}"]
    keys = stored_keys(ctx)
    assert not any(lost["id"] in k for k in keys)
    assert any(kept["id"] in k for k in keys)
    assert f"{biz.tenant_id}/notizen/liesmich.txt" in keys
    again = login(client, biz, "worker")  # the clock moved months: a fresh session
    assert again.get(f"/files/{kept['id']}/content").content == samples.photo()


def test_an_unfinished_upload_is_not_an_orphan(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    worker = login(client, biz, "worker")
    chat = general_chat_id(worker)
    data = samples.photo()
    r = client.post(
        "/api/v1/uploads",
        headers={
            **worker.headers,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": "chat_id " + base64.b64encode(chat.encode()).decode(),
        },
    )
    assert r.status_code == 201, r.text
    r = client.patch(
        r.headers["Location"],
        content=data[:1000],
        headers={
            **worker.headers,
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert r.status_code == 204, r.text
    before = stored_keys(ctx)
    assert before
    _two_days_on(clock)
    # the upload itself expires by its own rule (expire_uploads); the sweep leaves it be
    assert sweep_orphans(ctx).orphans == []
    assert stored_keys(ctx) == before


def test_the_command(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    assert zunft(env, "demo").returncode == 0
    done = zunft(env, "admin", "sweep-files", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "0 orphaned" in done.stdout


def test_the_due_work_sweeps_once_a_week(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    chat = general_chat_id(login(client, biz, "worker"))

    def orphan(name: str) -> str:
        worker = login(client, biz, "worker")  # (the clock moves: a fresh session each time)
        made = uploaded(worker, chat, samples.photo(), name=name)["id"]
        ctx.write(lambda tx: tx.conn.execute(delete(s.blobs).where(s.blobs.c.id == made)))
        return str(made)

    first = orphan("erst.jpg")
    swept_file = ctx.settings.data_path / SWEPT_FILE
    _two_days_on(clock)  # the orphan is old enough to judge

    assert run_due(ctx)["swept"] == 1  # the first round sweeps
    assert not any(first in k for k in stored_keys(ctx))
    assert int(swept_file.read_text()) == ctx.now_ms()

    second = orphan("zweit.jpg")  # (ids carry the real time: two days old on this clock)
    assert run_due(ctx)["swept"] is None  # the next rounds wait for their week
    clock.advance(seconds=6 * 86_400)
    assert run_due(ctx)["swept"] is None  # six days: not yet
    assert any(second in k for k in stored_keys(ctx))
    clock.advance(seconds=86_400)
    assert run_due(ctx)["swept"] == 1  # a week on: the orphan goes
    assert not any(second in k for k in stored_keys(ctx))
    assert run_due(ctx)["swept"] is None

    # The time of the last sweep is kept in the data directory, not in the process: a
    # restarted server does not sweep again before the week is up, and a damaged file only
    # means one sweep more.
    swept_file.write_text("kaputt")
    assert run_due(ctx)["swept"] == 0
    assert run_due(ctx)["swept"] is None
