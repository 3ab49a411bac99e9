"""`zunft backup` and `zunft restore`: a running installation's database and files come back
identical in an empty one; a damaged, cut-off or foreign backup is refused before anything
is written."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, select, update

from tests.backup.conftest import blob_contents, table_rows
from tests.blobs import samples
from tests.blobs.helpers import uploaded
from tests.factories import Business, general_chat, login
from tests.web.helpers import general_chat_id
from zunft.backup.backup import BackupError, make_backup
from zunft.backup.commands import _verify_restored
from zunft.backup.restore import restore_backup
from zunft.config import Settings
from zunft.context import AppContext, open_context
from zunft.crypto.kek import write_key_file
from zunft.db import schema as s
from zunft.messages.service import do_send_message


def _fill(client: TestClient, biz: Business) -> None:
    """Messages (one edited), a photo attached to a message."""
    worker = login(client, biz, "worker")
    chat = general_chat_id(worker)
    for i in range(5):
        r = worker.post(
            f"/chats/{chat}/messages", json={"client_id": f"backup-m-{i:04d}", "text": f"Nr. {i} ä"}
        )
        assert r.status_code == 201, r.text
    first = r.json()["id"]
    r = worker.patch(f"/messages/{first}", json={"text": "geändert"})
    assert r.status_code == 200, r.text
    photo = uploaded(worker, chat, samples.photo(), name="wand.jpg")
    r = worker.post(
        f"/chats/{chat}/messages",
        json={"client_id": "backup-foto", "text": "", "attachments": [photo["id"]]},
    )
    assert r.status_code == 201, r.text


def _nothing_written(target: Settings) -> None:
    assert not (target.data_path / "zunft.sqlite3").exists()
    assert not (target.data_path / "blobs").exists() or not any(
        (target.data_path / "blobs").rglob("*")
    )
    assert sorted(p.name for p in target.data_path.iterdir()) == ["kek"]


def test_restore_gives_back_every_row_and_file(
    ctx: AppContext,
    settings: Settings,
    client: TestClient,
    biz: Business,
    target: Settings,
    tmp_path: Path,
) -> None:
    _fill(client, biz)
    out = tmp_path / "b.zbak"
    summary = make_backup(settings, out)
    assert os.stat(out).st_mode & 0o077 == 0
    assert summary.blobs >= 3  # original, large preview, thumbnail
    [t] = summary.tenants
    assert t["slug"] == "mueller"
    assert t["journal_count"] > 10
    assert "geändert".encode() not in out.read_bytes()
    assert b"mueller" not in out.read_bytes()

    restored = restore_backup(target, out)
    assert restored.blobs == summary.blobs
    assert table_rows(target.effective_database_url) == table_rows(settings.effective_database_url)
    assert blob_contents(target.data_path / "blobs") == blob_contents(settings.data_path / "blobs")
    assert _verify_restored(target, restored.tenants, restored.checkpoints) == []
    # the backup's signed checkpoint, kept outside the database too, and the installation's
    # signing key and checkpoints come back with it
    assert set(restored.checkpoints) == {"mueller"}
    assert (target.data_path / "signing-key").read_bytes() == (
        settings.data_path / "signing-key"
    ).read_bytes()
    assert sorted(p.name for p in (target.data_path / "checkpoints" / "mueller").iterdir()) == [
        p.name for p in sorted((settings.data_path / "checkpoints" / "mueller").iterdir())
    ]

    # and the restored installation serves the content
    again = open_context(target, migrate=True)
    try:
        from zunft.web.app import create_app

        with TestClient(create_app(again), base_url="http://127.0.0.1:8080") as c:
            worker = login(c, biz, "worker")
            chat = general_chat_id(worker)
            texts = [m["text"] for m in worker.get(f"/chats/{chat}/messages").json()["messages"]]
            assert texts[:5] == ["Nr. 0 ä", "Nr. 1 ä", "Nr. 2 ä", "Nr. 3 ä", "geändert"]
            # its search index is rebuilt (SQLite) or followed on (PostgreSQL) from the journal
            found = worker.get("/search", params={"q": "geändert"}).json()["results"]
            assert [m["text"] for m in found] == ["geändert"]
            [photo] = [
                m
                for m in worker.get(f"/chats/{chat}/messages").json()["messages"]
                if m["attachments"]
            ]
            file_id = photo["attachments"][0]["id"]
            r = worker.get(f"/files/{file_id}/content")
            assert r.status_code == 200
            assert r.content == samples.photo()
    finally:
        again.close()


def test_backup_while_messages_are_sent_is_consistent(
    ctx: AppContext, settings: Settings, biz: Business, target: Settings, tmp_path: Path
) -> None:
    chat = general_chat(ctx, biz)
    actor = biz.actor("worker")
    stop, going = threading.Event(), threading.Event()
    sent: list[int] = []

    def keep_sending() -> None:
        while not stop.is_set():
            ctx.write(lambda tx: do_send_message(tx, actor, chat, text=f"laufend {len(sent)}"))
            sent.append(1)
            if len(sent) == 20:
                going.set()

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        assert going.wait(timeout=60)  # the backup starts with writes going on
        out = tmp_path / "live.zbak"
        summary = make_backup(settings, out)
    finally:
        stop.set()
        sender.join()
    restored = restore_backup(target, out)
    # every business's chain verifies and ends exactly at the head the backup recorded
    assert _verify_restored(target, restored.tenants) == []
    [t] = summary.tenants
    rows = table_rows(target.effective_database_url)
    sent_entries = [r for r in rows["journal"] if r["kind"] == "message.sent"]
    assert len(rows["messages"]) == len(sent_entries) >= 20
    assert max(r["seq"] for r in rows["journal"]) == t["journal_count"]


@pytest.fixture
def backup_file(
    ctx: AppContext, settings: Settings, client: TestClient, biz: Business, tmp_path: Path
) -> Path:
    _fill(client, biz)
    out = tmp_path / "b.zbak"
    make_backup(settings, out)
    return out


def test_a_cut_off_backup_is_refused_and_nothing_is_written(
    backup_file: Path, target: Settings
) -> None:
    data = backup_file.read_bytes()
    backup_file.write_bytes(data[: len(data) - 100])
    with pytest.raises(BackupError, match="cut off"):
        restore_backup(target, backup_file)
    _nothing_written(target)


def test_a_changed_byte_is_refused(backup_file: Path, target: Settings) -> None:
    data = bytearray(backup_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    backup_file.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="damaged or altered"):
        restore_backup(target, backup_file)
    _nothing_written(target)


def test_another_key_is_named_as_such(backup_file: Path, target: Settings) -> None:
    (target.data_path / "kek").unlink()
    write_key_file(target.data_path / "kek", os.urandom(32))
    with pytest.raises(BackupError, match="another key-encryption key"):
        restore_backup(target, backup_file)
    _nothing_written(target)


def test_without_a_key_file_the_error_says_which_key_is_needed(
    backup_file: Path, target: Settings
) -> None:
    (target.data_path / "kek").unlink()
    with pytest.raises(BackupError, match=r"needs key id [0-9a-f]{16}"):
        restore_backup(target, backup_file)
    assert list(target.data_path.iterdir()) == []  # not even a new key file


def test_not_a_backup(tmp_path: Path, target: Settings) -> None:
    junk = tmp_path / "x.zbak"
    junk.write_bytes(b"PK\x03\x04 not a backup")
    with pytest.raises(BackupError, match="not a zunft backup"):
        restore_backup(target, junk)
    _nothing_written(target)


def test_a_non_empty_installation_is_not_overwritten(backup_file: Path, settings: Settings) -> None:
    before = table_rows(settings.effective_database_url)
    with pytest.raises(BackupError, match="restore only into an empty"):
        restore_backup(settings, backup_file)
    assert table_rows(settings.effective_database_url) == before


def test_an_existing_backup_file_is_not_overwritten(backup_file: Path, settings: Settings) -> None:
    before = backup_file.read_bytes()
    with pytest.raises(BackupError, match="exists already"):
        make_backup(settings, backup_file)
    assert backup_file.read_bytes() == before


def test_a_restored_journal_cut_short_is_caught_by_the_backups_checkpoint(
    backup_file: Path, target: Settings
) -> None:
    restored = restore_backup(target, backup_file)
    [t] = restored.tenants
    last = t["journal_count"]
    engine = create_engine(target.effective_database_url)
    with engine.begin() as conn:  # cut the newest entry off and set the head back to match
        prev = conn.execute(
            select(s.journal.c.entry_hash).where(s.journal.c.seq == last - 1)
        ).scalar_one()
        conn.execute(delete(s.journal_payloads).where(s.journal_payloads.c.seq == last))
        conn.execute(delete(s.journal).where(s.journal.c.seq == last))
        conn.execute(update(s.journal_heads).values(seq=last - 1, head_hash=prev))
    engine.dispose()
    problems = _verify_restored(target, restored.tenants, restored.checkpoints)
    assert any(f"entry {last} is missing" in p for p in problems), problems
