"""The canonical encoding and hashes of docs/journal.md, checked against independent code."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest

from zunft.journal.chain import (
    GENESIS,
    canonical,
    canonical_reference,
    entry_hash,
    payload_hash,
)


def test_canonical_is_sorted_compact_utf8() -> None:
    assert (
        canonical({"b": 1, "a": "Müller", "c": [True, None]})
        == '{"a":"Müller","b":1,"c":[true,null]}'.encode()
    )


# Characters a payload can carry: every control character, quotes and backslashes, German
# letters, the line and paragraph separators, a byte-order mark, emoji and the last code point.
_ALPHABET = [chr(i) for i in range(0x80)] + list("äöüÄÖÜß€\u2028\u2029\ufeff😀\U0010ffff\u00a0")


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 12)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(9 if depth < 4 else 6)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.choice(
            [0, -1, 1, 2**31, -(2**63), 2**63 - 1, 2**64 - 1, rng.randrange(-999, 999)]
        )
    if pick in (3, 4, 5):
        return _text(rng)
    if pick in (6, 7):
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randrange(0, 6))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 6))]


def test_the_fast_encoding_writes_the_bytes_of_the_definition() -> None:
    rng = random.Random(20261129)
    for _ in range(5_000):
        payload = {_text(rng): _value(rng) for _ in range(rng.randrange(1, 8))}
        assert canonical(payload) == canonical_reference(payload), payload


def test_what_the_fast_encoding_refuses_is_encoded_by_the_definition() -> None:
    for payload in ({"big": 2**64}, {"big": -(2**63) - 1}, {1: "key not a string"}, ("a", 1)):
        assert canonical(payload) == canonical_reference(payload)
    assert canonical({1: "x"}) == b'{"1":"x"}'


def test_floats_have_no_canonical_form() -> None:
    with pytest.raises(TypeError):
        canonical({"amount": 1.5})
    with pytest.raises(TypeError):
        canonical({"nested": [{"x": 0.1}]})


def test_entry_hash_matches_the_documented_recipe() -> None:
    payload = {"message_id": "m1", "text": "Rohr undicht"}
    digest = payload_hash(payload)
    assert digest == hashlib.sha256(b'{"message_id":"m1","text":"Rohr undicht"}').digest()
    header = {
        "actor": "u1",
        "chat": "c1",
        "kind": "message.sent",
        "payload": digest.hex(),
        "prev": GENESIS.hex(),
        "seq": 1,
        "tenant": "t1",
        "ts": 1_772_438_400_000,
    }
    expected = hashlib.sha256(
        b"zunft-journal-v1\n" + json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    ).digest()
    got = entry_hash(
        tenant_id="t1",
        seq=1,
        ts=1_772_438_400_000,
        kind="message.sent",
        actor_id="u1",
        chat_id="c1",
        prev_hash=GENESIS,
        payload_digest=digest,
    )
    assert got == expected
    # Every field is covered: change any one and the hash changes.
    for field, value in (
        ("seq", 2),
        ("ts", 1),
        ("kind", "x"),
        ("actor_id", None),
        ("chat_id", "c2"),
    ):
        args = {
            "tenant_id": "t1",
            "seq": 1,
            "ts": 1_772_438_400_000,
            "kind": "message.sent",
            "actor_id": "u1",
            "chat_id": "c1",
            "prev_hash": GENESIS,
            "payload_digest": digest,
        }
        args[field] = value
        assert entry_hash(**args) != expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actor", "chat", "kind", "tenant"),
    [
        (None, None, "tenant.created", "t"),
        ("u", "c", "message.sent", "01m8hzmb9dbdsqdawr6bngbdk1"),
        ('quo"te\\', "Zeile\nneu\t", "kind/äöüß€😀", "\x00\x1f\u2028"),
    ],
)
def test_the_written_out_header_is_the_canonical_one(
    actor: str | None, chat: str | None, kind: str, tenant: str
) -> None:
    """entry_hash writes the header out by hand for speed; it must equal canonical()."""
    prev, digest = bytes(range(32)), hashlib.sha256(b"x").digest()
    header = {"tenant": tenant, "seq": 7, "ts": -5, "kind": kind, "actor": actor,
              "chat": chat, "prev": prev.hex(), "payload": digest.hex()}  # fmt: skip
    expected = hashlib.sha256(b"zunft-journal-v1\n" + canonical(header)).digest()
    got = entry_hash(
        tenant_id=tenant, seq=7, ts=-5, kind=kind, actor_id=actor, chat_id=chat,
        prev_hash=prev, payload_digest=digest,
    )  # fmt: skip
    assert got == expected
