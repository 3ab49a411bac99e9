"""The archive commands end to end, as an operator runs them (subprocesses, SQLite)."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

from tests.test_cli import base_env, mode, ok, refused, zunft


def test_public_key_checkpoint_export_and_offline_verification(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = base_env(data)
    ok(zunft(env, "demo"))

    # The signing key: made on first use, private, its public half printable.
    out = ok(zunft(env, "archive", "public-key"))
    public, _, rest = out.partition("  ")
    assert mode(data / "signing-key") == 0o600
    assert "key id" in rest
    assert len(public) == 44

    # A checkpoint, written outside the database, proves the journal up to it.
    out = ok(zunft(env, "archive", "checkpoint"))
    slug, _, file = out.strip().partition(": ")
    assert slug == "mueller"
    assert Path(file).parent == data / "checkpoints" / "mueller"
    out = ok(zunft(env, "archive", "verify", "--checkpoint", file))
    assert out.startswith("mueller: OK, the journal holds the ")

    # The export, with its progress on stderr.
    target = tmp_path / "pruefung.zip"
    result = zunft(env, "archive", "export", "mueller", "-o", str(target), "--from", "2020-01-01")
    out = ok(result)
    assert "export: 100 %" in result.stderr
    assert mode(target) == 0o600  # decrypted data: for the server's user only
    assert out.startswith(f"{target}: ")
    assert target.exists()
    refused(zunft(env, "archive", "export", "mueller", "-o", str(target)), 2, "exists")

    # Offline: no data directory, no database; the key pinned or taken from the manifest.
    away = base_env(tmp_path / "nowhere")
    out = ok(zunft(away, "archive", "verify-export", str(target), "--public-key", public))
    assert "OK" in out
    assert not (tmp_path / "nowhere").exists()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(target) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            body = zin.read(info)
            if info.filename == "tabellen/nachrichten.csv":
                body = body.replace(b";", b",", 1)
            zout.writestr(info.filename, body)
    result = zunft(away, "archive", "verify-export", str(bad))
    assert result.returncode == 1
    assert "changed: tabellen/nachrichten.csv" in result.stdout

    # Entries cut off the end, the head set back: verify alone passes, the checkpoint not.
    with sqlite3.connect(data / "zunft.sqlite3") as db:
        [(head,)] = db.execute("SELECT seq FROM journal_heads").fetchall()
        keep = int(head) - 3
        db.execute("DELETE FROM journal_payloads WHERE seq > ?", (keep,))
        db.execute("DELETE FROM journal WHERE seq > ?", (keep,))
        db.execute(
            "UPDATE journal_heads SET seq = ?, head_hash = "
            "(SELECT entry_hash FROM journal WHERE seq = ?)",
            (keep, keep),
        )
    ok(zunft(env, "archive", "verify"))
    result = zunft(env, "archive", "verify", "--checkpoint", file)
    assert result.returncode == 1
    count = json.loads(Path(file).read_text())["entries"]
    assert f"entries {keep + 1} to {count} are missing" in result.stdout


def test_verify_export_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    refused(zunft(env, "archive", "verify-export", str(tmp_path / "nope.zip")), 2, "not a file")
    refused(
        zunft(env, "archive", "verify-export", str(tmp_path / "x.zip"), "--public-key", "abc"),
        2,
        "public key",
    )
