"""Content types from the bytes alone."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.blobs import samples
from zunft.blobs.sniff import sniff


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
CT = "[Content_Types].xml"

CASES = [
    ("jpeg", samples.photo, "image/jpeg", "photo"),
    ("png", lambda: samples.photo(fmt="PNG"), "image/png", "photo"),
    ("gif", lambda: samples.photo(fmt="GIF"), "image/gif", "photo"),
    ("webp", lambda: samples.photo(fmt="WEBP"), "image/webp", "photo"),
    ("heic", samples.heic, "image/heic", "photo"),
    ("mp4", samples.video, "video/mp4", "video"),
    ("ogg", samples.voice, "audio/ogg", "voice"),
    ("pdf", lambda: b"%PDF-1.7\n", "application/pdf", "document"),
    ("docx", lambda: _zip({CT: b"<x/>", "word/document.xml": b"<w/>"}), DOCX, "document"),
    ("xlsx", lambda: _zip({CT: b"<x/>", "xl/workbook.xml": b"<w/>"}), XLSX, "document"),
    ("odt", lambda: _zip({"mimetype": ODT.encode(), "content.xml": b"<x/>"}), ODT, "document"),
    ("zip", lambda: _zip({"a.txt": b"a"}), "application/zip", "file"),
    ("html", lambda: b"\xef\xbb\xbf  <!DOCTYPE html><p>", "text/html", "file"),
    ("svg", lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml", "file"),
    ("text", "Grüße vom Dach".encode, "text/plain", "file"),
    ("binary", lambda: b"\x00\x01\x02garbage", "application/octet-stream", "file"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "content_type", "kind"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_types_come_from_the_bytes(make: object, content_type: str, kind: str) -> None:
    assert callable(make)
    found = sniff(io.BytesIO(make()))
    assert (found.content_type, found.kind) == (content_type, kind)
