"""`zunft backup`: one encrypted, consistent backup while the server runs (docs/backup.md).

What goes in, as one tar stream inside a sealed container (`sealed.py`):

    database/zunft.sqlite3 | database/zunft.pgdump   the database at one moment
    checkpoints/<slug>.json                          each business's journal head at that
                                                     moment, signed with the installation key
    checkpoints/history/<slug>/<file>                the checkpoints kept so far
    keys/signing-key                                 the installation's signing key (its file)
    blobs/<key>                                      every object of the blob store
    backup.json                                      last: what the backup holds, with the
                                                     SHA-256 of every other member

The database is copied first, in one snapshot: SQLite's online backup API, or `pg_dump`
pinned to a snapshot that the backup itself exported (`pg_export_snapshot()`), in which the
journal heads for backup.json are read too. Blobs are copied after it: a file the copied
database refers to was stored before its row committed, so it is there. (A file erased while
the backup runs may be missing from it; its content was being destroyed anyway.)
Nothing unencrypted is left behind: the database copy is made in a private temporary
directory (mode 0700) in the data directory and removed at the end.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.engine import make_url

from zunft import __version__
from zunft.archive.checkpoint import sign_checkpoint, write_checkpoint_file
from zunft.backup.sealed import SealedWriter
from zunft.blobs.store import BlobStore, open_store
from zunft.config import Settings
from zunft.crypto.kek import kek_id, load_kek
from zunft.crypto.signing import FILE_NAME as SIGNING_KEY_FILE
from zunft.crypto.signing import load_signing_key
from zunft.db import schema as s
from zunft.db.engine import make_engine
from zunft.journal.chain import GENESIS

FORMAT = 1
Progress = Callable[[str], None]


class BackupError(Exception):
    """The backup or restore cannot go ahead; the message says why and what to do."""


@dataclass
class BackupSummary:
    path: Path
    size: int
    database: str
    revision: str | None
    tenants: list[dict[str, Any]] = field(default_factory=list)
    blobs: int = 0


def blob_store(settings: Settings) -> BlobStore:
    return open_store(
        settings.blob_url,
        settings.data_path,
        endpoint=settings.s3_endpoint,
        min_free_bytes=0,
    )


def pg_tool(name: str, sqlalchemy_url: str) -> tuple[str, str, dict[str, str]]:
    """Program path, connection URL and environment for pg_dump or pg_restore.

    The password goes in PGPASSWORD, not in the URL, so it never shows in the process list.
    """
    program = shutil.which(name)
    if program is None:
        raise BackupError(f"{name} is not installed (Debian package postgresql-client)")
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
        url = url.set(password=None)
    return program, url.render_as_string(hide_password=False), env


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


@contextmanager
def private_dir(settings: Settings, prefix: str) -> Iterator[Path]:
    """A temporary directory only this user can enter, in the data directory (same disk)."""
    settings.data_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=settings.data_path))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _state(conn: Connection) -> tuple[str | None, list[dict[str, Any]]]:
    """The schema revision and each business's journal head, from the copied moment."""
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    rows = conn.execute(
        select(s.tenants.c.id, s.tenants.c.slug, s.journal_heads.c.seq, s.journal_heads.c.head_hash)
        .outerjoin(s.journal_heads, s.journal_heads.c.tenant_id == s.tenants.c.id)
        .order_by(s.tenants.c.slug)
    ).all()
    tenants = [
        {
            "id": r.id,
            "slug": r.slug,
            "journal_count": int(r.seq or 0),
            "head_hash": (r.head_hash or b"").hex(),
        }
        for r in rows
    ]
    return revision, tenants


def _copy_sqlite(url: str, dest: Path) -> tuple[str | None, list[dict[str, Any]]]:
    source = sqlite_path(url)
    if not source.exists():
        raise BackupError(f"there is no database at {source}")
    src = sqlite3.connect(source)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)  # all pages in one step: one consistent moment, writers wait briefly
    finally:
        dst.close()
        src.close()
    engine = create_engine(f"sqlite:///{dest}")
    try:
        with engine.connect() as conn:
            return _state(conn)
    finally:
        engine.dispose()


