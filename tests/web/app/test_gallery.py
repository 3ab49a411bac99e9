"""The project gallery (lazy thumbnails, pages, filters), the full-screen viewer (keys, swipe,
accessibility), presence in the chat header and member lists, and the QR code of the second
factor's set-up."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import expect

from tests.factories import Business
from tests.realtime.live import Live
from tests.web.app.conftest import DESKTOP, PHONE, Person
from tests.web.app.test_accessibility import serious
from tests.web.app.test_chat import open_chat, project
from zunft.blobs import uploads as up
from zunft.context import AppContext
from zunft.messages.service import do_send_message

BATCH = 100  # uploads per call on the server's loop (each call has a deadline)


def png(i: int) -> bytes:
    """A tiny photo of its own colour."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (i % 251, (i * 7) % 253, (i * 13) % 255)).save(out, "PNG")
    return out.getvalue()


def send_files(
    live: Live,
    ctx: AppContext,
    biz: Business,
    chat_id: str,
    files: list[tuple[str, bytes]],
    *,
    role: str = "lead",
    text: str = "",
) -> list[str]:
    """Upload files through the real upload path (on the server's loop) and send them, 20 to
    a message (the most a message carries)."""
    actor = biz.actor(role)

    async def body(data: bytes) -> AsyncIterator[bytes]:
        yield data

    async def one(name: str, data: bytes) -> str:
        file, _ = await up.single_upload(
            ctx,
            actor,
            chat_id=chat_id,
            length=len(data),
            name=name,
            caption=None,
            client_id=None,
            chunks=body(data),
        )
        return str(file["id"])

    async def upload_all(batch: list[tuple[str, bytes]]) -> list[str]:
        # Side by side, as many phones would (the writer commits them in groups).
        return list(await asyncio.gather(*(one(name, data) for name, data in batch)))

    ids: list[str] = []
    for i in range(0, len(files), BATCH):
        ids += live.run(upload_all(files[i : i + BATCH]))
    for i in range(0, len(ids), 20):
        part = ids[i : i + 20]
        ctx.write(
            lambda tx, part=part: do_send_message(tx, actor, chat_id, text=text, attachments=part)
        )
    return ids


def thumbnail_requests(person: Person) -> list[str]:
    return [u for u in person.requests if "/preview?size=thumb" in u]


def open_gallery(person: Person, project_id: str) -> None:
    person.page.goto(f"/#/gallery/{project_id}")
    expect(person.page.locator(".topbar .title")).to_have_text("Galerie")


def test_two_thousand_photos_load_their_thumbnails_lazily(
    people: Any, ctx: AppContext, biz: Business, live: Live
) -> None:
    p = project(ctx, biz)
    send_files(live, ctx, biz, p["chat_id"], [(f"foto-{i}.png", png(i)) for i in range(2000)])
    worker = people("worker")
    open_gallery(worker, p["id"])
    tiles = worker.page.locator("#gallery li")
    expect(tiles).to_have_count(60)  # the first page only
    worker.page.wait_for_load_state("networkidle")
    first = len(thumbnail_requests(worker))
    # A phone screen shows a few rows: only those (and the next ones) are asked for.
    assert 0 < first <= 40, first
    pages = [u for u in worker.requests if "/gallery?" in u]
    assert len(pages) == 1, pages
    worker.shot("gallery-large")
    # Scrolling to the end of the grid brings the next page, and thumbnails as they come.
    tiles.last.scroll_into_view_if_needed()
    expect(tiles).to_have_count(120)
    worker.page.wait_for_load_state("networkidle")
    later = len(thumbnail_requests(worker))
    assert first < later <= 120, later
    assert len(set(thumbnail_requests(worker))) == later  # none asked twice


