"""The commands `zunft backup`, `zunft restore` and `zunft admin rotate-key` (docs/backup.md).

Registered by `zunft.cli.build_parser`; the heavy imports happen inside the commands.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from zunft.config import load_settings


def _say(msg: str) -> None:
    print(f"… {msg}", file=sys.stderr, flush=True)


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def cmd_backup(args: argparse.Namespace) -> int:
    from zunft.backup.backup import BackupError, make_backup

    settings = load_settings()
    out = Path(args.out or f"zunft-backup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.zbak")
    try:
        summary = make_backup(settings, out, progress=None if args.quiet else _say)
    except BackupError as exc:
        return _fail(str(exc))
    print(f"backup written: {summary.path} ({summary.size} bytes, {summary.database})")
    for t in summary.tenants:
        print(f"  {t['slug']}: {t['journal_count']} journal entries, head {t['head_hash']}")
    print(f"  files: {summary.blobs}")
    print("Keep the key file (or ZUNFT_KEK) in a separate safe place: the backup needs it.")
    return 0


def _verify_restored(
    settings: Any, tenants: list[dict[str, Any]], checkpoints: dict[str, bytes] | None = None
) -> list[str]:
    """Problems of the restored journals: a broken chain, heads unlike the backup's, or a
    journal that does not hold what the backup's signed checkpoint says."""
    from zunft.archive.checkpoint import (
        CheckpointError,
        compare_with_checkpoint,
        verify_checkpoint,
    )
    from zunft.archive.verify import verify_all
    from zunft.context import open_context

    ctx = open_context(settings, migrate=False, indexer="off")
    problems = []
    try:
        with ctx.engine.connect() as conn:
            results = {r.tenant_id: r for r in verify_all(conn, ctx.keys)}
            for slug, data in sorted((checkpoints or {}).items()):
                try:
                    cp = verify_checkpoint(data)
                except CheckpointError as exc:
                    problems.append(f"{slug}: the backup's checkpoint is not valid: {exc}")
                    continue
                if cp.tenant_id not in results:
                    problems.append(f"{slug}: the business of the backup's checkpoint is missing")
                    continue
                # Each chain is verified once (above), then held against the checkpoint.
                check = compare_with_checkpoint(conn, cp, results[cp.tenant_id])
                if not check.ok:
                    problems.append(f"{slug}: {check.problem}")
    finally:
        ctx.close()
    for t in tenants:
        r = results.get(t["id"])
        if r is None:
            problems.append(f"{t['slug']}: missing after the restore")
        elif not r.ok:
            problems.append(f"{t['slug']}: journal broken at entry {r.bad_seq}: {r.problem}")
        elif r.count != t["journal_count"] or r.head_hash.hex() != t["head_hash"]:
            problems.append(f"{t['slug']}: journal head differs from the backup's")
    return problems


def _erase_what_is_due(settings: Any) -> dict[str, int]:
    """A backup is older than now: what retention has erased since is erased again at once
    (erasure requests made after the backup must be repeated: docs/backup.md)."""
    from zunft.context import open_context
    from zunft.retention.erasure import run_erasure

    ctx = open_context(settings, migrate=True, indexer="off")
    try:
        return run_erasure(ctx)
    finally:
        ctx.close()


def cmd_restore(args: argparse.Namespace) -> int:
    from zunft.backup.backup import BackupError
    from zunft.backup.restore import restore_backup

    settings = load_settings()
    try:
        summary = restore_backup(settings, Path(args.file), progress=_say)
    except BackupError as exc:
        return _fail(f"{exc}. Nothing was restored.")
    problems = _verify_restored(settings, summary.tenants, summary.checkpoints)
    for p in problems:
        print(f"FAILED {p}")
    if problems:
        return 1
    for t in summary.tenants:
        print(
            f"  {t['slug']}: {t['journal_count']} journal entries, chain verified, "
            "signed checkpoint matches"
        )
    erased = _erase_what_is_due(settings)
    if any(erased.values()):
        print(f"  erased since the backup was made: {erased}")
    print(f"restored: {summary.database} database, {summary.blobs} files")
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    from zunft.context import open_context
    from zunft.crypto.rotate import RotateError, rotate_kek

    settings = load_settings()
    if not settings.kek and not (settings.data_path / "kek").exists():
        return _fail(f"there is no key file at {settings.data_path / 'kek'}; nothing to rotate")
    ctx = open_context(settings, migrate=False, indexer="off")
    try:
        rotation = rotate_kek(
            ctx, new_key_file=Path(args.new_key_file) if args.new_key_file else None
        )
    except RotateError as exc:
        return _fail(str(exc))
    finally:
        ctx.close()
    print(
        f"key rotated: {rotation.data_keys} data keys of {rotation.tenants} businesses "
        f"re-wrapped (key id {rotation.old_kek_id} -> {rotation.new_kek_id})"
    )
    if rotation.retired is not None:
        print(
            f"The old key is kept as {rotation.retired}: backups made before now need it. "
            "Store it with those backups, away from this machine, then delete it here."
        )
    if rotation.new_key_file is not None:
        print(
            f"The new key is in {rotation.new_key_file}: put its contents into ZUNFT_KEK "
            "before the next start, and keep the old value for older backups."
        )
    return 0


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    admin: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Any,
) -> None:
    """`command(sub, name, summary, epilog=…)` is cli._command (same help layout)."""
    backup = command(
        sub,
        "backup",
        "write an encrypted, consistent backup (database and files) while the server runs",
        epilog=(
            "example: zunft backup --out /mnt/backup/zunft-2026-11-29.zbak\n"
            "The backup is encrypted with the key-encryption key; keep that key apart from it."
        ),
    )
    backup.add_argument(
        "--out", help="the backup file to make (default: ./zunft-backup-<time>.zbak)"
    )
    backup.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    backup.set_defaults(fn=cmd_backup)
    restore = command(
        sub,
        "restore",
        "restore a backup into an empty installation (data directory or database)",
        epilog=(
            "The key file of the time the backup was made must be in place (or ZUNFT_KEK set).\n"
            "example: zunft restore /mnt/backup/zunft-2026-11-29.zbak"
        ),
    )
    restore.add_argument("file", help="the backup file")
    restore.set_defaults(fn=cmd_restore)
    rotate = command(
        admin,
        "rotate-key",
        "re-wrap every data key under a new key-encryption key (content is not re-encrypted)",
        epilog="The old key file is kept as kek.retired-<time>: older backups need it.",
    )
    rotate.add_argument(
        "--new-key-file", help="with ZUNFT_KEK: where to write the new key (mode 0600)"
    )
    rotate.set_defaults(fn=cmd_rotate_key)
