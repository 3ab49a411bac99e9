"""The canonical encoding and hashes of docs/journal.md, checked against independent code."""

from __future__ import annotations

import hashlib
import json

import pytest

from zunft.journal.chain import GENESIS, canonical, entry_hash, payload_hash


def test_canonical_is_sorted_compact_utf8() -> None:
    assert (
        canonical({"b": 1, "a": "Müller", "c": [True, None]})
        == '{"a":"Müller","b":1,"c":[true,null]}'.encode()
    )


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
