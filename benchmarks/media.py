"""Media benchmark: thumbnails per second (12-megapixel JPEG and HEIC), upload throughput
over loopback (tus, single request), and the server's peak memory growth during a large tus
upload. Prints one JSON line.

Run from the repository root: `.venv/bin/python benchmarks/media.py` (defaults: a 2 GB
upload, SQLite). `--upload-mb 256` for a quicker run. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from common import (
    PASSWORD,
    bench_context,
    bench_settings,
    build_business,
    exit_on_sigterm,
    machine_info,
)
from zunft.blobs.media import process_image
from zunft.blobs.sniff import sniff
from zunft.config import Settings

MB = 1024 * 1024
SLUG = "mueller-haustechnik"


def photo_12mp(fmt: str) -> bytes:
    """4000 x 3000 with noise, so it compresses like a real photo, not like a flat colour."""
    base = Image.effect_noise((4000, 3000), 40).convert("RGB")
    gradient = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    img = Image.blend(base, gradient, 0.5)
    out = io.BytesIO()
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
        img.save(out, "HEIF", quality=80)
    else:
        img.save(out, "JPEG", quality=90)
    return out.getvalue()


def thumbnails_per_second(data: bytes, rounds: int) -> float:
    t0 = time.perf_counter()
    for _ in range(rounds):
        f = io.BytesIO(data)
        process_image(f, sniff(f))
    return rounds / (time.perf_counter() - t0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ZUNFT_DATA_DIR": str(settings.data_path),
        "ZUNFT_DATABASE_URL": settings.database_url,
        "ZUNFT_DEMO": "false",
        "ZUNFT_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "ZUNFT_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "ZUNFT_FILE_LIMITS_MB": "photo=50,video=8192,voice=100,document=200,file=8192",
        "ZUNFT_MEDIA_QUOTA_MB": "100000",
    }
    code = "import sys; from zunft.cli import main; sys.exit(main(sys.argv[1:]))"
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def body(total: int, block: bytes) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = block[: min(len(block), total - sent)]
        sent += len(piece)
        yield piece


def tus_upload(base: str, auth: dict[str, str], chat: str, size: int, block: bytes) -> float:
    meta = "chat_id " + base64.b64encode(chat.encode()).decode()
    tus = {**auth, "Tus-Resumable": "1.0.0"}
    r = requests.post(
        f"{base}/api/v1/uploads",
        headers={**tus, "Upload-Length": str(size), "Upload-Metadata": meta},
        timeout=60,
    )
    r.raise_for_status()
    t0 = time.perf_counter()
    r = requests.patch(
        base + r.headers["location"],
        data=body(size, block),
        headers={**tus, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
        timeout=3600,
    )
    if r.status_code != 204:
        raise RuntimeError(f"upload failed: {r.status_code} {r.text[:300]}")
    return time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "media",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "upload_mb": args.upload_mb,
        "single_mb": args.single_mb,
    }
    jpeg, heic = photo_12mp("JPEG"), photo_12mp("HEIF")
    result["jpeg_12mp_bytes"], result["heic_12mp_bytes"] = len(jpeg), len(heic)
    result["thumbs_per_s_jpeg_12mp"] = round(thumbnails_per_second(jpeg, args.rounds), 2)
    result["thumbs_per_s_heic_12mp"] = round(thumbnails_per_second(heic, args.rounds), 2)
    with bench_settings(None) as settings:
        with bench_context(settings) as ctx:
            biz = build_business(
                ctx, random.Random(4), projects=1, workers=1, chats_per_worker=1, slug=SLUG
            )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(settings, port, settings.data_path.parent / "server.log")
        try:
            deadline = time.monotonic() + 60
            while True:  # wait for the server to come up
                try:
                    if requests.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not come up")
                time.sleep(0.2)
            r = requests.post(
                f"{base}/api/v1/auth/login",
                json={
                    "tenant": SLUG,
                    "email": f"worker0@{SLUG}.example",
                    "password": PASSWORD,
                    "session_kind": "bearer",
                },
                timeout=60,
            )
            r.raise_for_status()
            auth = {"Authorization": f"Bearer {r.json()['token']}"}
            block = os.urandom(MB)
            # Single request, a small video-sized file.
            single = args.single_mb * MB
            t0 = time.perf_counter()
            r = requests.post(
                f"{base}/api/v1/uploads/single",
                params={"chat_id": biz.default_chat, "name": "bench.bin"},
                data=b"".join(body(single, block)),
                headers=auth,
                timeout=600,
            )
            r.raise_for_status()
            result["single_upload_mb_per_s"] = round(args.single_mb / (time.perf_counter() - t0), 1)
            # The large tus upload, with the server's peak memory.
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # reset the peak (VmHWM)
            rss_before = proc_kib(server.pid, "VmRSS")
            seconds = tus_upload(base, auth, biz.default_chat, args.upload_mb * MB, block)
            peak = proc_kib(server.pid, "VmHWM")
            result["tus_upload_mb_per_s"] = round(args.upload_mb / seconds, 1)
            result["server_rss_before_mb"] = round(rss_before / 1024, 1)
            result["server_peak_growth_mb"] = round((peak - rss_before) / 1024, 1)
        finally:
            server.terminate()
            server.wait(timeout=60)
    result.update(machine_info())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upload-mb", type=int, default=2048, help="size of the tus upload")
    parser.add_argument("--single-mb", type=int, default=64, help="size of the single upload")
    parser.add_argument("--rounds", type=int, default=5, help="thumbnail rounds per format")
    args = parser.parse_args()
    exit_on_sigterm()
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
