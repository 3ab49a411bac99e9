"""Per-business media limits: set by the host with the real `zunft` command, shown to staff,
and applied to uploads."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.blobs import samples
from tests.blobs.helpers import upload, uploaded
from tests.factories import Business, journal_entries, login
from tests.test_cli import base_env, ok, zunft
from tests.web.helpers import assert_error, general_chat_id
from zunft.blobs.service import do_set_media_limits
from zunft.context import AppContext

MB = 1024 * 1024


def test_the_host_sets_a_business_s_limits(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    ok(zunft(env, "admin", "create-tenant", "acme", "Acme Sanitär GmbH"))
    out = ok(
        zunft(
            env,
            "admin",
            "set-media-limits",
            "acme",
            "--quota-mb",
            "2048",
            "--file-limits",
            "photo=20,video=1000,voice=10,document=50,file=50",
        )
    )
    assert out.strip() == (
        "acme: quota 2048 MB, largest file (MB) photo=20,video=1000,voice=10,document=50,file=50"
    )
    bad = zunft(env, "admin", "set-media-limits", "acme", "--file-limits", "photo=20")
    assert bad.returncode == 2
    assert "missing a limit" in bad.stderr
    out = ok(zunft(env, "admin", "set-media-limits", "acme"))
    defaults = "photo=50,video=4096,voice=100,document=200,file=200"
    assert out.strip() == f"acme: quota 51200 MB, largest file (MB) {defaults}"


@pytest.mark.parametrize("role", ["worker", "owner"])
def test_staff_see_usage_and_their_business_s_limits_apply(
    ctx: AppContext, client: TestClient, biz: Business, role: str
) -> None:
    api = login(client, biz, role)
    chat = general_chat_id(api)
    photo = samples.photo()
    uploaded(api, chat, photo)
    usage = api.get("/media/usage").json()
    assert usage["quota_bytes"] == 51200 * MB
    assert usage["file_limits_bytes"]["video"] == 4096 * MB
    assert usage["used_bytes"] > len(photo)  # with its previews
    ctx.write(
        lambda tx: do_set_media_limits(
            tx,
            tenant_id=biz.tenant_id,
            quota_mb=None,
            file_limits="photo=1,video=1,voice=1,document=1,file=1",
        )
    )
    assert api.get("/media/usage").json()["file_limits_bytes"]["photo"] == MB
    big = photo + b"\x00" * MB
    assert_error(upload(api, chat, big), 413, "file_too_large")
    [event] = journal_entries(ctx, biz.tenant_id, "tenant.media_limits_set")
    assert event["file_limits"] == "photo=1,video=1,voice=1,document=1,file=1"
