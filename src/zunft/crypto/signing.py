"""The installation's Ed25519 signing key: signs checkpoints and export manifests
(docs/archive.md).

Like the key-encryption key (kek.py) it lives outside the database: the setting
ZUNFT_SIGNING_KEY (base64 of the 32-byte private seed) or the file <data_dir>/signing-key,
created with mode 0600 on first use and refused when group or others may read it. Anyone
holding the public key can check a signature; the key id is the first 8 bytes of the public
key's SHA-256, in hex, so a person can compare it by eye.

Signatures are made over a domain prefix plus the signed bytes, so a checkpoint signature can
never be passed off as a manifest signature and the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from zunft.config import Settings
from zunft.crypto.kek import KeyError_, create_key_file

SEED_BYTES = 32
FILE_NAME = "signing-key"


def _decode(text: str, where: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyError_(f"{where}: not valid base64") from exc
    if len(raw) != SEED_BYTES:
        raise KeyError_(f"{where}: expected {SEED_BYTES} bytes, found {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _write_new(path: Path) -> Ed25519PrivateKey:
    seed = base64.b64encode(secrets.token_bytes(SEED_BYTES)).decode("ascii")
    return _decode(create_key_file(path, seed), str(path))


def load_signing_key(settings: Settings, *, create: bool = True) -> Ed25519PrivateKey:
    """The installation's signing key from ZUNFT_SIGNING_KEY, else <data_dir>/signing-key
    (made on first use unless `create` is False)."""
    if settings.signing_key:
        return _decode(settings.signing_key, "ZUNFT_SIGNING_KEY")
    path = settings.data_path / FILE_NAME
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyError_(f"{path}: mode {mode:o} lets others read the key; chmod 600 it")
        return _decode(path.read_text(encoding="ascii"), str(path))
    if not create:
        raise KeyError_(f"{path} does not exist; this installation has not signed anything yet")
    settings.data_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return _write_new(path)


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes_raw()


def key_id(public: bytes) -> str:
    """16 hex digits naming a public key (SHA-256 of its 32 bytes, first 8 bytes)."""
    return hashlib.sha256(public).digest()[:8].hex()


def public_key_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(public_bytes(key)).decode("ascii")


def sign(key: Ed25519PrivateKey, domain: bytes, data: bytes) -> bytes:
    return key.sign(domain + data)


def check_signature(public: bytes, signature: bytes, domain: bytes, data: bytes) -> bool:
    """True when `signature` is the holder of `public`'s signature over domain + data."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, domain + data)
    except (InvalidSignature, ValueError):
        return False
    return True


def decode_public_key(text: str) -> bytes:
    """A public key given as base64 (as `zunft archive public-key` prints it)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyError_("the public key is not valid base64") from exc
    if len(raw) != 32:
        raise KeyError_(f"a public key has 32 bytes, this one {len(raw)}")
    return raw