def test_the_viewer_steps_with_keys_and_swipes_and_has_no_serious_violations(
    people: Any, ctx: AppContext, biz: Business, live: Live
) -> None:
    p = project(ctx, biz)
    send_files(live, ctx, biz, p["chat_id"], [(f"foto-{i}.png", png(i)) for i in range(5)])
    worker = people("worker")
    open_gallery(worker, p["id"])
    page = worker.page
    expect(page.locator("#gallery li")).to_have_count(5)
    assert serious(page) == []
    page.locator("#gallery .tile").nth(1).click()
    viewer = page.get_by_role("dialog", name="Fotos und Videos")
    caption = viewer.locator(".viewer-caption")
    expect(caption).to_contain_text("2 von 5")
    worker.shot("viewer")
    assert serious(page) == []
    page.keyboard.press("ArrowRight")
    expect(caption).to_contain_text("3 von 5")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(caption).to_contain_text("1 von 5")
    expect(viewer.get_by_role("button", name="Vorheriges")).to_be_disabled()
    # A swipe to the left shows the next one, to the right the one before.
    swipe(page, -150)
    expect(caption).to_contain_text("2 von 5")
    swipe(page, -150)
    expect(caption).to_contain_text("3 von 5")
    swipe(page, 150)
    expect(caption).to_contain_text("2 von 5")
    # A short or mostly vertical move is not a swipe.
    swipe(page, -20)
    expect(caption).to_contain_text("2 von 5")
    viewer.get_by_role("button", name="Nächstes").click()
    expect(caption).to_contain_text("3 von 5")
    expect(viewer.locator("img")).to_have_attribute("src", re.compile(r"/preview\?size=large$"))
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)
    expect(page.locator("#gallery .tile").nth(1)).to_be_focused()


def swipe(page: Any, dx: int) -> None:
    """A finger (pointer) moving sideways across the viewer's picture."""
    box = page.locator(".viewer-stage").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + 5, steps=5)
    page.mouse.up()


def test_gallery_filters_by_person_and_kind_on_desktop(
    people: Any, ctx: AppContext, biz: Business, live: Live
) -> None:
    p = project(ctx, biz)
    lead_files = [("a.png", png(1)), ("b.png", png(2))]
    _, b_id = send_files(live, ctx, biz, p["chat_id"], lead_files, role="lead")
    send_files(live, ctx, biz, p["chat_id"], [("c.png", png(3))], role="worker")
    send_files(live, ctx, biz, p["chat_id"], [("angebot.pdf", pdf())], role="worker")
    office = people("office", viewport=DESKTOP)
    open_gallery(office, p["id"])
    page = office.page
    tiles = page.locator("#gallery li")
    expect(tiles).to_have_count(3)  # photos and videos: the documentation
    page.get_by_label("Von wem").select_option(biz.users["worker"])
    expect(tiles).to_have_count(1)
    page.get_by_label("Art").select_option("file")
    expect(tiles).to_have_count(1)
    expect(tiles.get_by_role("link")).to_contain_text("angebot.pdf")
    expect(page.locator("#gallery-report")).to_be_hidden()
    page.get_by_label("Von wem").select_option("")
    page.get_by_label("Art").select_option("photo")
    expect(tiles).to_have_count(3)
    page.get_by_label("Von", exact=True).fill("2000-01-01")
    page.get_by_label("Bis", exact=True).fill("2000-01-02")
    page.get_by_label("Bis", exact=True).dispatch_event("change")
    expect(page.get_by_text("Noch keine Fotos oder Dateien.")).to_be_visible()
    expect(page.locator("#gallery-report")).to_have_attribute(
        "href", f"/api/v1/projects/{p['id']}/report?date_from=2000-01-01&date_to=2000-01-02"
    )
    page.get_by_label("Von", exact=True).fill("")
    page.get_by_label("Bis", exact=True).fill("")
    page.get_by_label("Bis", exact=True).dispatch_event("change")
    expect(tiles).to_have_count(3)
    # Words of a name or caption, as they are typed (no key to press).
    page.get_by_label("Name oder Beschriftung").press_sequentially("B.PNG")
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_have_attribute("data-id", b_id)
    assert "text=" not in (page.locator("#gallery-report").get_attribute("href") or "")
    page.get_by_label("Name oder Beschriftung").fill("")
    page.get_by_label("Name oder Beschriftung").dispatch_event("search")
    expect(tiles).to_have_count(3)
    office.shot("gallery")
    page.locator("#gallery .tile").first.click()
    expect(page.get_by_role("dialog", name="Fotos und Videos")).to_be_visible()
    office.shot("viewer")
    page.keyboard.press("Escape")
    # The report is the PDF the API makes.
    with page.expect_download() as download:
        page.locator("#gallery-report").click()
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"


