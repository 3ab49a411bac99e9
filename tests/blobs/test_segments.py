"""Segmented encryption on the local store: round trips at every boundary, resuming from a
partial segment, and ciphertexts that cannot be moved, swapped or cut short."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.factories import make_business
from zunft.blobs.segments import SEGMENT_SIZE, BlobReader, SegmentWriter, key
from zunft.blobs.store import BlobMissing, LocalStore
from zunft.context import AppContext
from zunft.crypto.envelope import DecryptionError, TenantCipher


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "blobs")


@pytest.fixture
def cipher(ctx: AppContext) -> TenantCipher:
    return ctx.keys.cipher(make_business(ctx).tenant_id)


@pytest.mark.parametrize(
    "size", [1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE + 5]
)
def test_round_trip_in_pieces(store: LocalStore, cipher: TenantCipher, size: int) -> None:
    data = os.urandom(size)
    offset = 0
    # Several "requests", each ending on an odd byte, as a weak network delivers them.
    for cut in sorted({size // 3, size // 2 + 7, size}):
        if cut <= offset:
            continue
        writer = SegmentWriter(store, cipher, "b1", size=size, offset=offset)
        writer.write(data[offset:cut])
        writer.flush_partial()
        writer.drop_parts(offset)
        offset = writer.offset
    assert offset == size
    reader = BlobReader(store, cipher, "b1", size=size)
    assert b"".join(reader.iter_range(0, size - 1)) == data
    assert reader.read() == data
    reader.seek(size // 2)
    assert reader.read(10) == data[size // 2 : size // 2 + 10]
    assert not [k for k in store.keys("") if k.endswith(".part")]


def test_bytes_beyond_the_committed_offset_are_ignored(
    store: LocalStore, cipher: TenantCipher
) -> None:
    """A request stored 700 bytes but its offset never committed (the process died): the
    next request starts from the committed 500 and its bytes win."""
    data = os.urandom(1000)
    first = SegmentWriter(store, cipher, "b2", size=1000)
    first.write(b"x" * 700)
    first.flush_partial()
    second = SegmentWriter(store, cipher, "b2", size=1000, offset=500)
    assert second.offset == 500
    second.write(data[500:])
    reader = BlobReader(store, cipher, "b2", size=1000)
    assert reader.read() == b"x" * 500 + data[500:]


def test_segments_cannot_be_swapped_moved_or_cut(store: LocalStore, cipher: TenantCipher) -> None:
    size = 2 * SEGMENT_SIZE + 10
    data = os.urandom(size)
    SegmentWriter(store, cipher, "b3", size=size).write(data)
    tenant = cipher.tenant_id
    first, second = (store.root / key(tenant, "b3", "o", i) for i in (0, 1))
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    with pytest.raises(DecryptionError):
        BlobReader(store, cipher, "b3", size=size).segment(0)
    first.write_bytes(a)
    second.write_bytes(b)
    # Claimed shorter (a file cut short): the size is part of every segment's identity.
    with pytest.raises(DecryptionError):
        BlobReader(store, cipher, "b3", size=SEGMENT_SIZE).segment(0)
    # Copied to another blob id.
    (store.root / key(tenant, "b4", "o", 0)).parent.mkdir(parents=True)
    (store.root / key(tenant, "b4", "o", 0)).write_bytes(a)
    with pytest.raises(DecryptionError):
        BlobReader(store, cipher, "b4", size=size).segment(0)
    with pytest.raises(BlobMissing):
        BlobReader(store, cipher, "b4", size=size).segment(1)
    assert BlobReader(store, cipher, "b3", size=size).read() == data


def test_store_keys_cannot_escape_the_directory(store: LocalStore) -> None:
    for bad in ("../x", "a/../../x", "/etc/passwd", "a//b"):
        with pytest.raises(ValueError, match="bad blob key"):
            store.put(bad, b"x")
