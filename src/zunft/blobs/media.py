"""Looking inside files: image decoding with limits, EXIF (capture time, GPS, orientation),
thumbnails, video posters and durations (PyAV), voice durations.

Everything here reads from a file object over the encrypted store (segments.BlobReader),
so nothing needs the whole file in memory except a decoded image. Bad input raises
`Invalid` with a code (corrupt_image, image_too_large, corrupt_media); never anything else.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import IO, Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageOps, UnidentifiedImageError

from zunft.blobs.sniff import Sniffed
from zunft.errors import Invalid

log = logging.getLogger(__name__)

# The largest photo accepted (width x height). Phones take up to 200 megapixels; a PNG that
# declares 50,000 x 50,000 (a decompression bomb) is refused before anything is decoded.
MAX_PIXELS = 210_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own guard, at zunft's limit
SIZES = {"thumb": 320, "large": 1280}
JPEG_QUALITY = 82
LOCAL = ZoneInfo("Europe/Berlin")  # EXIF times without an offset are taken as German time

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


@dataclass
class Derivative:
    name: str
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass
class Processed:
    content_type: str
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    taken_at: int | None = None  # ms since the epoch
    derivatives: list[Derivative] = field(default_factory=list)


def _jpeg(img: Image.Image, name: str) -> Derivative:
    out = io.BytesIO()
    # No EXIF, no XMP: derivatives carry no location and no camera data.
    img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False, progressive=True)
    return Derivative(name, out.getvalue(), "image/jpeg", img.width, img.height)


def derivatives_of(img: Image.Image) -> list[Derivative]:
    """The thumbnail (320 px) and the large view (1280 px), upright, as plain JPEG."""
    upright = ImageOps.exif_transpose(img)
    if upright.mode not in {"RGB", "L"}:
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        upright = flat
    found = []
    for name, size in sorted(SIZES.items(), key=lambda kv: -kv[1]):
        smaller = upright.copy() if upright is img else upright
        smaller.thumbnail((size, size), Image.Resampling.LANCZOS)
        found.append(_jpeg(smaller, name))
        upright = smaller  # the next, smaller one is made from this one
    return found


def _ratio(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


def _gps(exif: Image.Exif) -> dict[str, float] | None:
    try:
        gps = exif.get_ifd(0x8825)
    except Exception:  # a damaged GPS block is no reason to refuse the photo
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None

    def degrees(dms: Any, ref: Any) -> float:
        d, m, s = (_ratio(x) for x in tuple(dms)[:3])
        value = d + m / 60 + s / 3600
        return -value if str(ref).upper().startswith(("S", "W")) else value

    try:
        lat = degrees(gps[2], gps.get(1, "N"))
        lon = degrees(gps[4], gps.get(3, "E"))
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    return {"lat": round(lat, 6), "lon": round(lon, 6)}


def _taken_at(exif: Image.Exif) -> int | None:
    try:
        sub = exif.get_ifd(0x8769)
    except Exception:
        return None
    raw = sub.get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, else DateTime
    if not isinstance(raw, str):
        return None
    try:
        local = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(0x9011)  # OffsetTimeOriginal, "+02:00"
    tz: Any = LOCAL
    if isinstance(offset, str) and len(offset) >= 6 and offset[0] in "+-":
        try:
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            delta = timedelta(hours=hours, minutes=minutes)
            tz = timezone(delta if offset[0] == "+" else -delta)
        except ValueError:
            tz = LOCAL
    return int(local.replace(tzinfo=tz).timestamp() * 1000)


def _open_image(file: IO[bytes]) -> Image.Image:
    _register_heif()
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(file)
            width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Invalid(
            f"The image is larger than {MAX_PIXELS // 1_000_000} megapixels.",
            code="image_too_large",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Invalid("The image cannot be read: it is damaged.", code="corrupt_image") from exc
    if width * height > MAX_PIXELS or width <= 0 or height <= 0:
        raise Invalid(
            f"The image is larger than {MAX_PIXELS // 1_000_000} megapixels.",
            code="image_too_large",
        )
    return img


def process_image(file: IO[bytes], sniffed: Sniffed) -> Processed:
    img = _open_image(file)
    width, height = img.size
    exif = img.getexif()
    if img.format == "JPEG":
        # Decode at a reduced scale when that is still at least the large view: much faster,
        # and a truncated or damaged file still fails to decode.
        img.draft("RGB", (SIZES["large"], SIZES["large"]))
    try:
        img.load()
        found = derivatives_of(img)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise Invalid("The image cannot be read: it is damaged.", code="corrupt_image") from exc
    orientation = exif.get(0x0112, 1)
    if orientation in {5, 6, 7, 8}:
        width, height = height, width
    meta: dict[str, Any] = {"width": width, "height": height}
    gps = _gps(exif)
    if gps:
        meta["gps"] = gps
    make, model = exif.get(0x010F), exif.get(0x0110)
    if isinstance(model, str) and model.strip("\x00 "):
        meta["camera"] = " ".join(
            x.strip("\x00 ") for x in (make, model) if isinstance(x, str) and x.strip("\x00 ")
        )
    return Processed(sniffed.content_type, "photo", meta, _taken_at(exif), found)


def process_av(file: IO[bytes], sniffed: Sniffed) -> Processed:
    """Video: duration, size, a poster frame (as thumb/large). Audio: duration."""
    import av

    file.seek(0)
    try:
        with av.open(file, mode="r") as container:
            duration_ms = int(container.duration / 1000) if container.duration is not None else None
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            if video is None and audio is None:
                raise Invalid("The file has neither picture nor sound.", code="corrupt_media")
            meta: dict[str, Any] = {}
            if video is None:
                if (
                    duration_ms is None
                    and audio is not None
                    and audio.duration is not None
                    and audio.time_base is not None
                ):
                    duration_ms = int(audio.duration * audio.time_base * 1000)
                meta["duration_ms"] = duration_ms
                content_type = {
                    "video/webm": "audio/webm",
                    "video/mp4": "audio/mp4",
                    "video/quicktime": "audio/mp4",
                }.get(sniffed.content_type, sniffed.content_type)
                return Processed(content_type, "voice", meta)
            meta.update(
                duration_ms=duration_ms,
                width=video.codec_context.width,
                height=video.codec_context.height,
            )
            poster = None
            for frame in container.decode(video=0):
                rgb = frame.reformat(format="rgb24")
                plane = rgb.planes[0]
                poster = Image.frombuffer(
                    "RGB", (rgb.width, rgb.height), bytes(plane), "raw", "RGB", plane.line_size, 1
                )
                # Phones store portrait videos as landscape frames plus a display rotation
                # (degrees counter-clockwise, as Pillow's rotate takes them).
                rotation = int(getattr(frame, "rotation", 0) or 0)
                if rotation % 360:
                    poster = poster.rotate(rotation, expand=True)
                    if rotation % 180:
                        meta["width"], meta["height"] = meta["height"], meta["width"]
                break
    except Invalid:
        raise
    except (av.error.FFmpegError, OSError, ValueError, EOFError, IndexError) as exc:
        raise Invalid("The audio or video file cannot be read.", code="corrupt_media") from exc
    if poster is None:
        raise Invalid("The video has no picture.", code="corrupt_media")
    if sniffed.kind == "voice":  # an .m4a that holds a picture track: still a video
        sniffed = Sniffed("video/mp4", "video")
    return Processed(sniffed.content_type, "video", meta, None, derivatives_of(poster))


_PDFIUM = threading.Lock()  # PDFium is not thread-safe: one rendering at a time


def process_pdf(file: IO[bytes], sniffed: Sniffed) -> Processed:
    """A PDF: its page count and a preview of the first page. A PDF that PDFium cannot open
    (damaged, password-protected) is still stored, just without a preview."""
    import pypdfium2 as pdfium

    file.seek(0)
    meta: dict[str, Any] = {}
    found: list[Derivative] = []
    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(file)
            try:
                meta["pages"] = len(document)
                page = document[0]
                width, height = page.get_size()
                scale = SIZES["large"] / max(width, height, 1.0)
                image = page.render(scale=scale).to_pil()
                found = derivatives_of(image.convert("RGB"))
            finally:
                document.close()
        except (pdfium.PdfiumError, IndexError, ValueError, OSError):
            log.info("no preview for a PDF PDFium cannot render", exc_info=True)
    return Processed(sniffed.content_type, sniffed.kind, meta, None, found)


def process(file: IO[bytes], sniffed: Sniffed) -> Processed:
    if sniffed.kind == "photo":
        return process_image(file, sniffed)
    if sniffed.kind in {"video", "voice"}:
        return process_av(file, sniffed)
    if sniffed.content_type == "application/pdf":
        return process_pdf(file, sniffed)
    return Processed(sniffed.content_type, sniffed.kind)
