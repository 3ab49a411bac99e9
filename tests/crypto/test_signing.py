"""The installation's Ed25519 signing key: made once, private, refused when others may read
it, or given by a setting; signatures bound to their purpose."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import pytest

from zunft.config import load_settings
from zunft.crypto.kek import KeyError_
from zunft.crypto.signing import (
    check_signature,
    decode_public_key,
    key_id,
    load_signing_key,
    public_bytes,
    public_key_b64,
    sign,
)


def test_made_on_first_use_private_and_stable(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=str(tmp_path / "data"))
    key = load_signing_key(settings)
    path = tmp_path / "data" / "signing-key"
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_signing_key(settings)
    assert public_bytes(again) == public_bytes(key)
    assert len(key_id(public_bytes(key))) == 16
    assert decode_public_key(public_key_b64(key)) == public_bytes(key)


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=str(tmp_path / "data"))
    found: list[bytes] = []

    def load() -> None:
        found.append(public_bytes(load_signing_key(settings)))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=str(tmp_path / "data"))
    load_signing_key(settings)
    os.chmod(tmp_path / "data" / "signing-key", 0o644)
    with pytest.raises(KeyError_, match="chmod 600"):
        load_signing_key(settings)


def test_the_setting_wins_and_bad_values_are_named(tmp_path: Path) -> None:
    seed = base64.b64encode(bytes(range(32))).decode()
    settings = load_settings({"ZUNFT_SIGNING_KEY": seed}, data_dir=str(tmp_path / "data"))
    key = load_signing_key(settings)
    assert not (tmp_path / "data" / "signing-key").exists()
    assert public_bytes(load_signing_key(settings)) == public_bytes(key)
    for bad in ("nicht-base64!", base64.b64encode(b"short").decode()):
        wrong = load_settings({"ZUNFT_SIGNING_KEY": bad}, data_dir=str(tmp_path / "d2"))
        with pytest.raises(KeyError_, match="ZUNFT_SIGNING_KEY"):
            load_signing_key(wrong)
    missing = load_settings({}, data_dir=str(tmp_path / "d3"))
    with pytest.raises(KeyError_, match="does not exist"):
        load_signing_key(missing, create=False)


def test_signatures_are_bound_to_their_purpose_and_bytes(tmp_path: Path) -> None:
    key = load_signing_key(load_settings({}, data_dir=str(tmp_path / "data")))
    public = public_bytes(key)
    signature = sign(key, b"a\n", b"Inhalt")
    assert check_signature(public, signature, b"a\n", b"Inhalt")
    assert not check_signature(public, signature, b"b\n", b"Inhalt")
    assert not check_signature(public, signature, b"a\n", b"Inhalt!")
    # One bit flipped (replacing a byte could leave it as it was: the last byte of an
    # Ed25519 signature is often already zero).
    altered = signature[:10] + bytes([signature[10] ^ 0x01]) + signature[11:]
    assert not check_signature(public, altered, b"a\n", b"Inhalt")
    assert not check_signature(b"\x00" * 31, signature, b"a\n", b"Inhalt")
