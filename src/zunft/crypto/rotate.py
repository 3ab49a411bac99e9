"""`zunft admin rotate-key`: a new key-encryption key, without re-encrypting any content.

Only the data keys in `tenant_keys` are wrapped by the KEK (docs/security.md); everything
else is encrypted under those data keys and stays as it is. Rotation therefore unwraps each
data key with the old KEK and wraps it with the new one, all in one transaction, with a
journal entry `kek.rotated` per business (the owner's audit log shows it).

The order makes a crash at any point safe:

1. the new key is written to `<data_dir>/kek.next` (0600, flushed, made exclusively);
2. the transaction re-wraps every data key and commits;
3. the old key file is kept as `kek.retired-<time>` (old backups need it) and `kek.next`
   replaces `kek` in one rename.

If the process stops between 1 and 3, the next start (`open_context` → `finish_rotation`)
looks at the database: data keys that open with `kek.next` mean step 2 committed, so step 3
is finished; otherwise `kek.next` is removed. With ZUNFT_KEK (no key file) the new key goes
to a file the operator names, and the operator puts it into ZUNFT_KEK before the next start.
Running servers pick up the new key file by themselves (`Keyring` re-reads it when an
unwrap fails).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, select, update

from zunft.crypto.envelope import DecryptionError, unwrap_key, wrap_key
from zunft.crypto.kek import KEK_BYTES, fsync_dir, kek_id, read_key_file, write_key_file
from zunft.db import schema as s
from zunft.db.tx import Tx

if TYPE_CHECKING:
    from zunft.context import AppContext


class RotateError(Exception):
    """The rotation cannot start; nothing was changed."""


@dataclass(frozen=True)
class Rotation:
    old_kek_id: str
    new_kek_id: str
    tenants: int
    data_keys: int
    retired: Path | None  # where the old key file was kept
    new_key_file: Path | None  # with ZUNFT_KEK: where the new key was written


def _next_path(data_dir: Path) -> Path:
    return data_dir / "kek.next"


def _install_next(data_dir: Path, now_s: float) -> Path:
    """Keep the current key file as kek.retired-<time>, then let kek.next replace it."""
    current = data_dir / "kek"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_s))
    retired = data_dir / f"kek.retired-{stamp}"
    n = 1
    while retired.exists():
        n += 1
        retired = data_dir / f"kek.retired-{stamp}-{n}"
    os.link(current, retired)
    os.replace(_next_path(data_dir), current)  # atomic: there is always a key file
    fsync_dir(data_dir)
    return retired


def finish_rotation(engine: Engine, settings_kek: str, data_dir: Path) -> None:
    """Complete or undo a rotation that stopped between writing kek.next and installing it."""
    nxt = _next_path(data_dir)
    if settings_kek or not nxt.exists():
        return
    new = read_key_file(nxt)
    committed = False
    if inspect(engine).has_table("tenant_keys"):
        with engine.connect() as conn:
            row = conn.execute(select(s.tenant_keys).limit(1)).first()
        if row is not None:
            try:
                unwrap_key(new, row.tenant_id, row.key_id, row.wrapped)
                committed = True
            except DecryptionError:
                committed = False
    if committed:
        _install_next(data_dir, time.time())
    else:
        nxt.unlink()
        fsync_dir(data_dir)


def rotate_kek(
    ctx: AppContext, *, new_key_file: Path | None = None, _stop_before_install: bool = False
) -> Rotation:
    """Re-wrap every data key under a fresh KEK (see the module's description)."""
    settings = ctx.settings
    data_dir = settings.data_path
    if settings.kek:
        if new_key_file is None:
            raise RotateError(
                "ZUNFT_KEK is set: name a file for the new key with --new-key-file, then put "
                "its contents into ZUNFT_KEK before the next start"
            )
        target = new_key_file
    else:
        if new_key_file is not None:
            raise RotateError("--new-key-file is only for installations that use ZUNFT_KEK")
        target = _next_path(data_dir)
    if target.exists():
        raise RotateError(f"{target} exists already; remove it or choose another name")
    old = ctx.keys.kek
    new = secrets.token_bytes(KEK_BYTES)
    old_id, new_id = kek_id(old).hex(), kek_id(new).hex()
    write_key_file(target, new)

    def rewrap(tx: Tx) -> tuple[int, int]:
        rows = tx.conn.execute(select(s.tenant_keys).order_by(s.tenant_keys.c.tenant_id)).all()
        per_tenant: dict[str, int] = {}
        for r in rows:
            data_key = unwrap_key(old, r.tenant_id, r.key_id, r.wrapped)
            tx.conn.execute(
                update(s.tenant_keys)
                .where(
                    (s.tenant_keys.c.tenant_id == r.tenant_id)
                    & (s.tenant_keys.c.key_id == r.key_id)
                )
                .values(wrapped=wrap_key(new, r.tenant_id, r.key_id, data_key))
            )
            per_tenant[r.tenant_id] = per_tenant.get(r.tenant_id, 0) + 1
        for tenant_id, count in per_tenant.items():
            tx.append(
                tenant_id,
                "kek.rotated",
                {"old_kek_id": old_id, "new_kek_id": new_id, "data_keys": count},
            )
        return len(per_tenant), len(rows)

    try:
        tenants, data_keys = ctx.write(rewrap)
    except BaseException:
        target.unlink(missing_ok=True)  # nothing was re-wrapped: the old key stays the key
        raise
    if _stop_before_install:  # tests: a crash between commit and rename
        return Rotation(old_id, new_id, tenants, data_keys, None, None)
    if settings.kek:
        return Rotation(old_id, new_id, tenants, data_keys, None, target)
    retired = _install_next(data_dir, ctx.clock.now().timestamp())
    return Rotation(old_id, new_id, tenants, data_keys, retired, None)
