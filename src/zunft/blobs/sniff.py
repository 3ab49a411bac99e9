"""What a file is, from its first bytes: never from its name or the client's say-so.

Returns a content type and the kind the gallery and limits use: photo, video, voice,
document or file. Deeper checks (does the image decode? does the video have a video
stream?) happen in zunft.blobs.media.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import IO

HEAD_BYTES = 4096


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    kind: str  # photo | video | voice | document | file

    @property
    def inline(self) -> bool:
        """Safe to show in a browser: raster images, audio and video. Everything else is a
        download (HTML, SVG, XML and scripts most of all)."""
        return self.kind in {"photo", "video", "voice"}


HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"dash", b"M4V ", b"M4VH", b"M4VP", b"MSNV", b"3gp4", b"3gp5", b"3gp6", b"3g2a",
}  # fmt: skip
AUDIO_MP4_BRANDS = {b"M4A ", b"M4B ", b"F4A "}
MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml")
OFFICE = {
    "word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def _ftyp(head: bytes) -> Sniffed | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    brands = {head[8:12]}
    box_end = min(int.from_bytes(head[0:4], "big"), len(head))
    brands |= {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    major = head[8:12]
    if major in HEIF_BRANDS or (major not in MP4_BRANDS and brands & HEIF_BRANDS):
        return Sniffed("image/heic", "photo")
    if major == b"avif":
        return Sniffed("image/avif", "photo")
    if major in AUDIO_MP4_BRANDS:
        return Sniffed("audio/mp4", "voice")
    if major == b"qt  ":
        return Sniffed("video/quicktime", "video")
    if major in MP4_BRANDS or brands & MP4_BRANDS:
        return Sniffed("video/mp4", "video")
    return None


def _zip(file: IO[bytes]) -> Sniffed:
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                if mimetype.startswith("application/vnd.oasis.opendocument."):
                    return Sniffed(mimetype, "document")
            if "[Content_Types].xml" in names:
                for folder, content_type in OFFICE.items():
                    if any(n.startswith(folder) for n in names):
                        return Sniffed(content_type, "document")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        pass
    return Sniffed("application/zip", "file")


def _textual(head: bytes) -> Sniffed:
    if b"\x00" in head:
        return Sniffed("application/octet-stream", "file")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the head
            return Sniffed("application/octet-stream", "file")
        text = head[: exc.start].decode("utf-8")
    lowered = text.lstrip("\ufeff \t\r\n").lower().encode()
    if any(lowered.startswith(m) for m in MARKUP) or b"<svg" in lowered[:1024]:
        kind = "image/svg+xml" if b"<svg" in lowered[:1024] else "text/html"
        return Sniffed(kind, "file")
    return Sniffed("text/plain", "file")


def sniff(file: IO[bytes]) -> Sniffed:
    """Detect the type of a whole stored file (a seekable file object)."""
    file.seek(0)
    head = file.read(HEAD_BYTES)
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg", "photo")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png", "photo")
    if head[:6] in {b"GIF87a", b"GIF89a"}:
        return Sniffed("image/gif", "photo")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image/webp", "photo")
    found = _ftyp(head)
    if found is not None:
        return found
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM (video, or audio only: a voice message)
        if b"webm" not in head[:64]:
            return Sniffed("application/octet-stream", "file")
        return Sniffed("video/webm", "video")
    if head[:4] == b"OggS":
        return Sniffed("audio/ogg", "voice")
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf", "document")
    if head[:4] == b"PK\x03\x04":
        return _zip(file)
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # old Word/Excel (OLE2)
        return Sniffed("application/vnd.ms-office", "document")
    if head[:5] == b"{\\rtf":
        return Sniffed("application/rtf", "document")
    return _textual(head)
