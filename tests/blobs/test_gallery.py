"""The project gallery (newest first, filters, pages, captions and tags) and the photo
report PDF, read back with pypdf."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.blobs import samples
from tests.blobs.helpers import uploaded
from tests.factories import Api, Business, journal_entries, login
from tests.web.helpers import assert_error, general_chat_id
from zunft.context import AppContext


@pytest.fixture
def team(client: TestClient, biz: Business) -> dict[str, Any]:
    lead = login(client, biz, "lead")
    r = lead.post(
        "/projects",
        json={
            "name": "Bad Sanierung Familie Kühn",
            "address": "Lindenstraße 12, 10969 Berlin",
            "member_ids": [biz.users["worker"]],
        },
    )
    assert r.status_code == 201, r.text
    project = r.json()
    worker = login(client, biz, "worker")
    chat = project["chat_id"]
    files = {
        "alt": sent(worker, chat, samples.photo(taken="2026:02:10 08:00:00"), "alt.jpg"),
        "mitte": sent(lead, chat, samples.photo(taken="2026:02:20 12:30:00"), "mitte.jpg"),
        "neu": sent(worker, chat, samples.photo(taken="2026:02:27 16:45:00"), "neu.jpg"),
        "video": sent(worker, chat, samples.video(), "rundgang.mp4"),
        "pdf": sent(worker, chat, b"%PDF-1.4\n%%EOF\n", "angebot.pdf"),
    }
    sent(worker, general_chat_id(worker), samples.photo(), "anderswo.jpg")
    return {"project": project, "lead": lead, "worker": worker, "files": files}


def sent(api: Api, chat: str, data: bytes, name: str) -> dict[str, Any]:
    """Upload a file and send it in a message (what the gallery shows)."""
    f: dict[str, Any] = uploaded(api, chat, data, name)
    r = api.post(
        f"/chats/{chat}/messages",
        json={"client_id": f"m-{f['id']}", "text": "", "attachments": [f["id"]]},
    )
    assert r.status_code == 201, r.text
    f["message_id"] = r.json()["id"]
    return f


def _ids(page: dict[str, Any]) -> list[str]:
    return [i["name"] for i in page["items"]]


def test_gallery_newest_first_with_filters_and_pages(team: dict[str, Any], biz: Business) -> None:
    worker: Api = team["worker"]
    gallery = f"/projects/{team['project']['id']}/gallery"
    page = worker.get(gallery).json()
    # The video has no capture time: its upload time (the fake clock, March 2026) counts.
    assert _ids(page) == ["rundgang.mp4", "neu.jpg", "mitte.jpg", "alt.jpg"]
    assert page["next"] is None
    assert _ids(worker.get(gallery, params={"kind": "photo"}).json()) == [
        "neu.jpg",
        "mitte.jpg",
        "alt.jpg",
    ]
    period = {"date_from": "2026-02-15", "date_to": "2026-02-27"}
    assert _ids(worker.get(gallery, params=period).json()) == ["neu.jpg", "mitte.jpg"]
    mine = worker.get(gallery, params={"uploader_id": biz.users["lead"]}).json()
    assert _ids(mine) == ["mitte.jpg"]
    first = worker.get(gallery, params={"limit": 3}).json()
    assert len(first["items"]) == 3
    second = worker.get(gallery, params={"limit": 3, "before": first["next"]}).json()
    assert _ids(second) == ["alt.jpg"]
    assert second["next"] is None
    bad = worker.get(gallery, params={"date_from": "2026-03-01", "date_to": "2026-02-01"})
    assert_error(bad, 422, "invalid_period")


def test_gallery_lists_voice_messages_and_files_when_asked(team: dict[str, Any]) -> None:
    worker: Api = team["worker"]
    chat = team["project"]["chat_id"]
    sent(worker, chat, samples.voice(), "sprachnachricht.ogg")
    gallery = f"/projects/{team['project']['id']}/gallery"
    # Without a kind: the photo documentation (photos and videos) as before.
    assert "sprachnachricht.ogg" not in _ids(worker.get(gallery).json())
    assert _ids(worker.get(gallery, params={"kind": "voice"}).json()) == ["sprachnachricht.ogg"]
    assert _ids(worker.get(gallery, params={"kind": "document"}).json()) == ["angebot.pdf"]
    both = worker.get(gallery, params={"kind": ["voice", "document"]}).json()
    assert sorted(_ids(both)) == ["angebot.pdf", "sprachnachricht.ogg"]
    assert_error(worker.get(gallery, params={"kind": "script"}), 422, "validation_error")


def test_captions_and_tags(ctx: AppContext, team: dict[str, Any], biz: Business) -> None:
    worker: Api = team["worker"]
    files = team["files"]
    r = worker.patch(
        f"/files/{files['alt']['id']}",
        json={"caption": "Rohr vor dem Verschließen", "tags": ["Vorher", "Leitung DN 50"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["Leitung DN 50", "vorher"]
    assert r.json()["caption"] == "Rohr vor dem Verschließen"
    worker.patch(f"/files/{files['neu']['id']}", json={"tags": ["nachher", "Mangel"]})
    gallery = f"/projects/{team['project']['id']}/gallery"
    assert _ids(worker.get(gallery, params={"tag": "vorher"}).json()) == ["alt.jpg"]
    assert _ids(worker.get(gallery, params={"tag": ["nachher", "Mangel"]}).json()) == ["neu.jpg"]
    assert worker.get(gallery, params={"tag": ["vorher", "Mangel"]}).json()["items"] == []
    tags = worker.get("/gallery/tags").json()["tags"]
    assert tags == ["vorher", "nachher", "Mangel", "Material", "Leitung DN 50"]
    # Only the caption changes; the tags stay.
    r = worker.patch(f"/files/{files['alt']['id']}", json={"caption": None})
    assert (r.json()["caption"], r.json()["tags"]) == (None, ["Leitung DN 50", "vorher"])
    assert_error(
        worker.patch(f"/files/{files['alt']['id']}", json={"tags": ["<script>"]}),
        422,
        "invalid_tag",
    )
    events = journal_entries(ctx, biz.tenant_id, "file.described")
    assert events[0]["tags"] == ["Leitung DN 50", "vorher"]


def test_outsiders_see_no_gallery(client: TestClient, biz: Business, team: dict[str, Any]) -> None:
    apprentice = login(client, biz, "apprentice")
    project_id = team["project"]["id"]
    assert_error(apprentice.get(f"/projects/{project_id}/gallery"), 404, "not_found")
    assert_error(apprentice.get(f"/projects/{project_id}/report"), 404, "not_found")
    file_id = team["files"]["alt"]["id"]
    assert_error(apprentice.patch(f"/files/{file_id}", json={"caption": "x"}), 404, "not_found")


def _pdf(response: Any) -> PdfReader:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(response.content))


def test_photo_report(team: dict[str, Any], biz: Business) -> None:
    lead: Api = team["lead"]
    worker: Api = team["worker"]
    files = team["files"]
    worker.patch(f"/files/{files['alt']['id']}", json={"caption": "Rohr vor dem Verschließen"})
    worker.patch(f"/files/{files['mitte']['id']}", json={"tags": ["Mangel"]})
    url = f"/projects/{team['project']['id']}/report"
    pdf = _pdf(lead.get(url, params={"date_from": "2026-02-01", "date_to": "2026-02-28"}))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    for expected in (
        "Fotodokumentation",
        "Müller Haustechnik GmbH",
        "Bad Sanierung Familie Kühn",
        "Lindenstraße 12, 10969 Berlin",
        "01.02.2026 bis 28.02.2026",
        "Rohr vor dem Verschließen",
        "10.02.2026, 08:00 Uhr",
        "Worker mueller",
        "Lead mueller",
        "Schlagworte: Mangel",
    ):
        assert expected in text, expected
    assert "Position" not in text
    images = sum(len(page.images) for page in pdf.pages)
    assert images == 3  # the three photos; neither the video nor the PDF
    assert len(pdf.pages) == 4  # the cover and one page per photo
    assert "Seite 4 von 4" in text
    # Only some tags, with positions.
    pdf = _pdf(lead.get(url, params={"tag": "Mangel", "positions": "true"}))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert sum(len(page.images) for page in pdf.pages) == 1
    assert "Position: 52.52001, 13.40495" in text
    assert "Rohr vor dem" not in text


def test_staff_find_photos_by_place(team: dict[str, Any]) -> None:
    worker: Api = team["worker"]
    chat = team["project"]["chat_id"]
    sent(worker, chat, samples.photo(gps=(48.137154, 11.576124)), "muenchen.jpg")
    gallery = f"/projects/{team['project']['id']}/gallery"
    munich = worker.get(gallery, params={"lat": 48.1372, "lon": 11.5762, "radius_m": 500})
    assert _ids(munich.json()) == ["muenchen.jpg"]
    berlin = worker.get(gallery, params={"lat": 52.52, "lon": 13.405, "radius_m": 1000}).json()
    assert _ids(berlin) == ["neu.jpg", "mitte.jpg", "alt.jpg"]  # the video has no position
    page = worker.get(gallery, params={"lat": 52.52, "lon": 13.405, "limit": 2}).json()
    assert _ids(page) == ["neu.jpg", "mitte.jpg"]
    rest = worker.get(
        gallery, params={"lat": 52.52, "lon": 13.405, "limit": 2, "before": page["next"]}
    ).json()
    assert _ids(rest) == ["alt.jpg"]
    assert_error(worker.get(gallery, params={"lat": 52.52}), 422, "invalid_filter")


def test_files_are_found_by_words_in_their_name_or_caption(team: dict[str, Any]) -> None:
    worker: Api = team["worker"]
    files = team["files"]
    r = worker.patch(
        f"/files/{files['mitte']['id']}", json={"caption": "Rohr vor dem Verschließen"}
    )
    assert r.status_code == 200, r.text
    gallery = f"/projects/{team['project']['id']}/gallery"

    def found(text: str, **params: Any) -> dict[str, Any]:
        r = worker.get(gallery, params={"text": text, **params})
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert _ids(found("VERSCHLIESSEN")) == ["mitte.jpg"]  # the caption; case and ß folded
    assert _ids(found("  alt ")) == ["alt.jpg"]  # the name
    assert _ids(found("angebot", kind=["document", "file"])) == ["angebot.pdf"]
    assert _ids(found("anderswo")) == []  # another chat's photo
    assert _ids(found("nirgends")) == []
    page = found(".jpg", limit=2)
    assert _ids(page) == ["neu.jpg", "mitte.jpg"]
    assert _ids(found(".jpg", limit=2, before=page["next"])) == ["alt.jpg"]
    assert _ids(found("")) == _ids(worker.get(gallery).json())  # empty: no filter


def test_the_gallery_shows_what_was_sent_and_not_deleted(team: dict[str, Any]) -> None:
    worker: Api = team["worker"]
    chat = team["project"]["chat_id"]
    gallery = f"/projects/{team['project']['id']}/gallery"
    uploaded(worker, chat, samples.photo(), "nie-gesendet.jpg")  # uploaded, never sent
    assert "nie-gesendet.jpg" not in _ids(worker.get(gallery).json())
    lead: Api = team["lead"]  # who sent it
    assert lead.delete(f"/messages/{team['files']['mitte']['message_id']}").status_code == 200
    assert _ids(worker.get(gallery).json()) == ["rundgang.mp4", "neu.jpg", "alt.jpg"]
