"""Hashes of the journal chain over a documented canonical encoding (docs/journal.md).

canonical(x) is JSON with keys sorted, no insignificant whitespace, UTF-8, no floats.
payload_hash = SHA-256(canonical(payload)).
entry_hash   = SHA-256(b"zunft-journal-v1\\n" + canonical({"tenant", "seq", "ts", "kind",
               "actor", "chat", "prev": hex, "payload": hex})).
The first entry's prev is 32 zero bytes (GENESIS).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

GENESIS = bytes(32)
_DOMAIN = b"zunft-journal-v1\n"


def _no_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise TypeError("floats have no canonical encoding; use integers or strings")
    if isinstance(obj, dict):
        for v in obj.values():
            _no_floats(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _no_floats(v)


def canonical(obj: Any) -> bytes:
    _no_floats(obj)
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def payload_hash(payload: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical(payload)).digest()


def entry_hash(
    *,
    tenant_id: str,
    seq: int,
    ts: int,
    kind: str,
    actor_id: str | None,
    chat_id: str | None,
    prev_hash: bytes,
    payload_digest: bytes,
) -> bytes:
    header = {
        "tenant": tenant_id,
        "seq": seq,
        "ts": ts,
        "kind": kind,
        "actor": actor_id,
        "chat": chat_id,
        "prev": prev_hash.hex(),
        "payload": payload_digest.hex(),
    }
    return hashlib.sha256(_DOMAIN + canonical(header)).digest()


@dataclass(frozen=True)
class Event:
    """A committed journal entry as the bus and the realtime layer see it."""

    tenant_id: str
    seq: int
    ts: int
    kind: str
    actor_id: str | None
    chat_id: str | None
    payload: dict[str, Any] = field(hash=False)
