"""`zunft admin rotate-key`: data keys re-wrapped under a new KEK, content untouched, and a
rotation that stops half-way is finished or undone at the next start."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.factories import Business, general_chat, journal_entries
from zunft.archive.verify import verify_all
from zunft.config import Settings, load_settings
from zunft.context import AppContext, open_context
from zunft.crypto.kek import kek_id, read_key_file
from zunft.crypto.rotate import RotateError, rotate_kek
from zunft.db import schema as s
from zunft.messages.service import do_send_message, get_history


def _column(ctx: AppContext, col: Any) -> list[Any]:
    return ctx.read(lambda rx: list(rx.conn.execute(select(col).order_by(col)).scalars()))


def _texts(ctx: AppContext, biz: Business) -> list[str]:
    chat = general_chat(ctx, biz)
    page = ctx.read(lambda rx: get_history(rx, biz.actor("worker"), chat))
    return [m["text"] for m in page["messages"]]


@pytest.fixture
def sent(ctx: AppContext, biz: Business) -> list[str]:
    chat = general_chat(ctx, biz)
    texts = ["Estrich trocken?", "Ja, ab Montag begehbar."]
    for t in texts:
        ctx.write(lambda tx, t=t: do_send_message(tx, biz.actor("worker"), chat, text=t))
    return texts


def test_rotation_rewraps_keys_and_leaves_content_alone(
    ctx: AppContext, settings: Settings, biz: Business, sent: list[str]
) -> None:
    old_kek = read_key_file(settings.data_path / "kek")
    wrapped_before = _column(ctx, s.tenant_keys.c.wrapped)
    bodies_before = _column(ctx, s.messages.c.body_enc)

    rotation = rotate_kek(ctx)

    new_kek = read_key_file(settings.data_path / "kek")
    assert new_kek != old_kek
    assert rotation.new_kek_id == kek_id(new_kek).hex()
    assert rotation.retired is not None
    assert read_key_file(rotation.retired) == old_kek
    assert not (settings.data_path / "kek.next").exists()
    assert _column(ctx, s.tenant_keys.c.wrapped) != wrapped_before
    assert _column(ctx, s.messages.c.body_enc) == bodies_before  # not re-encrypted
    [entry] = journal_entries(ctx, biz.tenant_id, "kek.rotated")
    assert entry["old_kek_id"] == kek_id(old_kek).hex()
    assert entry["data_keys"] == 1

    fresh = open_context(settings, migrate=False)  # a process started after the rotation
    try:
        assert _texts(fresh, biz) == sent
        with fresh.engine.connect() as conn:
            assert all(r.ok for r in verify_all(conn, fresh.keys))
    finally:
        fresh.close()


def test_a_running_process_follows_the_rotation(
    ctx: AppContext, settings: Settings, biz: Business, sent: list[str]
) -> None:
    running = open_context(settings, migrate=False)  # another server, started before
    try:
        rotate_kek(ctx)
        running.keys.forget(biz.tenant_id)  # nothing cached: it must unwrap anew
        assert _texts(running, biz) == sent
    finally:
        running.close()


def test_stopped_after_commit_is_finished_at_the_next_start(
    ctx: AppContext, settings: Settings, biz: Business, sent: list[str]
) -> None:
    old_kek = read_key_file(settings.data_path / "kek")
    rotate_kek(ctx, _stop_before_install=True)
    new_kek = read_key_file(settings.data_path / "kek.next")
    assert read_key_file(settings.data_path / "kek") == old_kek

    again = open_context(settings, migrate=False)
    try:
        assert read_key_file(settings.data_path / "kek") == new_kek
        assert not (settings.data_path / "kek.next").exists()
        assert _texts(again, biz) == sent
    finally:
        again.close()


def test_stopped_before_commit_is_undone_at_the_next_start(
    ctx: AppContext, settings: Settings, biz: Business, sent: list[str]
) -> None:
    old_kek = read_key_file(settings.data_path / "kek")
    nxt = settings.data_path / "kek.next"
    fd = os.open(nxt, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(os.urandom(32)).decode())
    again = open_context(settings, migrate=False)
    try:
        assert not nxt.exists()
        assert read_key_file(settings.data_path / "kek") == old_kek
        assert _texts(again, biz) == sent
    finally:
        again.close()


def test_with_zunft_kek_the_new_key_goes_to_a_named_file(
    settings: Settings, tmp_path: Path, biz: Business, ctx: AppContext, sent: list[str]
) -> None:
    old = (settings.data_path / "kek").read_text().strip()
    env_settings = load_settings({}, **{**settings.values, "kek": old})
    env_ctx = open_context(env_settings, migrate=False)
    try:
        with pytest.raises(RotateError, match="--new-key-file"):
            rotate_kek(env_ctx)
        target = tmp_path / "neuer-schluessel"
        rotation = rotate_kek(env_ctx, new_key_file=target)
        assert rotation.new_key_file == target
        assert os.stat(target).st_mode & 0o077 == 0
    finally:
        env_ctx.close()
    new = target.read_text().strip()
    after = open_context(load_settings({}, **{**settings.values, "kek": new}), migrate=False)
    try:
        assert _texts(after, biz) == sent
    finally:
        after.close()
