"""Orphaned objects: stored segments whose file or upload no longer has a row.

They arise when a process stops between deleting an upload's (or an erased file's) row and
deleting its objects: the row goes first, so nothing ever points at a half-deleted file, and
the objects are left behind. `sweep_orphans` finds them by walking the store's keys
(`<tenant_id>/<blob_id>/<variant>/<segment>`, in key order, so one id's objects come
together) and deletes every id that has neither a `blobs` nor an `uploads` row.

Ids are time-ordered (zunft.ids.new_id: the first 48 bits are milliseconds). Objects of ids
younger than `min_age_ms` are never touched, so an upload whose row is being written at this
moment cannot be mistaken for an orphan.

`sweep_when_due` runs it once a week as part of the due work (zunft.due.run_due), so a host
does not have to remember `zunft admin sweep-files`. The time of the last finished sweep is
kept in the data directory (SWEPT_FILE): a restart does not sweep again before its week is up.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

from zunft.blobs import segments
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.db.tx import Rx
from zunft.ids import id_time_ms

DAY_MS = 86_400_000
SWEEP_EVERY_MS = 7 * DAY_MS
SWEPT_FILE = "sweep-files.last"  # in the data directory: when the last sweep finished (ms)
_CHECK_BATCH = 500
log = logging.getLogger(__name__)


@dataclass
class Sweep:
    checked: int = 0  # ids looked at
    orphans: list[str] = field(default_factory=list)  # "<tenant>/<blob_id>" deleted (or found)
    young: int = 0  # ids skipped because they are too new to judge


def _ids(ctx: AppContext) -> Iterator[tuple[str, str]]:
    assert ctx.blobs is not None
    last: tuple[str, str] | None = None
    for key in ctx.blobs.keys(""):
        parts = key.split("/")
        if len(parts) < 3:
            continue
        pair = (parts[0], parts[1])
        if pair != last:
            last = pair
            yield pair


def _known(rx: Rx, ids: list[str]) -> set[str]:
    found = set(rx.conn.execute(select(s.blobs.c.id).where(s.blobs.c.id.in_(ids))).scalars())
    found |= set(rx.conn.execute(select(s.uploads.c.id).where(s.uploads.c.id.in_(ids))).scalars())
    return found


def sweep_orphans(ctx: AppContext, *, min_age_ms: int = DAY_MS, dry_run: bool = False) -> Sweep:
    assert ctx.blobs is not None
    store = ctx.blobs
    result = Sweep()
    cutoff = ctx.now_ms() - min_age_ms
    pending: list[tuple[str, str]] = []

    def settle() -> None:
        known = ctx.read(lambda rx: _known(rx, [blob_id for _, blob_id in pending]))
        for tenant_id, blob_id in pending:
            if blob_id not in known:
                result.orphans.append(f"{tenant_id}/{blob_id}")
                if not dry_run:
                    store.delete_prefix(segments.prefix(tenant_id, blob_id))
        pending.clear()

    for tenant_id, blob_id in _ids(ctx):
        made = id_time_ms(blob_id)
        if made is None:
            continue  # not an object zunft wrote: leave it alone
        result.checked += 1
        if made > cutoff:
            result.young += 1
            continue
        pending.append((tenant_id, blob_id))
        if len(pending) >= _CHECK_BATCH:
            settle()
    if pending:
        settle()
    return result


def _last_swept(ctx: AppContext) -> int | None:
    try:
        return int((ctx.settings.data_path / SWEPT_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None  # never swept here, or a damaged file: sweep


def sweep_when_due(ctx: AppContext) -> Sweep | None:
    """Sweep when the last sweep is a week old or there was none; None when not due."""
    if ctx.blobs is None:
        return None
    now = ctx.now_ms()
    last = _last_swept(ctx)
    if last is not None and now - last < SWEEP_EVERY_MS:
        return None
    result = sweep_orphans(ctx)
    path = ctx.settings.data_path / SWEPT_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(str(now), encoding="ascii")
    os.replace(tmp, path)
    if result.orphans:
        log.info("swept %d orphaned files of %d checked", len(result.orphans), result.checked)
    return result