def pdf() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 50), (255, 255, 255)).save(out, "PDF")
    return out.getvalue()


def test_presence_in_a_direct_chat_and_in_member_lists(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    from zunft.chats.service import do_open_direct_chat

    project(ctx, biz)
    ctx.write(lambda tx: do_open_direct_chat(tx, biz.actor("office"), biz.users["worker"]))
    office = people("office")
    page = office.page
    worker = people("worker")
    worker.page.goto("/")
    expect(worker.page.locator("html")).to_have_attribute("data-stream", "ready")
    chat = next(c for c in office_chats(office) if c["kind"] == "direct")
    page.goto(f"/#/chat/{chat['id']}")
    presence = page.locator(".topbar .presence")
    expect(presence).to_have_text("online")
    office.shot("presence")
    page.set_viewport_size(DESKTOP)
    office.shot("presence")
    page.set_viewport_size(PHONE)
    page.goto("/#/admin/projects")
    expect(page.locator(".members .presence.online")).not_to_have_count(0)
    # The worker's page goes away: "zuletzt gesehen" with the time, live.
    page.goto(f"/#/chat/{chat['id']}")
    expect(presence).to_have_text("online")
    worker.page.goto("about:blank")
    expect(presence).to_have_text(re.compile(r"^zuletzt gesehen (\d\d\.\d\d\. )?\d\d:\d\d$"))


def office_chats(person: Person) -> list[dict[str, Any]]:
    r = person.context.request.get("/api/v1/chats")
    assert r.ok
    return list(r.json()["chats"])


def test_the_second_factor_set_up_shows_a_qr_code(people: Any, biz: Business) -> None:
    worker = people("worker")
    page = worker.page
    page.goto("/#/profile")
    page.get_by_role("button", name=re.compile("einrichten", re.I)).click()
    qr = page.get_by_role("img", name="QR-Code für die Authenticator-App")
    expect(qr).to_be_visible()
    # Parsed as SVG (not HTML), drawn, and free of inline style (the CSP forbids it).
    assert qr.evaluate("el => el.namespaceURI") == "http://www.w3.org/2000/svg"
    assert (
        qr.evaluate(
            "el => el.querySelectorAll('[style]').length + el.querySelectorAll('style').length"
        )
        == 0
    )
    box = qr.bounding_box()
    assert box["width"] >= 150
    assert box["height"] >= 150
    worker.shot("totp-qr")
    page.set_viewport_size(DESKTOP)
    worker.shot("totp-qr")


def test_staff_caption_and_tag_a_photo_in_the_viewer_and_filter_the_gallery_by_tag(
    people: Any, ctx: AppContext, biz: Business, live: Live
) -> None:
    p = project(ctx, biz)
    ids = send_files(live, ctx, biz, p["chat_id"], [(f"foto-{i}.png", png(i)) for i in range(3)])
    worker = people("worker")
    open_gallery(worker, p["id"])
    page = worker.page
    tiles = page.locator("#gallery li")
    expect(tiles).to_have_count(3)
    target = ids[1]
    page.locator(f'#gallery li[data-id="{target}"] .tile').click()
    viewer = page.get_by_role("dialog", name="Fotos und Videos")
    expect(viewer).to_be_visible()
    shown = viewer.get_attribute("data-index")  # where it sits among photos of one time
    viewer.get_by_role("button", name="Beschriftung und Tags bearbeiten").click()
    viewer.get_by_label("Beschriftung").fill("Wasserschaden unter der Spüle")
    viewer.get_by_role("group", name="Tags").get_by_label("Mangel").check()
    # A tag of its own, typed and added with Enter (Enter in this field does not save).
    viewer.get_by_label("Neuer Tag").fill("Küche")
    viewer.get_by_label("Neuer Tag").press("Enter")
    expect(viewer.get_by_role("group", name="Tags").get_by_label("Küche")).to_be_checked()
    # The arrow keys move in the fields, not to a neighbouring photo (the last has none right).
    viewer.get_by_label("Neuer Tag").press("ArrowLeft" if shown == "2" else "ArrowRight")
    expect(viewer).to_have_attribute("data-index", shown)
    worker.shot("viewer-edit")
    assert serious(page) == []
    viewer.get_by_role("button", name="Speichern").click()
    expect(viewer.get_by_role("status")).to_have_text("Gespeichert.")
    expect(viewer.locator(".viewer-text")).to_have_text("Wasserschaden unter der Spüle")
    expect(viewer.get_by_role("list", name="Tags").get_by_role("listitem")).to_have_text(
        ["Küche", "Mangel"]
    )
    worker.shot("viewer-tags")
    page.set_viewport_size(DESKTOP)
    worker.shot("viewer-tags")
    page.set_viewport_size(PHONE)
    # Stored: the API says so, and so does the app after a reload, in the chat's viewer
    # (whose photos come without caption and tags: it asks for them).
    r = worker.context.request.get(f"/api/v1/files/{target}")
    assert (r.json()["caption"], r.json()["tags"]) == (
        "Wasserschaden unter der Spüle",
        ["Küche", "Mangel"],
    )
    page.keyboard.press("Escape")
    page.reload()
    open_chat(worker, "Badsanierung Schmidt")
    page.locator(".msg .thumb").nth(1).click()
    expect(viewer.locator(".viewer-text")).to_have_text("Wasserschaden unter der Spüle")
    expect(viewer.get_by_role("list", name="Tags")).to_contain_text("Mangel")
    page.keyboard.press("Escape")

    # The gallery by tag: only that photo, and the photo report takes the tag along.
    open_gallery(worker, p["id"])
    expect(tiles).to_have_count(3)
    page.get_by_label("Tag", exact=True).select_option("Küche")
    expect(tiles).to_have_count(1)
    expect(tiles).to_have_attribute("data-id", target)
    expect(page.locator("#gallery-report")).to_have_attribute(
        "href", f"/api/v1/projects/{p['id']}/report?tag=K%C3%BCche"
    )
    worker.shot("gallery-tag")
    with page.expect_download() as download:
        page.locator("#gallery-report").click()
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
    page.get_by_label("Tag", exact=True).select_option("vorher")
    expect(page.get_by_text("Noch keine Fotos oder Dateien.")).to_be_visible()
    page.get_by_label("Tag", exact=True).select_option("")
    expect(tiles).to_have_count(3)


def test_a_customer_sees_caption_and_tags_but_cannot_change_them(
    people: Any, ctx: AppContext, biz: Business, live: Live
) -> None:
    from tests.web.app.test_customers import PROJECT, invite, make_project, open_link
    from zunft.blobs.gallery import do_describe_file

    p = make_project(ctx, biz)
    customer = people("worker", login=False)
    cp = customer.page
    open_link(customer, live, invite(ctx, biz, p["id"]))
    cp.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    expect(cp.locator(".topbar .title")).to_have_text(PROJECT)
    r = customer.context.request.get("/api/v1/customer/me")
    [chat] = r.json()["chats"]
    [photo] = send_files(live, ctx, biz, chat["chat_id"], [("fliese.png", png(7))])
    ctx.write(
        lambda tx: do_describe_file(
            tx, biz.actor("lead"), photo, caption="Neue Fliese", set_caption=True, tags=["nachher"]
        )
    )
    cp.reload()
    cp.locator(".msg .thumb").click()
    viewer = cp.get_by_role("dialog", name="Fotos und Videos")
    expect(viewer.locator(".viewer-text")).to_have_text("Neue Fliese")
    expect(viewer.get_by_role("list", name="Tags")).to_have_text("nachher")
    expect(viewer.get_by_role("button", name="Beschriftung und Tags bearbeiten")).to_have_count(0)
    expect(viewer.locator("input, form")).to_have_count(0)
    expect(viewer.locator(".viewer-info")).to_have_text("Neue Fliesenachher")  # nothing else
    customer.shot("customer-viewer")
