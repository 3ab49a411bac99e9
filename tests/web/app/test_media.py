"""Photos, videos, voice messages and files in the web app: upload with progress and resume
(tus), thumbnails in the chat, the viewer, voice recording with chromium's fake microphone,
offline photos through the outbox, and the outbox's HTTP fallback and retries."""

from __future__ import annotations

import io
import os
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.factories import Business
from tests.realtime.live import Live
from tests.web.app.conftest import CHROMIUM, DESKTOP
from tests.web.app.test_accessibility import serious
from tests.web.app.test_chat import open_chat, project
from tests.web.app.test_offline import wait_for_service_worker
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.messages.service import get_history

COMPOSER = "Nachricht schreiben"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium with a fake camera and microphone that needs no permission prompt."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--disable-gpu",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )
    yield b
    b.close()
    pw.stop()


def jpeg(width: int = 640, height: int = 480, *, noise: bool = False, seed: int = 1) -> bytes:
    """A photo; with `noise` it compresses badly, so it is large enough for several chunks."""
    if noise:
        rnd = random.Random(seed)
        img = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    else:
        img = Image.new("RGB", (width, height), (200, 120, 40))
        img.paste((30, 90, 200), (width // 2, 0, width, height))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95)
    return out.getvalue()


def history(ctx: AppContext, biz: Business, chat_id: str) -> list[dict[str, Any]]:
    page = ctx.read(lambda rx: get_history(rx, biz.actor("office"), chat_id, limit=200))
    return list(page["messages"])


def counts(ctx: AppContext) -> dict[str, int]:
    def read(rx: Any) -> dict[str, int]:
        return {
            t.name: int(rx.conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (s.blobs, s.message_attachments, s.uploads)
        }

    return ctx.read(read)


def pick_files(page: Any, files: list[tuple[str, str, bytes]]) -> None:
    """Choose files as the file picker would (name, MIME type, bytes)."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Dateien auswählen").click()
    chooser.value.set_files(
        [{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in files]
    )


def test_a_photo_is_uploaded_shown_as_thumbnail_live_and_in_the_gallery(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    lead = people("lead")
    worker = people("worker")
    open_chat(lead, "Badsanierung Schmidt")
    open_chat(worker, "Badsanierung Schmidt")
    page = worker.page
    pick_files(page, [("rohbau.jpg", "image/jpeg", jpeg())])
    expect(page.get_by_role("list", name="Ausgewählte Dateien")).to_contain_text("rohbau.jpg")
    page.get_by_label(COMPOSER).fill("Rohbau von Norden")
    page.get_by_label(COMPOSER).press("Enter")
    sent = page.locator(".msg:not(.pending)", has_text="Rohbau von Norden")
    expect(sent.locator(".thumb img")).to_be_visible()
    # The thumbnail really loaded (a decoded image, not a broken one).
    assert sent.locator(".thumb img").evaluate("img => img.decode().then(() => img.naturalWidth)")
    # The other person sees it arrive live, with its thumbnail.
    other = lead.page.locator(".msg", has_text="Rohbau von Norden")
    expect(other.locator(".thumb img")).to_be_visible()
    worker.shot("chat-photo")

    msgs = history(ctx, biz, chat_id)
    assert [(m["text"], [a["kind"] for a in m["attachments"]]) for m in msgs] == [
        ("Rohbau von Norden", ["photo"])
    ]
    # A tap opens the viewer; Escape closes it and gives the focus back.
    sent.locator(".thumb").click()
    viewer = page.get_by_role("dialog", name="Fotos und Videos")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".viewer-caption")).to_contain_text("1 von 1")
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)
    expect(sent.locator(".thumb")).to_be_focused()

    page.get_by_role("link", name="Galerie").click()
    expect(page.locator(".topbar .title")).to_have_text("Galerie")
    tiles = page.locator("#gallery li")
    expect(tiles).to_have_count(1)
    expect(tiles.locator("img")).to_have_attribute(
        "src", f"/api/v1/files/{msgs[0]['attachments'][0]['id']}/preview?size=thumb"
    )
    worker.shot("gallery")
    # Filters: no voice messages yet; back to photos and videos.
    page.get_by_label("Art").select_option("voice")
    expect(page.get_by_text("Noch keine Fotos oder Dateien.")).to_be_visible()
    page.get_by_label("Art").select_option("")
    expect(tiles).to_have_count(1)
    expect(page.locator("#gallery-report")).to_have_attribute(
        "href", f"/api/v1/projects/{project_id(ctx, chat_id)}/report?"
    )


def project_id(ctx: AppContext, chat_id: str) -> str:
    return str(
        ctx.read(
            lambda rx: rx.conn.execute(
                select(s.chats.c.project_id).where(s.chats.c.id == chat_id)
            ).scalar_one()
        )
    )


def test_an_upload_resumes_after_the_connection_drops(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    worker = people("worker", service_workers="block")
    open_chat(worker, "Badsanierung Schmidt")
    page = worker.page
    data = jpeg(1400, 1400, noise=True)
    assert len(data) > 3 * 512 * 1024  # at least four chunks
    seen: list[str] = []
    dropped: list[str] = []

    def patch(route: Any) -> None:
        request = route.request
        seen.append(f"{request.method} {request.headers.get('upload-offset', '')}")
        # The second chunk's connection breaks: the client must ask where it stands (HEAD)
        # and go on from there.
        if request.method == "PATCH" and len([x for x in seen if x.startswith("PATCH")]) == 2:
            dropped.append(request.headers["upload-offset"])
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/v1/uploads/*", patch)
    pick_files(page, [("wand.jpg", "image/jpeg", data)])
    page.get_by_label(COMPOSER).press("Enter")
    progress = page.locator(".msg.pending progress")
    expect(progress).to_have_count(1)
    expect(page.locator(".msg:not(.pending) .thumb img")).to_be_visible()
    assert dropped == ["524288"], seen
    patches = [x for x in seen if x.startswith("PATCH")]
    # The chunk that broke was sent again from the same offset, after a HEAD asked.
    assert patches.count("PATCH 524288") == 2, seen
    assert seen.index("PATCH 524288", seen.index("PATCH 524288") + 1) > seen.index("HEAD ", 1)
    msgs = history(ctx, biz, chat_id)
    assert len(msgs) == 1
    assert len(msgs[0]["attachments"]) == 1
    assert msgs[0]["attachments"][0]["size"] == len(data)
    assert counts(ctx) == {"blobs": 1, "message_attachments": 1, "uploads": 0}


def test_a_voice_message_is_recorded_sent_and_played(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    worker = people("worker")
    open_chat(worker, "Badsanierung Schmidt")
    page = worker.page
    page.get_by_role("button", name="Sprachnachricht aufnehmen").click()
    recording = page.get_by_role("group", name="Aufnahme läuft")
    expect(recording).to_be_visible()
    expect(page.get_by_label(COMPOSER)).to_be_hidden()
    # Record until the counter shows two seconds (a state to reach, not a pause).
    expect(recording.get_by_role("timer")).to_have_text("0:02")
    worker.shot("voice-recording")
    recording.get_by_role("button", name="Senden").click()
    expect(recording).to_have_count(0)
    audio = page.locator(".msg:not(.pending) audio")
    expect(audio).to_have_count(1)
    msgs = history(ctx, biz, chat_id)
    assert [[a["kind"] for a in m["attachments"]] for m in msgs] == [["voice"]]
    # It plays: the browser fetches and decodes it, and time moves on.
    played = audio.evaluate(
        """async (a) => {
            a.muted = true;
            await a.play();
            await new Promise((ok) => {
                const check = () => (a.currentTime > 0.2
                    ? ok() : a.addEventListener("timeupdate", check, {once: true}));
                check();
            });
            a.pause();
            return a.currentTime;
        }"""
    )
    assert played > 0.2
    worker.shot("voice-message")
    page.set_viewport_size(DESKTOP)
    worker.shot("voice-message")


def test_offline_photo_and_text_are_sent_once_in_order(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    worker = people("worker")
    open_chat(worker, "Badsanierung Schmidt")
    page = worker.page
    wait_for_service_worker(page)
    worker.context.set_offline(True)
    expect(page.locator("#status")).to_have_text("offline")
    pick_files(page, [("leck.jpg", "image/jpeg", jpeg(seed=2))])
    box = page.get_by_label(COMPOSER)
    box.fill("Leck unter der Spüle")
    box.press("Enter")
    box.fill("Wasser ist abgestellt.")
    box.press("Enter")
    pending = page.locator(".msg.pending")
    expect(pending).to_have_count(2)
    expect(pending.locator(".state")).to_have_text(["wird gesendet"] * 2)
    expect(pending.first.locator("img.local")).to_be_visible()  # the photo from IndexedDB
    # Still waiting after a reload (the photo's bytes are a Blob in IndexedDB).
    page.reload()
    expect(page.locator(".msg.pending")).to_have_count(2)
    worker.shot("offline-photo")
    assert history(ctx, biz, chat_id) == []

    worker.context.set_offline(False)
    expect(page.locator(".msg.pending")).to_have_count(0)
    expect(page.locator(".msg:not(.pending) .thumb img")).to_be_visible()
    msgs = history(ctx, biz, chat_id)
    assert [(m["text"], len(m["attachments"])) for m in msgs] == [
        ("Leck unter der Spüle", 1),
        ("Wasser ist abgestellt.", 0),
    ]
    assert counts(ctx)["blobs"] == 1


def test_without_the_stream_the_outbox_sends_over_http_and_retries(
    people: Any, ctx: AppContext, biz: Business, live: Live
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    worker = people("worker", service_workers="block")
    page = worker.page
    # The WebSocket never gets through (a proxy that does not pass it).
    page.route_web_socket("**/api/v1/stream*", lambda ws: ws.close())
    answers: list[int] = []
    page.on(
        "response",
        lambda r: (
            answers.append(r.status)
            if r.request.method == "POST" and "/messages" in r.url
            else None
        ),
    )
    # The first send meets a server that is busy for a moment (503 with Retry-After).
    busy = {"left": 1}

    def messages(route: Any) -> None:
        if route.request.method == "POST" and busy["left"]:
            busy["left"] -= 1
            route.fulfill(
                status=503,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body='{"error": {"code": "busy", "message": "busy"}}',
            )
        else:
            route.continue_()

    page.route("**/api/v1/chats/*/messages", messages)
    open_chat(worker, "Badsanierung Schmidt")
    expect(page.locator("html")).to_have_attribute("data-stream", "closed")
    box = page.get_by_label(COMPOSER)
    box.fill("Material ist bestellt.")
    box.press("Enter")
    # Refused for good: too long (past the text box's maxlength, as another client could).
    box.evaluate("(el, text) => { el.value = text; }", "x" * 10_001)
    box.press("Enter")
    box.fill("Lieferung kommt Dienstag.")
    box.press("Enter")
    refused = page.locator(".msg.pending", has=page.locator(".state.failed"))
    expect(refused).to_have_count(1)
    expect(refused.locator(".error")).to_have_text("Die Nachricht ist zu lang.")
    expect(page.locator(".msg:not(.pending)")).to_have_count(2)
    assert [m["text"] for m in history(ctx, biz, chat_id)] == [
        "Material ist bestellt.",
        "Lieferung kommt Dienstag.",
    ]
    assert answers[0] == 503
    assert answers.count(201) == 2
    worker.shot("refused-over-http")
    # The refused text goes back into the composer.
    refused.get_by_role("button").click()
    expect(box).to_have_value("x" * 10_001)


def test_the_chat_shows_a_photo_sent_by_api_on_desktop(
    people: Any, ctx: AppContext, biz: Business, live: Live
) -> None:
    """Desktop screenshot of a chat with a photo, a video thumbnail and a file."""
    from tests.web.app.test_gallery import send_files

    chat_id = project(ctx, biz)["chat_id"]
    send_files(live, ctx, biz, chat_id, [("vorher.jpg", jpeg(seed=3))], text="Vorher")
    office = people("lead", viewport=DESKTOP)
    open_chat(office, "Badsanierung Schmidt")
    expect(office.page.locator(".msg .thumb img")).to_be_visible()
    office.shot("chat-photo")


def test_a_video_and_a_document_render_as_poster_and_download(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    from tests.blobs import samples

    chat_id = project(ctx, biz)["chat_id"]
    worker = people("worker")
    open_chat(worker, "Badsanierung Schmidt")
    page = worker.page
    pick_files(
        page,
        [
            ("rundgang.webm", "video/webm", samples.video("webm", "libvpx")),
            ("angebot.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n"),
        ],
    )
    page.get_by_role("button", name="Senden").click()
    sent = page.locator(".msg:not(.pending)")
    expect(sent.locator(".thumb.video img")).to_be_visible()
    expect(sent.locator(".thumb.video .play")).to_contain_text("▶")
    link = sent.get_by_role("link", name=re.compile("angebot.pdf"))
    files = history(ctx, biz, chat_id)[0]["attachments"]
    assert [a["kind"] for a in files] == ["video", "document"]
    expect(link).to_have_attribute("href", f"/api/v1/files/{files[1]['id']}/content")
    assert serious(page) == []  # axe: the chat with a video, a file and the composer's buttons
    # The video plays in the viewer, with its poster frame.
    sent.locator(".thumb.video").click()
    video = page.get_by_role("dialog").locator("video")
    expect(video).to_have_attribute("poster", f"/api/v1/files/{files[0]['id']}/preview?size=large")
    assert video.evaluate("v => v.play().then(() => !v.paused)")
    page.keyboard.press("Escape")
    worker.shot("chat-video-file")
