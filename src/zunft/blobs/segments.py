"""Files encrypted in fixed-size segments, so any byte range is read by decrypting only the
segments it touches (HTTP Range for video seeking and resumed downloads).

A file of `size` bytes is cut into segments of `segment_size` plaintext bytes; segment i is
stored as the object "<tenant>/<blob>/<variant>/<i:08d>", encrypted with the business's data
key (TenantCipher, AES-256-GCM). Its associated data names the blob, the variant, the file's
total size and i, so a segment moved to another file or position, or a file cut short, fails
to decrypt. While an upload is in progress its last, incomplete segment is kept as
"<i:08d>.part" (also encrypted) and rewritten as bytes arrive; it becomes segment i once the
segment is full or the file complete.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from zunft.blobs.store import BlobMissing, BlobStore
from zunft.crypto.envelope import TenantCipher

SEGMENT_SIZE = 1 << 20  # 1 MiB of plaintext per segment
ORIGINAL = "o"


def prefix(tenant_id: str, blob_id: str) -> str:
    return f"{tenant_id}/{blob_id}/"


def key(tenant_id: str, blob_id: str, variant: str, index: int, *, part: bool = False) -> str:
    return f"{tenant_id}/{blob_id}/{variant}/{index:08d}" + (".part" if part else "")


def _purpose(blob_id: str, variant: str, size: int, index: int, part: bool) -> str:
    return f"blobs/{blob_id}/{variant}/{size}/{index}" + ("/part" if part else "")


def segment_count(size: int, segment_size: int) -> int:
    return max(1, -(-size // segment_size))


class SegmentWriter:
    """Appends to a file being stored, from `offset` on; holds at most one segment in memory.

    `flush_partial` stores the incomplete last segment (call it before answering a client,
    and when the connection broke); the file is complete when `offset == size`.
    """

    def __init__(
        self,
        store: BlobStore,
        cipher: TenantCipher,
        blob_id: str,
        *,
        size: int,
        offset: int = 0,
        variant: str = ORIGINAL,
        segment_size: int = SEGMENT_SIZE,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.blob_id = blob_id
        self.size = size
        self.variant = variant
        self.segment_size = segment_size
        index, used = divmod(offset, segment_size)
        self._start = index * segment_size  # where the buffer begins: a segment boundary
        self._buf = bytearray()
        if used:
            self._buf += self._read_partial(index, used)

    @property
    def offset(self) -> int:
        return self._start + len(self._buf)

    @property
    def remaining(self) -> int:
        return self.size - self.offset

    def _key(self, index: int, part: bool) -> str:
        return key(self.cipher.tenant_id, self.blob_id, self.variant, index, part=part)

    def _purpose(self, index: int, part: bool) -> str:
        return _purpose(self.blob_id, self.variant, self.size, index, part)

    def _read_partial(self, index: int, used: int) -> bytes:
        """The first `used` bytes of segment `index` as stored by an earlier request. Bytes
        beyond `used` (written by a request whose offset never committed) are dropped."""
        for part in (True, False):
            try:
                data = self.store.get(self._key(index, part))
            except BlobMissing:
                continue
            plain = self.cipher.decrypt_bytes(self._purpose(index, part), data)
            if len(plain) >= used:
                return plain[:used]
        raise BlobMissing(self._key(index, True))

    def write(self, data: bytes) -> None:
        if len(data) > self.remaining:
            raise ValueError("more bytes than the file's declared size")
        view = memoryview(data)
        while view:
            room = self.segment_size - len(self._buf)
            self._buf += view[:room]
            view = view[room:]
            if len(self._buf) == self.segment_size:
                self._store(part=False)
        if self.offset == self.size and self._buf:
            self._store(part=False)

    def _store(self, *, part: bool) -> None:
        index = self._start // self.segment_size
        data = self.cipher.encrypt(self._purpose(index, part), bytes(self._buf))
        self.store.put(self._key(index, part), data)
        if not part:
            self._start += len(self._buf)
            self._buf.clear()

    def flush_partial(self) -> None:
        """Store the incomplete last segment, so the bytes so far survive this request."""
        if self._buf and self.offset < self.size:
            self._store(part=True)

    def drop_parts(self, old_offset: int) -> None:
        """Remove the .part objects that full segments replaced since `old_offset` (call
        after the new offset is committed: until then the old .part is still the truth)."""
        first = old_offset // self.segment_size
        last = self._start // self.segment_size
        if self.offset == self.size:
            last += 1
        for index in range(first, last):
            self.store.delete(self._key(index, True))


def write_whole(
    store: BlobStore, cipher: TenantCipher, blob_id: str, variant: str, data: bytes
) -> int:
    """Store a small variant (a thumbnail, a poster frame) at once; returns its size."""
    writer = SegmentWriter(store, cipher, blob_id, size=len(data), variant=variant)
    writer.write(data)
    if not data:  # an empty file still has its one (empty) segment
        writer._store(part=False)
    return len(data)


class BlobReader(io.RawIOBase):
    """A read-only, seekable file over a stored file: decrypts one segment at a time."""

    def __init__(
        self,
        store: BlobStore,
        cipher: TenantCipher,
        blob_id: str,
        *,
        size: int,
        variant: str = ORIGINAL,
        segment_size: int = SEGMENT_SIZE,
    ) -> None:
        super().__init__()
        self.store = store
        self.cipher = cipher
        self.blob_id = blob_id
        self.size = size
        self.variant = variant
        self.segment_size = segment_size
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            pos += self._pos
        elif whence == io.SEEK_END:
            pos += self.size
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def segment(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        k = key(self.cipher.tenant_id, self.blob_id, self.variant, index)
        plain = self.cipher.decrypt_bytes(
            _purpose(self.blob_id, self.variant, self.size, index, False), self.store.get(k)
        )
        self._cached = (index, plain)
        return plain

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self.size:
            return 0
        index, skip = divmod(self._pos, self.segment_size)
        chunk = self.segment(index)[skip : skip + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """The bytes start..end (inclusive), a segment's worth at a time."""
        pos = start
        while pos <= end:
            index, skip = divmod(pos, self.segment_size)
            take = min(self.segment_size - skip, end - pos + 1)
            yield self.segment(index)[skip : skip + take]
            pos += take
