"""The key-encryption key (KEK): kept outside the database, in a 0600 file or an env variable."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

KEK_BYTES = 32


class KeyError_(Exception):
    """The key-encryption key is missing, malformed or too widely readable."""


def _decode(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyError_(f"{where}: not valid base64") from exc
    if len(raw) != KEK_BYTES:
        raise KeyError_(f"{where}: expected {KEK_BYTES} bytes, found {len(raw)}")
    return raw


def load_kek(configured: str, data_dir: Path) -> bytes:
    """Return the KEK from ZUNFT_KEK, else from <data_dir>/kek, made on first start."""
    if configured:
        return _decode(configured, "ZUNFT_KEK")
    path = data_dir / "kek"
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyError_(f"{path}: mode {mode:o} lets others read the key; chmod 600 it")
        return _decode(path.read_text(encoding="ascii"), str(path))
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(KEK_BYTES)
    # Written completely under a private name, then linked into place: link() fails when the
    # file exists, so of two processes starting at once one key wins and both read it.
    tmp = data_dir / f".kek.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(base64.b64encode(key).decode("ascii") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _decode(path.read_text(encoding="ascii"), str(path))
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the new name is durable before any data depends on the key
    finally:
        os.close(dir_fd)
    return key
