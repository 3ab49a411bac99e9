"""The sealed container of backups: chunks bound to their position, the end marked."""

from __future__ import annotations

import io
import os

import pytest

from zunft.backup.sealed import CHUNK_BYTES, HEADER_BYTES, SealedReader, SealedWriter, SealError

KEK = bytes(range(32))


def _seal(data: bytes) -> bytes:
    out = io.BytesIO()
    w = SealedWriter(out, KEK)
    w.write(data)
    w.close()
    return out.getvalue()


def _open(sealed: bytes) -> bytes:
    return SealedReader(io.BytesIO(sealed), KEK).read()


def _chunks(sealed: bytes) -> list[bytes]:
    pos, out = HEADER_BYTES, []
    while pos < len(sealed):
        size = int.from_bytes(sealed[pos : pos + 4], "big")
        out.append(sealed[pos : pos + 4 + size])
        pos += 4 + size
    return out


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, 2 * CHUNK_BYTES + 17])
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    sealed = _seal(data)
    assert size < 64 or data[:64] not in sealed
    assert _open(sealed) == data


def test_each_backup_has_its_own_key() -> None:
    assert _seal(b"gleich")[HEADER_BYTES:] != _seal(b"gleich")[HEADER_BYTES:]


def test_swapped_chunks_are_refused() -> None:
    sealed = _seal(os.urandom(3 * CHUNK_BYTES))
    a, b, c = _chunks(sealed)
    with pytest.raises(SealError, match="part 0"):
        _open(sealed[:HEADER_BYTES] + b + a + c)


def test_a_dropped_final_chunk_reads_as_cut_off() -> None:
    sealed = _seal(os.urandom(2 * CHUNK_BYTES + 5))
    chunks = _chunks(sealed)
    with pytest.raises(SealError, match="cut off"):
        _open(sealed[:HEADER_BYTES] + b"".join(chunks[:-1]))


def test_data_after_the_end_is_refused() -> None:
    with pytest.raises(SealError, match="after its final part"):
        _open(_seal(b"Ende") + b"mehr")


def test_another_key_is_named() -> None:
    with pytest.raises(SealError, match="another key-encryption key"):
        SealedReader(io.BytesIO(_seal(b"x")), bytes(32))
