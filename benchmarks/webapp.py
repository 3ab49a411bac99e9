"""Web app benchmark (docs/webapp.md): the app's own tus client uploading a large file in
Debian's chromium over loopback (MB/s), and a project gallery of many photos opened at phone
size (time until the first page's visible thumbnails are shown, how many thumbnails and
pages were requested). Prints one JSON line.

Run from the repository root: `.venv/bin/python benchmarks/webapp.py` (defaults: a 64 MB
upload, 2,000 photos, SQLite). Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import requests
from PIL import Image

from common import (
    PASSWORD,
    bench_context,
    bench_settings,
    build_business,
    exit_on_sigterm,
    free_port,
    machine_info,
    start_server,
    stop_server,
)

SLUG = "bench-webapp"
CHROMIUM = "/usr/bin/chromium"


def png(i: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (i % 251, (i * 7) % 253, (i * 13) % 255)).save(out, "PNG")
    return out.getvalue()


def wait_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not come up")
        time.sleep(0.2)


def login(base: str, email: str) -> dict[str, str]:
    r = requests.post(
        f"{base}/api/v1/auth/login",
        json={"tenant": SLUG, "email": email, "password": PASSWORD, "session_kind": "bearer"},
        timeout=60,
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def seed_gallery(base: str, auth: dict[str, str], chat: str, photos: int) -> None:
    """Photos uploaded through the API, side by side, sent 20 to a message."""

    def one(i: int) -> str:
        r = requests.post(
            f"{base}/api/v1/uploads/single",
            params={"chat_id": chat, "name": f"foto-{i}.png"},
            data=png(i),
            headers=auth,
            timeout=120,
        )
        r.raise_for_status()
        return str(r.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(one, range(photos)))
    for i in range(0, len(ids), 20):
        r = requests.post(
            f"{base}/api/v1/chats/{chat}/messages",
            json={"client_id": f"bench-message-{i}", "text": "", "attachments": ids[i : i + 20]},
            headers=auth,
            timeout=60,
        )
        if not r.ok:
            raise RuntimeError(r.text)


UPLOAD_JS = """async ([chatId, mb]) => {
    const { upload } = await import("/app/upload.js");
    const bytes = new Uint8Array(mb * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 65536) {
        crypto.getRandomValues(bytes.subarray(i, i + 65536));
    }
    const blob = new Blob([bytes]);
    const t0 = performance.now();
    const options = { chatId, clientId: "bench-upload-1", name: "bench.bin", onProgress: () => {} };
    await upload(blob, options);
    return (performance.now() - t0) / 1000;
}"""

SHOWN_JS = """async () => {
    const imgs = [...document.querySelectorAll("#gallery img")]
        .filter((i) => i.getAttribute("src"));
    await Promise.all(imgs.map((i) => i.decode().catch(() => null)));
    return imgs.length;
}"""


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {
        "benchmark": "webapp",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "upload_mb": args.upload_mb,
        "photos": args.photos,
    }
    with bench_settings(None) as settings:
        with bench_context(settings) as ctx:
            biz = build_business(
                ctx, random.Random(5), projects=1, workers=1, chats_per_worker=1, slug=SLUG
            )
            project_id = str(
                ctx.read(
                    lambda rx: rx.conn.exec_driver_sql(
                        "SELECT project_id FROM chats WHERE id = ?", (biz.chats[0],)
                    ).scalar_one()
                )
            )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(settings, port, settings.data_path.parent / "server.log")
        try:
            wait_up(base)
            email = f"worker0@{SLUG}.example"
            t0 = time.perf_counter()
            seed_gallery(base, login(base, email), biz.chats[0], args.photos)
            result["seed_photos_per_s"] = round(args.photos / (time.perf_counter() - t0), 1)
            pw = sync_playwright().start()
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu"])
            try:
                context = browser.new_context(
                    base_url=base, viewport={"width": 390, "height": 844}, locale="de-DE"
                )
                requested: list[str] = []
                context.on("request", lambda r: requested.append(r.url))
                r = context.request.post(
                    "/api/v1/auth/login",
                    data={
                        "tenant": SLUG,
                        "email": email,
                        "password": PASSWORD,
                        "session_kind": "cookie",
                    },
                )
                assert r.ok, r.text()
                page = context.new_page()
                page.goto("/")
                page.locator(".topbar .title").wait_for()
                # The gallery: from navigation until the visible thumbnails are decoded.
                requested.clear()
                t0 = time.perf_counter()
                page.goto(f"/#/gallery/{project_id}")
                page.locator("#gallery li").nth(min(59, args.photos - 1)).wait_for(state="attached")
                page.wait_for_load_state("networkidle")
                shown = page.evaluate(SHOWN_JS)
                result["gallery_first_view_s"] = round(time.perf_counter() - t0, 3)
                result["gallery_thumbnails_shown"] = shown
                result["gallery_thumbnail_requests"] = sum("size=thumb" in u for u in requested)
                result["gallery_page_requests"] = sum("/gallery?" in u for u in requested)
                # The tus client: one large file in 512 KiB chunks.
                seconds = page.evaluate(UPLOAD_JS, [biz.chats[0], args.upload_mb])
                result["browser_tus_upload_mb_per_s"] = round(args.upload_mb / seconds, 1)
                context.close()
            finally:
                browser.close()
                pw.stop()
        finally:
            stop_server(server)
    result["machine"] = machine_info()
    return result


def main() -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upload-mb", type=int, default=64)
    parser.add_argument("--photos", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