def _dump_postgres(url: str, dest: Path) -> tuple[str | None, list[dict[str, Any]]]:
    program, dburl, env = pg_tool("pg_dump", url)
    engine = make_engine(url)
    try:
        with engine.connect() as raw:
            conn = raw.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                state = _state(conn)
                # pg_dump reads exactly what this transaction sees, so the heads in
                # backup.json describe the dump; the transaction stays open until it is done.
                done = subprocess.run(  # noqa: S603 - fixed program, arguments from settings
                    [
                        program,
                        "--format=custom",
                        "--no-owner",
                        "--no-privileges",
                        f"--snapshot={snapshot}",
                        f"--file={dest}",
                        f"--dbname={dburl}",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
            return state
    finally:
        engine.dispose()


class _Hashing(io.RawIOBase):
    """Reads a file object and hashes what passes through (for backup.json)."""

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self._src = src
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._src.read(len(b))
        self.sha.update(data)
        b[: len(data)] = data
        return len(data)


def _add(tar: tarfile.TarFile, name: str, size: int, src: BinaryIO) -> str:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(time.time())
    info.mode = 0o600
    hashing = _Hashing(src)
    tar.addfile(info, hashing)
    return hashing.sha.hexdigest()


def _checkpoints(settings: Settings, tenants: list[dict[str, Any]]) -> Iterator[tuple[str, bytes]]:
    """The backup's own signed checkpoints (also kept in the checkpoint directory, outside the
    database), the checkpoints kept so far, and the signing key's file."""
    root = settings.checkpoint_path
    if root.is_dir():
        for path in sorted(root.rglob("*.json")):
            if path.is_file() and not path.name.startswith("."):
                yield f"checkpoints/history/{path.relative_to(root).as_posix()}", path.read_bytes()
    key = load_signing_key(settings)
    now = int(time.time() * 1000)
    for t in tenants:
        data = sign_checkpoint(
            key,
            tenant_id=t["id"],
            slug=t["slug"],
            count=t["journal_count"],
            head_hash=bytes.fromhex(t["head_hash"]) if t["head_hash"] else GENESIS,
            time_ms=now,
        )
        write_checkpoint_file(settings.checkpoint_path, t["slug"], data, now)
        yield f"checkpoints/{t['slug']}.json", data
    key_file = settings.data_path / SIGNING_KEY_FILE
    if not settings.signing_key and key_file.is_file():
        yield "keys/signing-key", key_file.read_bytes()


def make_backup(settings: Settings, out: Path, progress: Progress | None = None) -> BackupSummary:
    """Write the backup to `out` (made anew, mode 0600; an existing file is not overwritten)."""
    say = progress or (lambda _msg: None)
    url = settings.effective_database_url
    kind = make_url(url).get_backend_name()
    if kind not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {kind} database")
    kek_file = settings.data_path / "kek"
    if not settings.kek and not kek_file.exists():
        raise BackupError(f"the key file {kek_file} is missing; nothing could be read back")
    kek = load_kek(settings.kek, settings.data_path)
    store = blob_store(settings)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BackupError(f"{out} exists already; choose another name") from exc
    complete = False
    try:
        with private_dir(settings, ".backup-") as work, os.fdopen(fd, "wb") as fh:
            db_name = "zunft.sqlite3" if kind == "sqlite" else "zunft.pgdump"
            db_copy = work / db_name
            say("database")
            if kind == "sqlite":
                revision, tenants = _copy_sqlite(url, db_copy)
            else:
                revision, tenants = _dump_postgres(url, db_copy)
            files: dict[str, str] = {}
            sealed = SealedWriter(fh, kek)
            with tarfile.open(fileobj=sealed, mode="w|") as tar:
                with db_copy.open("rb") as src:
                    files[f"database/{db_name}"] = _add(
                        tar, f"database/{db_name}", db_copy.stat().st_size, src
                    )
                db_copy.unlink()
                for name, data in _checkpoints(settings, tenants):
                    files[name] = _add(tar, name, len(data), io.BytesIO(data))
                blobs = 0
                for key in store.keys(""):
                    data = store.get(key)
                    files[f"blobs/{key}"] = _add(tar, f"blobs/{key}", len(data), io.BytesIO(data))
                    blobs += 1
                    if blobs % 500 == 0:
                        say(f"files: {blobs}")
                manifest = {
                    "format": FORMAT,
                    "zunft_version": __version__,
                    "created_at_ms": int(time.time() * 1000),
                    "database": kind,
                    "alembic_revision": revision,
                    "kek_id": kek_id(kek).hex(),
                    "tenants": tenants,
                    "blobs": blobs,
                    "files": files,
                }
                body = json.dumps(manifest, indent=1, sort_keys=True).encode()
                _add(tar, "backup.json", len(body), io.BytesIO(body))
            sealed.close()
            fh.flush()
            os.fsync(fh.fileno())
        complete = True
    finally:
        if not complete:
            out.unlink(missing_ok=True)  # a half-written backup is worse than none
    say("done")
    return BackupSummary(
        path=out,
        size=out.stat().st_size,
        database=kind,
        revision=revision,
        tenants=tenants,
        blobs=blobs,
    )
