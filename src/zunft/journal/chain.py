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

import orjson

# json's own string escaper for ensure_ascii=False (the C one where available).
_esc = json.encoder.encode_basestring
GENESIS = bytes(32)
_DOMAIN = b"zunft-journal-v1\n"
_DOMAIN_HASH = hashlib.sha256(_DOMAIN)  # copied for each entry instead of hashing the prefix


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
    try:
        # orjson writes the same bytes as the json call below for everything a payload holds
        # (str keys, strings, integers up to 64 bits, lists, booleans, null), in a fifth of
        # the time; a send encodes three times (docs/performance.md). Anything it refuses
        # (a non-str key, a larger integer) goes the way the definition names.
        # tests/journal/test_chain.py holds the two against each other.
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _stdlib(obj)


def canonical_reference(obj: Any) -> bytes:
    """The definition of the canonical encoding, in the standard library's terms."""
    _no_floats(obj)
    return _stdlib(obj)


def _stdlib(obj: Any) -> bytes:
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
    if (
        type(seq) is int
        and type(ts) is int
        and type(tenant_id) is str
        and type(kind) is str
        and (actor_id is None or type(actor_id) is str)
        and (chat_id is None or type(chat_id) is str)
    ):
        # The same bytes as canonical(header) below, written out in sorted key order: this
        # runs for every append and, a million times, in `archive verify` (docs/performance.md).
        # tests/journal/test_chain.py checks both give the same bytes.
        text = (
            f'{{"actor":{_str(actor_id)},"chat":{_str(chat_id)},"kind":{_esc(kind)},'
            f'"payload":"{payload_digest.hex()}","prev":"{prev_hash.hex()}","seq":{seq},'
            f'"tenant":{_esc(tenant_id)},"ts":{ts}}}'
        )
        digest = _DOMAIN_HASH.copy()
        digest.update(text.encode("utf-8"))
        return digest.digest()
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


def _str(value: str | None) -> str:
    return "null" if value is None else _esc(value)


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
