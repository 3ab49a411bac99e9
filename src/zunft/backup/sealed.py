"""A sealed stream: the encrypted container a backup is written into (docs/backup.md).

The backup is a tar stream of unknown length, written while it is produced, so it is cut
into chunks and each chunk is sealed on its own with AES-256-GCM:

    header  = b"ZUNFTBK1" | salt (16) | KEK id (8)
    chunk   = length of the sealed chunk (4, big-endian) | AES-GCM(key, nonce, data, AD=header)
    nonce   = counter (8, big-endian) | 0x00 0x00 0x00 | last (0x01 for the final chunk, else 0x00)
    key     = HKDF-SHA256(KEK, salt, info="zunft-backup/v1")

Each backup has its own random salt and therefore its own key, so the counter nonces never
repeat under one key. The counter binds each chunk to its position (reordered or dropped
chunks fail) and the final chunk is marked in its nonce: a stream that ends without it was
cut off. The KEK id names the key-encryption key the backup was made with, so a restore with
another key says so instead of failing somewhere in the middle.
"""

from __future__ import annotations

import hmac
import io
import secrets
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from zunft.crypto.kek import kek_id

MAGIC = b"ZUNFTBK1"
HEADER_BYTES = len(MAGIC) + 16 + 8
CHUNK_BYTES = 1 << 20
_TAG = 16


class SealError(Exception):
    """The stream is not a zunft backup, was made with another key, or was damaged."""


def _key(kek: bytes, salt: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"zunft-backup/v1")
    return AESGCM(hkdf.derive(kek))


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(8, "big") + b"\x00\x00\x00" + (b"\x01" if last else b"\x00")


class SealedWriter(io.RawIOBase):
    """A write-only file object: what is written goes out sealed, chunk by chunk.

    `close()` seals the final chunk (possibly empty); without it the stream reads as cut off.
    """

    def __init__(self, out: BinaryIO, kek: bytes) -> None:
        super().__init__()
        salt = secrets.token_bytes(16)
        self._out = out
        self._header = MAGIC + salt + kek_id(kek)
        self._aead = _key(kek, salt)
        self._buf = bytearray()
        self._counter = 0
        out.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buf += data
        while len(self._buf) > CHUNK_BYTES:
            self._seal(bytes(self._buf[:CHUNK_BYTES]), last=False)
            del self._buf[:CHUNK_BYTES]
        return len(data)

    def _seal(self, data: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._counter, last), data, self._header)
        self._out.write(len(sealed).to_bytes(4, "big") + sealed)
        self._counter += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buf), last=True)
            self._buf.clear()
            self._out.flush()
        super().close()


def read_header(src: BinaryIO) -> tuple[bytes, bytes]:
    """The backup's header and the id of the KEK it was made with."""
    header = src.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
        raise SealError("this is not a zunft backup (or its beginning is missing)")
    return header, header[-8:]


class SealedReader(io.RawIOBase):
    """A read-only file object over a sealed stream; raises SealError on any damage."""

    def __init__(self, src: BinaryIO, kek: bytes) -> None:
        super().__init__()
        header, made_with = read_header(src)
        if not hmac.compare_digest(made_with, kek_id(kek)):
            raise SealError(
                f"this backup was made with another key-encryption key (key id "
                f"{made_with.hex()}; the configured key is {kek_id(kek).hex()}). "
                "Use the key file that was in place when the backup was made"
            )
        self._src = src
        self._header = header
        self._aead = _key(kek, header[len(MAGIC) : len(MAGIC) + 16])
        self._counter = 0
        self._buf = b""
        self._pos = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> None:
        size_bytes = self._src.read(4)
        if len(size_bytes) < 4:
            raise SealError("the backup is cut off (its final part is missing)")
        size = int.from_bytes(size_bytes, "big")
        if size < _TAG or size > CHUNK_BYTES + _TAG:
            raise SealError(f"the backup is damaged (part {self._counter} has a bad length)")
        sealed = self._src.read(size)
        if len(sealed) < size:
            raise SealError("the backup is cut off (its final part is missing)")
        for last in (False, True):
            try:
                plain = self._aead.decrypt(_nonce(self._counter, last), sealed, self._header)
            except InvalidTag:
                continue
            self._counter += 1
            self._buf, self._pos = plain, 0
            if last:
                self._done = True
                if self._src.read(1):
                    raise SealError("the backup has data after its final part")
            return
        raise SealError(f"the backup is damaged or altered (part {self._counter})")

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._pos >= len(self._buf) and not self._done:
            self._next_chunk()
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n
