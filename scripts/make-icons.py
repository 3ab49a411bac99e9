"""Draws the web app's icons (a white Z on zunft blue) as SVG and PNG, with no image library:
the PNGs are rasterised here point by point (4x4 supersampling) and written with zlib.

Run from the repository root: python3 scripts/make-icons.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/zunft/web/static/app/icons"
BLUE = (0x1D, 0x4E, 0x89)
WHITE = (0xFF, 0xFF, 0xFF)
# The Z in a 100 x 100 box: top bar, bottom bar, and the diagonal between them.
TOP = (24.0, 24.0, 76.0, 37.0)
BOTTOM = (24.0, 63.0, 76.0, 76.0)
DIAGONAL = ((62.0, 37.0), (76.0, 37.0), (38.0, 63.0), (24.0, 63.0))
RADIUS = 20.0

_Z_PATH = (
    f"M{TOP[0]:g} {TOP[1]:g}H{TOP[2]:g}V{TOP[3]:g}"
    f"L{DIAGONAL[2][0]:g} {DIAGONAL[2][1]:g}H{BOTTOM[2]:g}V{BOTTOM[3]:g}"
    f"H{BOTTOM[0]:g}V{BOTTOM[1]:g}L{DIAGONAL[0][0]:g} {DIAGONAL[0][1]:g}H{TOP[0]:g}Z"
)
SVG = f"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
<rect width="100" height="100" rx="{RADIUS:g}" fill="#1d4e89"/>
<path fill="#fff" d="{_Z_PATH}"/>
</svg>
"""


def _in_polygon(x: float, y: float, poly: tuple[tuple[float, float], ...]) -> bool:
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _in_rect(x: float, y: float, r: tuple[float, float, float, float]) -> bool:
    return r[0] <= x <= r[2] and r[1] <= y <= r[3]


def _in_rounded(x: float, y: float, radius: float) -> bool:
    cx = min(max(x, radius), 100 - radius)
    cy = min(max(y, radius), 100 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _colour(x: float, y: float, maskable: bool) -> tuple[int, int, int, int]:
    if maskable:  # full bleed; the Z shrinks into the safe zone (the inner 80 %)
        x, y = 50 + (x - 50) / 0.8, 50 + (y - 50) / 0.8
    elif not _in_rounded(x, y, RADIUS):
        return (0, 0, 0, 0)
    white = _in_rect(x, y, TOP) or _in_rect(x, y, BOTTOM) or _in_polygon(x, y, DIAGONAL)
    return (*(WHITE if white else BLUE), 255)


def png(size: int, maskable: bool = False) -> bytes:
    rows = []
    n = 4
    for py in range(size):
        row = bytearray(b"\x00")
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(n):
                for sx in range(n):
                    c = _colour(
                        (px + (sx + 0.5) / n) * 100 / size,
                        (py + (sy + 0.5) / n) * 100 / size,
                        maskable,
                    )
                    for k in range(3):
                        acc[k] += c[k] * c[3]
                    acc[3] += c[3]
            alpha = acc[3] // (n * n)
            rgb = [acc[k] // acc[3] if acc[3] else 0 for k in range(3)]
            row += bytes((*rgb, alpha))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icon.svg").write_text(SVG)
    (OUT / "icon-192.png").write_bytes(png(192))
    (OUT / "icon-512.png").write_bytes(png(512))
    (OUT / "icon-maskable-512.png").write_bytes(png(512, maskable=True))


if __name__ == "__main__":
    main()
