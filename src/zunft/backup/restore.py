"""`zunft restore`: bring a backup back into an empty installation (docs/backup.md).

Nothing is overwritten, and nothing is written before the whole backup has been read and
checked: the sealed stream is opened with the configured key-encryption key (another key is
named as such), unpacked into a private directory, and every member is compared with the
SHA-256 in backup.json (nothing missing, nothing added). Only then do the files go into the
blob store and, last, the database into place, so a restore that stops half-way leaves at
most files no database refers to, and running it again finishes it. Afterwards the journal
of every business is verified and compared with the heads the backup recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from zunft.archive.checkpoint import file_name
from zunft.backup.backup import (
    FORMAT,
    BackupError,
    Progress,
    blob_store,
    pg_tool,
    private_dir,
    sqlite_path,
)
from zunft.backup.sealed import SealedReader, SealError, read_header
from zunft.config import Settings
from zunft.crypto.kek import load_kek
from zunft.crypto.signing import FILE_NAME as SIGNING_KEY_FILE
from zunft.db.engine import make_engine


@dataclass
class RestoreSummary:
    database: str
    tenants: list[dict[str, Any]]
    blobs: int
    checkpoints: dict[str, bytes]  # slug -> the backup's own signed checkpoint


def _put_back_file(target: Path, data: bytes) -> None:
    """Write a file that is not there yet (mode 0600); one that is there stays."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"the backup holds a file with an unsafe name: {name!r}")
    if path.parts[0] not in ("database", "blobs", "checkpoints", "keys") and name != "backup.json":
        raise BackupError(f"the backup holds an unexpected file: {name!r}")
    return path


def _check_empty_target(settings: Settings, kind: str) -> None:
    url = settings.effective_database_url
    target_kind = make_url(url).get_backend_name()
    if target_kind != kind:
        raise BackupError(
            f"this is a backup of a {kind} database; the configured database is {target_kind}"
        )
    if kind == "sqlite":
        path = sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            raise BackupError(f"{path} exists already; restore only into an empty installation")
    else:
        engine = make_engine(url)
        try:
            tables = inspect(engine).get_table_names()
        finally:
            engine.dispose()
        if tables:
            raise BackupError(
                "the configured PostgreSQL database is not empty; restore only into an empty one"
            )
    store = blob_store(settings)
    if next(iter(store.keys("")), None) is not None:
        raise BackupError("the blob store already holds files; restore only into an empty one")


def _unpack(src: Path, kek: bytes, work: Path, say: Progress) -> dict[str, Any]:
    """Unpack into `work` and check every member against backup.json; return backup.json."""
    hashes: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    with src.open("rb") as fh:
        try:
            reader = SealedReader(fh, kek)
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        raise BackupError(f"the backup holds a non-file entry: {member.name!r}")
                    name = _safe_name(member.name)
                    data = tar.extractfile(member)
                    assert data is not None  # a regular file always has contents
                    if member.name == "backup.json":
                        manifest = json.loads(data.read())
                        continue
                    target = work.joinpath(*name.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    sha = hashlib.sha256()
                    with target.open("wb") as out:
                        while chunk := data.read(1 << 20):
                            sha.update(chunk)
                            out.write(chunk)
                    hashes[member.name] = sha.hexdigest()
                    if len(hashes) % 500 == 0:
                        say(f"unpacked: {len(hashes)}")
        except SealError as exc:
            raise BackupError(str(exc)) from exc
        except tarfile.TarError as exc:
            raise BackupError(f"the backup's contents are damaged: {exc}") from exc
    if manifest is None:
        raise BackupError("the backup has no backup.json (it is incomplete)")
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    expected: dict[str, str] = manifest["files"]
    if expected != hashes:
        missing = sorted(set(expected) - set(hashes))
        extra = sorted(set(hashes) - set(expected))
        changed = sorted(k for k in set(expected) & set(hashes) if expected[k] != hashes[k])
        raise BackupError(
            f"the backup does not match its list of files (missing {missing[:5]}, "
            f"unexpected {extra[:5]}, changed {changed[:5]})"
        )
    return manifest


def _restore_database(settings: Settings, kind: str, staged: Path) -> None:
    url = settings.effective_database_url
    if kind == "sqlite":
        target = sqlite_path(url)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            stale.unlink(missing_ok=True)  # a left-over WAL of another database must not apply
        target.unlink(missing_ok=True)  # empty (checked), e.g. made by a failed start
        os.link(staged, target)  # fails rather than overwrite a file that appeared meanwhile
        return
    program, dburl, env = pg_tool("pg_restore", url)
    done = subprocess.run(  # noqa: S603 - fixed program, arguments from settings
        [
            program,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={dburl}",
            str(staged),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed, nothing was restored: {done.stderr.strip()}")


def restore_backup(
    settings: Settings, src: Path, progress: Progress | None = None
) -> RestoreSummary:
    say = progress or (lambda _msg: None)
    if not src.is_file():
        raise BackupError(f"there is no backup at {src}")
    kek_file = settings.data_path / "kek"
    if not settings.kek and not kek_file.exists():
        with src.open("rb") as fh:
            try:
                _header, made_with = read_header(fh)
            except SealError as exc:
                raise BackupError(str(exc)) from exc
        raise BackupError(
            f"there is no key file at {kek_file}: copy the key file from when the backup was "
            f"made into place first (or set ZUNFT_KEK); the backup needs key id {made_with.hex()}"
        )
    kek = load_kek(settings.kek, settings.data_path)
    with private_dir(settings, ".restore-") as work:
        say("reading and checking the backup")
        manifest = _unpack(src, kek, work, say)
        kind = str(manifest["database"])
        _check_empty_target(settings, kind)
        store = blob_store(settings)
        blobs = 0
        blob_root = work / "blobs"
        for name in sorted(manifest["files"]):
            if name.startswith("blobs/"):
                store.put(name.removeprefix("blobs/"), (blob_root / name[6:]).read_bytes())
                blobs += 1
                if blobs % 500 == 0:
                    say(f"files: {blobs}")
        own: dict[str, bytes] = {}
        for name in sorted(manifest["files"]):
            data_path = work.joinpath(*PurePosixPath(name).parts)
            if name.startswith("checkpoints/history/"):
                rel = PurePosixPath(name.removeprefix("checkpoints/history/"))
                _put_back_file(
                    settings.checkpoint_path.joinpath(*rel.parts), data_path.read_bytes()
                )
            elif name.startswith("checkpoints/"):
                slug, data = PurePosixPath(name).stem, data_path.read_bytes()
                own[slug] = data
                body = json.loads(data)
                target = settings.checkpoint_path / slug / file_name(body["time"], body["entries"])
                _put_back_file(target, data)
            elif name == "keys/signing-key" and not settings.signing_key:
                _put_back_file(settings.data_path / SIGNING_KEY_FILE, data_path.read_bytes())
        say("database")
        db_name = "zunft.sqlite3" if kind == "sqlite" else "zunft.pgdump"
        _restore_database(settings, kind, work / "database" / db_name)
    return RestoreSummary(
        database=kind, tenants=list(manifest["tenants"]), blobs=blobs, checkpoints=own
    )
