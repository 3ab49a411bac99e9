"""Real media files made here, in memory: photos with EXIF (orientation, capture time, GPS),
HEIC, videos and voice messages encoded with PyAV, and the bad inputs of issue 4."""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction

from PIL import Image

# A marker that must never appear in any stored object (encryption at rest).
PATTERN = b"ZUNFT-KLARTEXT-MUSTER-4711-" * 4


def _exif(orientation: int | None, taken: str | None, gps: tuple[float, float] | None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Fairphone"
    exif[0x0110] = "FP5"
    if orientation is not None:
        exif[0x0112] = orientation
    if taken is not None:
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = taken
        sub[0x9011] = "+01:00"
    if gps is not None:
        lat, lon = gps

        def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
            value = abs(value)
            d = int(value)
            m = int((value - d) * 60)
            s = round((value - d - m / 60) * 3600 * 100)
            return (Fraction(d), Fraction(m), Fraction(s, 100))

        g = exif.get_ifd(0x8825)
        g[1] = "N" if lat >= 0 else "S"
        g[2] = dms(lat)
        g[3] = "E" if lon >= 0 else "W"
        g[4] = dms(lon)
    return exif.tobytes()


def photo(
    width: int = 800,
    height: int = 600,
    *,
    orientation: int | None = None,
    taken: str | None = "2026:03:01 10:15:00",
    gps: tuple[float, float] | None = (52.520008, 13.404954),
    fmt: str = "JPEG",
    trailer: bytes = b"",
) -> bytes:
    """Left half red, right half blue: a rotated copy shows where its top went."""
    img = Image.new("RGB", (width, height), (220, 20, 20))
    img.paste((20, 20, 220), (width // 2, 0, width, height))
    out = io.BytesIO()
    if fmt == "JPEG":
        img.save(out, "JPEG", quality=90, exif=_exif(orientation, taken, gps))
    else:
        img.save(out, fmt)
    return out.getvalue() + trailer


def heic(width: int = 640, height: int = 480) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    img = Image.new("RGB", (width, height), (30, 160, 60))
    out = io.BytesIO()
    img.save(out, "HEIF", quality=80, exif=_exif(None, "2026:02:14 09:00:00", None))
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A small PNG whose header declares width x height pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    data = photo(1600, 1200)
    return data[: len(data) // 2]


def gif_script_polyglot() -> bytes:
    """Starts like a GIF, is JavaScript after that: no image decodes from it."""
    return b"GIF89a/*\x00\x00*/=1;alert(document.cookie);//" + b"\x00" * 64


def video(
    container: str = "mp4", codec: str = "mpeg4", frames: int = 24, rotation: int = 0
) -> bytes:
    """Left half red, right half blue, like `photo`; `rotation` is the display rotation a
    phone records for a portrait video (-90: turn clockwise to show)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as c:
        stream = c.add_stream(codec, rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for _ in range(frames):
            img = Image.new("RGB", (160, 120), (220, 20, 20))
            img.paste((20, 20, 220), (80, 0, 160, 120))
            frame = av.VideoFrame.from_image(img)
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)
    return out.getvalue()


def voice(container: str = "ogg", codec: str = "libopus", seconds: float = 1.5) -> bytes:
    """A sine tone as a voice message (Ogg/Opus by default; "webm"/"libopus", "mp4"/"aac")."""
    import math

    import av

    rate = 48_000
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as c:
        stream = c.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = "fltp" if codec == "aac" else "s16"
        stream.format = fmt
        total = int(rate * seconds)
        size = 960
        pts = 0
        while pts < total:
            frame = av.AudioFrame(format=fmt, layout="mono", samples=size)
            samples = [math.sin(2 * math.pi * 440 * (pts + i) / rate) * 0.3 for i in range(size)]
            if fmt == "s16":
                data = struct.pack(f"<{size}h", *(int(x * 32767) for x in samples))
            else:
                data = struct.pack(f"<{size}f", *samples)
            frame.planes[0].update(data)
            frame.sample_rate = rate
            frame.pts = pts
            for packet in stream.encode(frame):
                c.mux(packet)
            pts += size
        for packet in stream.encode():
            c.mux(packet)
    return out.getvalue()
