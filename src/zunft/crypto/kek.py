"""The key-encryption key (KEK): kept outside the database, in a 0600 file or an env variable."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

KEK_BYTES = 32


class KeyError_(Exception):
    """The key-encryption key is missing, malformed or too widely readable."""


def kek_id(kek: bytes) -> bytes:
    """A short public name of a KEK: tells keys apart without revealing anything of them."""
    return hmac.new(kek, b"zunft-kek-id/v1", hashlib.sha256).digest()[:8]


def _decode(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyError_(f"{where}: not valid base64") from exc
    if len(raw) != KEK_BYTES:
        raise KeyError_(f"{where}: expected {KEK_BYTES} bytes, found {len(raw)}")
    return raw


def read_key_file(path: Path) -> bytes:
    """A key file's key; refused when group or others may read or write it."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyError_(f"{path}: mode {mode:o} lets others read the key; chmod 600 it")
    return _decode(path.read_text(encoding="ascii"), str(path))


def read_kek(configured: str, data_dir: Path) -> bytes:
    """The KEK as configured now (ZUNFT_KEK or the key file); never makes one."""
    if configured:
        return _decode(configured, "ZUNFT_KEK")
    path = data_dir / "kek"
    if not path.exists():
        raise KeyError_(f"{path} is missing")
    return read_key_file(path)


def write_key_file(path: Path, key: bytes) -> None:
    """Write a new key file (mode 0600, made exclusively, flushed to disk with its name)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(key).decode("ascii") + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_kek(configured: str, data_dir: Path) -> bytes:
    """Return the KEK from ZUNFT_KEK, else from <data_dir>/kek, made on first start."""
    if configured:
        return _decode(configured, "ZUNFT_KEK")
    path = data_dir / "kek"
    if path.exists():
        return read_key_file(path)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = create_key_file(path, base64.b64encode(secrets.token_bytes(KEK_BYTES)).decode("ascii"))
    return _decode(text, str(path))


def create_key_file(path: Path, text: str) -> str:
    """Make a new key file (mode 0600) holding `text`, or, when another process made it first,
    read theirs; returns the text that is in the file. Written completely under a private
    name, then linked into place: link() fails when the file exists, so of two processes
    starting at once one key wins and both use it. Durable with its name before returning."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip()
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)  # the new name is durable before any data depends on the key
    return text
