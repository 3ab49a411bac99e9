"""Signed checkpoints of a business's journal (docs/archive.md, "Checkpoints").

A hash chain cannot show that its newest entries were cut off, or that someone with write
access rewrote it consistently from some entry onwards. A checkpoint fixes the chain's state
at one moment, (entry count, head hash), signed with the installation's Ed25519 key and kept
outside the database: in a checkpoints directory, in every export, by e-mail to the owner.
`check_against_journal` later proves the journal still contains exactly that up to the
checkpoint's entry.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.engine import Connection

from zunft.archive.verify import VerifyResult, verify_tenant
from zunft.crypto.envelope import Keyring
from zunft.crypto.signing import check_signature, key_id, public_bytes, sign
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.journal.chain import GENESIS, canonical

FORMAT = "zunft-checkpoint-v1"
DOMAIN = b"zunft-checkpoint-v1\n"
_NAME = re.compile(r"^(\d{8}T\d{6}\d{3}Z)-(\d+)\.json$")


class CheckpointError(Exception):
    """A checkpoint file that is malformed or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    tenant_id: str
    slug: str
    count: int
    head_hash: bytes
    time_ms: int
    key_id: str
    public_key: bytes


def make_checkpoint(rx: Rx, tenant_id: str, key: Ed25519PrivateKey) -> bytes:
    """The signed checkpoint of the tenant's journal as it is in `rx`'s view, as JSON bytes."""
    tenant = rx.conn.execute(
        select(s.tenants.c.slug).where(s.tenants.c.id == tenant_id)
    ).scalar_one()
    head = rx.conn.execute(
        select(s.journal_heads.c.seq, s.journal_heads.c.head_hash).where(
            s.journal_heads.c.tenant_id == tenant_id
        )
    ).first()
    count, head_hash = (head.seq, head.head_hash) if head is not None else (0, GENESIS)
    return sign_checkpoint(
        key, tenant_id=tenant_id, slug=tenant, count=count, head_hash=head_hash, time_ms=rx.now_ms
    )


def sign_checkpoint(
    key: Ed25519PrivateKey,
    *,
    tenant_id: str,
    slug: str,
    count: int,
    head_hash: bytes,
    time_ms: int,
) -> bytes:
    public = public_bytes(key)
    body: dict[str, Any] = {
        "format": FORMAT,
        "tenant": tenant_id,
        "business": slug,
        "entries": count,
        "head": head_hash.hex(),
        "time": time_ms,
        "time_utc": datetime.fromtimestamp(time_ms / 1000, UTC).isoformat(timespec="seconds"),
        "key_id": key_id(public),
        "public_key": base64.b64encode(public).decode("ascii"),
    }
    body["signature"] = base64.b64encode(sign(key, DOMAIN, canonical(body))).decode("ascii")
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def verify_checkpoint(data: bytes, *, public_key: bytes | None = None) -> Checkpoint:
    """Parse a checkpoint and check its signature (against `public_key` when given, which
    pins the installation's key; else against the key the file names). Raises
    CheckpointError naming what is wrong."""
    try:
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CheckpointError(f"not a checkpoint (format {FORMAT} expected)")
        signature = base64.b64decode(doc.pop("signature"), validate=True)
        embedded = base64.b64decode(doc["public_key"], validate=True)
        checkpoint = Checkpoint(
            tenant_id=str(doc["tenant"]),
            slug=str(doc["business"]),
            count=int(doc["entries"]),
            head_hash=bytes.fromhex(doc["head"]),
            time_ms=int(doc["time"]),
            key_id=str(doc["key_id"]),
            public_key=embedded,
        )
        signed = canonical(doc)
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise CheckpointError(f"the checkpoint is malformed ({exc})") from None
    if public_key is not None and embedded != public_key:
        raise CheckpointError(
            f"the checkpoint was signed by another key ({key_id(embedded)}, "
            f"expected {key_id(public_key)})"
        )
    if not check_signature(embedded, signature, DOMAIN, signed):
        raise CheckpointError("the checkpoint's signature is wrong (it was altered)")
    return checkpoint


@dataclass(frozen=True)
class CheckpointCheck:
    checkpoint: Checkpoint
    journal_count: int
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_against_journal(conn: Connection, keys: Keyring, cp: Checkpoint) -> CheckpointCheck:
    """Does the journal still contain everything up to the checkpoint? Verifies the whole
    chain, then compares count and the hash at the checkpoint's position."""
    tenant = conn.execute(
        select(s.tenants.c.slug).where(s.tenants.c.id == cp.tenant_id)
    ).scalar_one_or_none()
    if tenant is None:
        return CheckpointCheck(cp, 0, f"the business {cp.slug!r} is not in this database")
    return compare_with_checkpoint(conn, cp, verify_tenant(conn, keys, cp.tenant_id, tenant))


def compare_with_checkpoint(
    conn: Connection, cp: Checkpoint, result: VerifyResult
) -> CheckpointCheck:
    """The second half of `check_against_journal`, for a caller that verified the business's
    chain already (`result`): count and the hash at the checkpoint's position."""
    if not result.ok:
        return CheckpointCheck(cp, result.count, f"entry {result.bad_seq}: {result.problem}")
    if result.count < cp.count:
        return CheckpointCheck(
            cp,
            result.count,
            f"{_span(result.count + 1, cp.count)} missing: the checkpoint of "
            f"{cp_time(cp)} recorded {cp.count} entries, the journal has {result.count}",
        )
    if cp.count == 0:
        return CheckpointCheck(cp, result.count)
    stored = conn.execute(
        select(s.journal.c.entry_hash).where(
            s.journal.c.tenant_id == cp.tenant_id, s.journal.c.seq == cp.count
        )
    ).scalar_one()
    if stored != cp.head_hash:
        return CheckpointCheck(
            cp,
            result.count,
            f"entry {cp.count} differs from the checkpoint of {cp_time(cp)}: the journal up to "
            f"it was altered and its hashes recomputed",
        )
    return CheckpointCheck(cp, result.count)


def _span(first: int, last: int) -> str:
    return f"entry {first} is" if first == last else f"entries {first} to {last} are"


def cp_time(cp: Checkpoint) -> str:
    return datetime.fromtimestamp(cp.time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- files outside the database -----------------------------------------------------------


def file_name(time_ms: int, count: int) -> str:
    stamp = datetime.fromtimestamp(time_ms / 1000, UTC)
    return f"{stamp:%Y%m%dT%H%M%S}{stamp.microsecond // 1000:03d}Z-{count}.json"


def write_checkpoint_file(directory: Path, slug: str, data: bytes, time_ms: int) -> Path:
    """Store a checkpoint as <directory>/<slug>/<UTC time>-<count>.json, durably."""
    count = json.loads(data)["entries"]
    folder = directory / slug
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / file_name(time_ms, count)
    tmp = folder / f".{path.name}.{secrets.token_hex(4)}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def newest_checkpoint_file(directory: Path, slug: str) -> tuple[Path, int] | None:
    """The newest checkpoint file of a business and its time (ms), by the file names."""
    folder = directory / slug
    if not folder.is_dir():
        return None
    best: tuple[str, Path] | None = None
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and (best is None or match.group(1) > best[0]):
            best = (match.group(1), path)
    if best is None:
        return None
    stamp = datetime.strptime(best[0][:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return best[1], int(stamp.timestamp()) * 1000 + int(best[0][15:18])
