"""Envelope encryption: ciphertexts bound to their place, keys wrapped by the KEK."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from zunft.crypto.envelope import DecryptionError, TenantCipher, unwrap_key, wrap_key
from zunft.crypto.kek import KeyError_, load_kek


def cipher(tenant: str = "t1") -> TenantCipher:
    return TenantCipher(tenant, {1: secrets.token_bytes(32)}, 1)


def test_round_trip_and_fresh_nonce() -> None:
    c = cipher()
    a, b = c.encrypt("messages.body/m1", "Fliesen"), c.encrypt("messages.body/m1", "Fliesen")
    assert a != b
    assert c.decrypt("messages.body/m1", a) == "Fliesen"


def test_ciphertext_moved_to_another_row_or_tenant_fails() -> None:
    key = secrets.token_bytes(32)
    c1, c2 = TenantCipher("t1", {1: key}, 1), TenantCipher("t2", {1: key}, 1)
    blob = c1.encrypt("messages.body/m1", "geheim")
    with pytest.raises(DecryptionError):
        c1.decrypt("messages.body/m2", blob)
    with pytest.raises(DecryptionError):
        c2.decrypt("messages.body/m1", blob)
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        c1.decrypt("messages.body/m1", bytes(tampered))


def test_rotated_keys_still_read_old_ciphertexts() -> None:
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    old = TenantCipher("t1", {1: k1}, 1).encrypt("x/1", "alt")
    both = TenantCipher("t1", {1: k1, 2: k2}, 2)
    assert both.decrypt("x/1", old) == "alt"
    assert both.index_token("word", "rohr") == TenantCipher("t1", {1: k1}, 1).index_token(
        "word", "rohr"
    )
    with pytest.raises(DecryptionError):
        TenantCipher("t1", {2: k2}, 2).decrypt("x/1", old)  # key 1 destroyed: unreadable


def test_index_tokens_differ_per_tenant_key() -> None:
    assert cipher().index_token("word", "rohr") != cipher().index_token("word", "rohr")


def test_wrapped_key_needs_the_right_kek_and_place() -> None:
    kek, data = secrets.token_bytes(32), secrets.token_bytes(32)
    wrapped = wrap_key(kek, "t1", 1, data)
    assert unwrap_key(kek, "t1", 1, wrapped) == data
    with pytest.raises(DecryptionError):
        unwrap_key(secrets.token_bytes(32), "t1", 1, wrapped)
    with pytest.raises(DecryptionError):
        unwrap_key(kek, "t2", 1, wrapped)


def test_kek_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    key = load_kek("", tmp_path)
    assert (tmp_path / "kek").stat().st_mode & 0o777 == 0o600
    assert load_kek("", tmp_path) == key


def test_kek_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_kek("", tmp_path)
    os.chmod(tmp_path / "kek", 0o644)
    with pytest.raises(KeyError_, match="chmod 600"):
        load_kek("", tmp_path)


def test_kek_from_environment_value(tmp_path: Path) -> None:
    import base64

    raw = secrets.token_bytes(32)
    assert load_kek(base64.b64encode(raw).decode(), tmp_path) == raw
    assert not (tmp_path / "kek").exists()
    with pytest.raises(KeyError_):
        load_kek("not base64!", tmp_path)
    with pytest.raises(KeyError_):
        load_kek(base64.b64encode(b"short").decode(), tmp_path)


def test_two_processes_creating_the_kek_at_once_agree(tmp_path: Path) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        keys = pool.map(_load_in_child, [str(tmp_path)] * 8)
    assert len(set(keys)) == 1
    assert load_kek("", tmp_path) == keys[0]
    assert [p.name for p in tmp_path.iterdir()] == ["kek"]  # no temporary files left


def _load_in_child(path: str) -> bytes:
    return load_kek("", Path(path))
