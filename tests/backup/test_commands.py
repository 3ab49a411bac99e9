"""The commands as an operator runs them: back up the demo, restore it elsewhere, rotate the
key, and restore an older backup with the key of its time."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.test_cli import base_env, zunft


def test_backup_restore_and_rotate_key(tmp_path: Path) -> None:
    live = base_env(tmp_path / "live")
    assert zunft(live, "demo").returncode == 0
    backup = tmp_path / "montag.zbak"
    done = zunft(live, "backup", "--out", str(backup))
    assert done.returncode == 0, done.stderr
    assert "mueller:" in done.stdout
    assert "journal entries" in done.stdout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    shutil.copy2(tmp_path / "live" / "kek", elsewhere / "kek")
    done = zunft(base_env(elsewhere), "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert "chain verified" in done.stdout
    again = zunft(base_env(elsewhere), "restore", str(backup))
    assert again.returncode == 2
    assert "empty installation" in again.stderr

    rotated = zunft(live, "admin", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    [retired] = (tmp_path / "live").glob("kek.retired-*")
    assert zunft(live, "archive", "verify").returncode == 0

    # the Monday backup needs Monday's key, and says so
    third = tmp_path / "third"
    third.mkdir(mode=0o700)
    shutil.copy2(tmp_path / "live" / "kek", third / "kek")
    refused = zunft(base_env(third), "restore", str(backup))
    assert refused.returncode == 2
    assert "another key-encryption key" in refused.stderr
    assert "Nothing was restored" in refused.stderr
    (third / "kek").unlink()
    shutil.copy2(retired, third / "kek")
    assert zunft(base_env(third), "restore", str(backup)).returncode == 0
