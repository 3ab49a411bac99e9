"""Single-request uploads and downloads through the API: types from the bytes, previews
upright and without location, Range and ETag, access like the chat's, and every kind of bad
input answered with a clear 4xx (or 507) that leaves nothing behind."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.blobs import samples
from tests.blobs.helpers import fetch, media_rows, stored_keys, upload, uploaded
from tests.factories import Api, Business, journal_entries, login, make_business
from tests.web.helpers import assert_error, general_chat_id
from zunft.blobs.store import LocalStore
from zunft.context import AppContext


@pytest.fixture
def worker(client: TestClient, biz: Business) -> Api:
    return login(client, biz, "worker")


@pytest.fixture
def chat(worker: Api) -> str:
    return general_chat_id(worker)


def test_a_photo_is_stored_with_its_metadata_and_upright_previews(
    ctx: AppContext, biz: Business, worker: Api, chat: str
) -> None:
    data = samples.photo(800, 600, orientation=6)  # the camera was turned: 600 wide, 800 high
    f = uploaded(worker, chat, data, name="Rohr vor dem Verschließen.txt")  # the name lies
    assert f["kind"] == "photo"
    assert f["content_type"] == "image/jpeg"
    assert f["size"] == len(data)
    assert (f["width"], f["height"]) == (600, 800)
    assert f["name"] == "Rohr vor dem Verschließen.txt"
    assert f["gps"] == {
        "lat": pytest.approx(52.520008, abs=1e-5),
        "lon": pytest.approx(13.404954, abs=1e-5),
    }
    assert f["taken_at"] == 1772356500000  # 2026-03-01 10:15 at +01:00
    assert f["camera"] == "Fairphone FP5"
    # The original comes back unchanged, EXIF and all.
    r = worker.get(f"/files/{f['id']}/content")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-disposition"].startswith("inline")
    # Previews: upright (the red left half of the sensor is now at the top), no EXIF at all.
    for name, longest in (("thumb", 320), ("large", 800)):
        p = worker.get(f"/files/{f['id']}/preview?size={name}")
        assert p.status_code == 200, p.text
        img = Image.open(io.BytesIO(p.content))
        assert img.size[1] == longest
        assert img.size[0] < img.size[1]
        top = img.getpixel((img.width // 2, 5))
        bottom = img.getpixel((img.width // 2, img.height - 5))
        assert isinstance(top, tuple)
        assert isinstance(bottom, tuple)
        assert (top[0] > 150, top[2] < 100) == (True, True), top  # red on top
        assert (bottom[2] > 150, bottom[0] < 100) == (True, True), bottom  # blue below
        assert not img.getexif(), "a preview must carry no EXIF (no location)"
        assert b"Fairphone" not in p.content
    [event] = journal_entries(ctx, biz.tenant_id, "file.uploaded")
    assert event["file_id"] == f["id"]
    assert event["kind"] == "photo"


def test_heic_gets_browser_previews(worker: Api, chat: str) -> None:
    f = uploaded(worker, chat, samples.heic(), name="IMG_0001.HEIC")
    assert (f["content_type"], f["kind"]) == ("image/heic", "photo")
    p = worker.get(f"/files/{f['id']}/preview?size=large")
    assert p.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(p.content)).size == (640, 480)


@pytest.mark.parametrize(
    ("make", "content_type", "kind"),
    [
        (lambda: samples.video("mp4", "mpeg4"), "video/mp4", "video"),
        (lambda: samples.video("mov", "mpeg4"), "video/quicktime", "video"),
        (lambda: samples.video("webm", "libvpx"), "video/webm", "video"),
        (lambda: samples.voice("ogg", "libopus"), "audio/ogg", "voice"),
        (lambda: samples.voice("webm", "libopus"), "audio/webm", "voice"),
        (lambda: samples.voice("ipod", "aac"), "audio/mp4", "voice"),
    ],
    ids=["mp4", "mov", "webm", "ogg-opus", "webm-opus", "m4a"],
)
def test_videos_and_voice_messages(
    worker: Api, chat: str, make: Callable[[], bytes], content_type: str, kind: str
) -> None:
    f = uploaded(worker, chat, make(), name="aufnahme.bin")
    assert (f["content_type"], f["kind"]) == (content_type, kind)
    assert 900 <= f["duration_ms"] <= 1600
    if kind == "video":
        assert (f["width"], f["height"]) == (160, 120)
        assert set(f["previews"]) == {"thumb", "large"}  # the poster frame
    else:
        assert f["previews"] == {}


OCTETS = "application/octet-stream"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


@pytest.mark.parametrize(
    ("data", "content_type", "sent_as", "disposition"),
    [
        (b"%PDF-1.7\n%...\n", "application/pdf", "application/pdf", "attachment"),
        (b"<!DOCTYPE html><script>alert(1)</script>", "text/html", OCTETS, "attachment"),
        (SVG, "image/svg+xml", OCTETS, "attachment"),
        ("Aufmaß Küche: 3,20 m".encode(), "text/plain", "text/plain; charset=utf-8", "attachment"),
    ],
    ids=["pdf", "html", "svg", "text"],
)
def test_scriptable_and_other_files_are_only_downloads(
    worker: Api, chat: str, data: bytes, content_type: str, sent_as: str, disposition: str
) -> None:
    f = uploaded(worker, chat, data, name="bild.jpg")  # a name that claims a photo
    assert f["content_type"] == content_type
    assert f["kind"] in {"document", "file"}
    r = worker.get(f"/files/{f['id']}/content")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == sent_as
    assert r.headers["content-disposition"].startswith(disposition)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]


def test_range_requests_and_etag(worker: Api, chat: str) -> None:
    data = samples.photo(2400, 1800, gps=None) + samples.PATTERN * 40_000  # > 4 segments
    size = len(data)
    assert size > 4 * 1024 * 1024
    f = uploaded(worker, chat, data)
    assert f["sha256"] == hashlib.sha256(data).hexdigest()  # hashed on the way in
    url = f"/files/{f['id']}/content"
    full = worker.get(url)
    etag = full.headers["etag"]
    assert full.headers["accept-ranges"] == "bytes"
    assert "private" in full.headers["cache-control"]
    cases = {
        "bytes=0-99": (0, 99),
        "bytes=1048570-1048580": (1048570, 1048580),  # across a segment border
        f"bytes={size - 10}-": (size - 10, size - 1),
        "bytes=-5": (size - 5, size - 1),
        f"bytes=3000000-{size + 1000}": (3000000, size - 1),
    }
    for header, (first, last) in cases.items():
        r = fetch(worker, url, Range=header)
        assert r.status_code == 206, (header, r.status_code)
        assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert r.content == data[first : last + 1], header
    r = fetch(worker, url, Range=f"bytes={size}-")
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"
    assert fetch(worker, url, **{"If-None-Match": etag}).status_code == 304
    # If-Range with another validator: the whole file.
    r = fetch(worker, url, Range="bytes=0-9", **{"If-Range": '"anders"'})
    assert r.status_code == 200
    assert len(r.content) == size


def test_files_are_seen_exactly_by_those_who_see_the_chat(
    ctx: AppContext, client: TestClient, biz: Business, worker: Api
) -> None:
    owner = login(client, biz, "owner")
    r = owner.post("/chats/channels", json={"title": "Nur Büro", "member_ids": []})
    assert r.status_code == 201, r.text
    office_only = r.json()["id"]
    secret = uploaded(owner, office_only, samples.photo())
    # Not a member: the file is as missing as an id that never existed.
    for path in ("", "/content", "/preview?size=thumb"):
        assert_error(worker.get(f"/files/{secret['id']}{path}"), 404, "not_found")
    # Uploading into a chat one is not a member of: 404, nothing stored.
    before = media_rows(ctx), stored_keys(ctx)
    assert_error(upload(worker, office_only, samples.photo()), 404, "not_found")
    assert (media_rows(ctx), stored_keys(ctx)) == before
    # Another business with the same ids: not found.
    other = make_business(ctx, slug="schmidt", name="Schmidt Bau")
    stranger = login(client, other, "owner")
    for path in ("", "/content", "/preview?size=large"):
        assert_error(stranger.get(f"/files/{secret['id']}{path}"), 404, "not_found")
    assert owner.get(f"/files/{secret['id']}/content").status_code == 200


BAD = [
    ("truncated_jpeg", samples.truncated_jpeg, 422, "corrupt_image"),
    ("decompression_bomb", samples.png_bomb, 422, "image_too_large"),
    ("gif_script_polyglot", samples.gif_script_polyglot, 422, "corrupt_image"),
    ("broken_video", lambda: samples.video()[:600], 422, "corrupt_media"),
]


@pytest.mark.parametrize(("make", "status", "code"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_content_is_refused_and_leaves_nothing(
    ctx: AppContext, worker: Api, chat: str, make: Callable[[], bytes], status: int, code: str
) -> None:
    before = media_rows(ctx), stored_keys(ctx)
    assert_error(upload(worker, chat, make()), status, code)
    assert (media_rows(ctx), stored_keys(ctx)) == before


def test_an_image_polyglot_is_served_as_an_image_and_its_previews_are_clean(
    worker: Api, chat: str
) -> None:
    """A real JPEG with an HTML page appended: stored as what it is (a photo), served with
    nosniff and a sandbox, and the previews are re-encoded pixels without the trailer."""
    data = samples.photo(trailer=b"<html><script>alert(document.cookie)</script></html>")
    f = uploaded(worker, chat, data, name="x.html")
    assert f["content_type"] == "image/jpeg"
    r = worker.get(f"/files/{f['id']}/content")
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert b"<script>" not in worker.get(f"/files/{f['id']}/preview?size=large").content


def test_an_empty_file_is_refused(ctx: AppContext, worker: Api, chat: str) -> None:
    before = media_rows(ctx), stored_keys(ctx)
    assert_error(upload(worker, chat, b""), 422, "empty_file")
    assert (media_rows(ctx), stored_keys(ctx)) == before


def test_limits_per_kind_and_the_quota(ctx: AppContext, worker: Api, chat: str) -> None:
    ctx.settings = ctx.settings.with_overrides(
        file_limits_mb="photo=1,video=1,voice=1,document=1,file=1", media_quota_mb=2
    )
    before = media_rows(ctx), stored_keys(ctx)
    big = samples.photo(gps=None) + b"\x00" * (1024 * 1024)
    assert_error(upload(worker, chat, big), 413, "file_too_large")
    assert (media_rows(ctx), stored_keys(ctx)) == before
    uploaded(worker, chat, samples.photo() + b"\x00" * 900_000)
    uploaded(worker, chat, samples.photo() + b"\x00" * 900_000)
    middle = media_rows(ctx), stored_keys(ctx)
    r = upload(worker, chat, samples.photo() + b"\x00" * 300_000)
    error = assert_error(r, 413, "quota_exceeded")
    assert error["details"]["quota"] == 2 * 1024 * 1024
    assert (media_rows(ctx), stored_keys(ctx)) == middle


def test_a_full_disk_answers_507_and_stores_nothing(
    ctx: AppContext, worker: Api, chat: str
) -> None:
    assert isinstance(ctx.blobs, LocalStore)
    before = media_rows(ctx), stored_keys(ctx)
    ctx.blobs.min_free_bytes = 1 << 62  # more than any disk has free
    assert_error(upload(worker, chat, samples.photo()), 507, "storage_full")
    ctx.blobs.min_free_bytes = 0
    assert (media_rows(ctx), stored_keys(ctx)) == before


def test_missing_content_length_is_refused(worker: Api, chat: str) -> None:
    def body() -> object:
        yield samples.photo()

    r = worker.client.post(
        "/api/v1/uploads/single",
        params={"chat_id": chat},
        content=body(),
        headers=worker.headers,
    )
    assert_error(r, 411, "length_required")


def test_a_retried_upload_with_the_same_client_id_stores_one_file(
    ctx: AppContext, worker: Api, chat: str
) -> None:
    data = samples.photo()
    first = upload(worker, chat, data, client_id="foto-0001-abc")
    again = upload(worker, chat, data, client_id="foto-0001-abc")
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert media_rows(ctx)["blobs"] == 1


def test_nothing_readable_is_stored(ctx: AppContext, worker: Api, chat: str) -> None:
    data = samples.PATTERN * 50_000  # 5 MB of text: several segments
    f = uploaded(worker, chat, data, name="notiz.txt")
    assert worker.get(f"/files/{f['id']}/content").content == data
    assert isinstance(ctx.blobs, LocalStore)
    files = [p for p in ctx.blobs.root.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for path in files:
        content = path.read_bytes()
        assert samples.PATTERN[:16] not in content, path
        assert b"notiz" not in content


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB filesystem (tmpfs; mounting needs root, as in CI)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        message = f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_really_full_disk_answers_507_and_leaves_nothing(
    ctx: AppContext, worker: Api, chat: str, tiny_disk: Path
) -> None:
    ctx.blobs = LocalStore(tiny_disk, min_free_bytes=0)
    before = media_rows(ctx)
    data = samples.photo() + os.urandom(5 * 1024 * 1024)  # more than the disk holds
    assert_error(upload(worker, chat, data), 507, "storage_full")
    assert media_rows(ctx) == before
    assert [p for p in tiny_disk.rglob("*") if p.is_file()] == []
    # Once there is room again, the same upload works.
    small = samples.photo()
    assert upload(worker, chat, small).status_code == 201


def test_a_pdf_gets_a_first_page_preview_and_stays_a_download(worker: Api, chat: str) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    for text in ("Angebot Nr. 2026-117", "Seite 2"):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 40)
        pdf.cell(0, 40, text)
    data = bytes(pdf.output())
    f = uploaded(worker, chat, data, name="Angebot.pdf")
    assert (f["kind"], f["content_type"], f["pages"]) == ("document", "application/pdf", 2)
    p = worker.get(f"/files/{f['id']}/preview?size=large")
    img = Image.open(io.BytesIO(p.content))
    assert img.height == 1280
    assert img.width < img.height  # A4, upright
    r = worker.get(f"/files/{f['id']}/content")
    assert r.content == data
    assert r.headers["content-disposition"].startswith("attachment")


def test_a_portrait_video_gets_an_upright_poster(worker: Api, chat: str) -> None:
    f = uploaded(worker, chat, samples.video(rotation=-90), name="hochkant.mp4")
    assert (f["width"], f["height"]) == (120, 160)
    img = Image.open(io.BytesIO(worker.get(f"/files/{f['id']}/preview?size=large").content))
    assert img.size == (120, 160)
    top = img.getpixel((img.width // 2, 5))
    assert isinstance(top, tuple)
    assert (top[0] > 150, top[2] < 100) == (True, True), top  # the red left side is on top
