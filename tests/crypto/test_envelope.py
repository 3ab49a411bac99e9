"""Envelope encryption: ciphertexts bound to their place, keys wrapped by the KEK."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path

import pytest

from zunft.crypto.envelope import DecryptionError, Keyring, TenantCipher, unwrap_key, wrap_key
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


def test_two_threads_asking_for_a_cipher_at_once_get_the_same_one() -> None:
    """The writer and the search indexer of a fresh process ask at the same moment; with two
    ciphers a content key made in the writer's transaction was found in neither."""
    kek, data = secrets.token_bytes(32), secrets.token_bytes(32)
    inside, go = threading.Event(), threading.Event()
    loads: list[str] = []

    def load(tenant_id: str) -> list[tuple[int, bytes]]:
        loads.append(tenant_id)
        inside.set()
        go.wait(10)  # the first caller stays in here while the second one asks
        return [(1, wrap_key(kek, tenant_id, 1, data))]

    keyring = Keyring(kek, load)
    got: list[TenantCipher] = []
    first = threading.Thread(target=lambda: got.append(keyring.cipher("t1")))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=lambda: got.append(keyring.cipher("t1")))
    second.start()
    # A second load would start within this bound when nothing stops it; with the lock the
    # second caller waits for the first instead (and this waits out the bound).
    deadline = time.monotonic() + 1
    while len(loads) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    go.set()
    first.join(10)
    second.join(10)
    assert loads == ["t1"]
    assert got[0] is got[1]


def test_a_key_made_in_a_transaction_stays_usable_whatever_else_is_cached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An uncommitted content key cannot be loaded back: a full cache must not drop it."""
    import zunft.crypto.envelope as envelope

    monkeypatch.setattr(envelope, "CONTENT_CACHE_MAX", 4)
    c = TenantCipher("t1", {1: secrets.token_bytes(32)}, 1, load_content=lambda t, k: None)
    key_id, _wrapped = c.new_content_key()
    for _ in range(10):  # other keys read meanwhile (the indexer, another write) fill the cache
        c._remember(secrets.token_bytes(16), envelope.AESGCM(secrets.token_bytes(32)))
    blob = c.encrypt("messages.body/m1", "Estrich trocknet", key_id)
    assert c.decrypt("messages.body/m1", blob) == "Estrich trocknet"
