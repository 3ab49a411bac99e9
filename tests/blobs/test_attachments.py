"""Files attached to messages: shown in the message, history, search and chat list,
journaled with the send; only files of the same chat, and a retry attaches nothing twice."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.blobs import samples
from tests.blobs.helpers import media_rows, uploaded
from tests.factories import Api, Business, journal_entries, login, make_business
from tests.web.helpers import assert_error, general_chat_id
from zunft.context import AppContext


@pytest.fixture
def worker(client: TestClient, biz: Business) -> Api:
    return login(client, biz, "worker")


@pytest.fixture
def chat(worker: Api) -> str:
    return general_chat_id(worker)


def test_a_message_with_photos_and_no_text(
    ctx: AppContext, biz: Business, worker: Api, chat: str
) -> None:
    a = uploaded(worker, chat, samples.photo(), name="vorher.jpg")
    b = uploaded(worker, chat, samples.voice(), name="sprachnachricht.ogg")
    body = {"client_id": "m-anhang-0001", "text": "  ", "attachments": [a["id"], b["id"]]}
    r = worker.post(f"/chats/{chat}/messages", json=body)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["text"] == ""
    assert [f["id"] for f in sent["attachments"]] == [a["id"], b["id"]]
    assert sent["attachments"][0]["kind"] == "photo"
    assert sent["attachments"][0]["previews"] == ["large", "thumb"]
    assert sent["attachments"][1]["duration_ms"] > 1000
    assert "gps" not in sent["attachments"][0]
    # A retry returns the first message and attaches nothing twice.
    again = worker.post(f"/chats/{chat}/messages", json=body)
    assert again.json() == sent
    assert media_rows(ctx)["message_attachments"] == 2
    history = worker.get(f"/chats/{chat}/messages").json()["messages"]
    assert history[-1]["attachments"] == sent["attachments"]
    [chat_row] = [c for c in worker.get("/chats").json()["chats"] if c["id"] == chat]
    assert chat_row["last_message"]["attachments"] == sent["attachments"]
    [event] = journal_entries(ctx, biz.tenant_id, "message.sent")
    assert event["attachments"] == [a["id"], b["id"]]


def test_without_text_or_files_a_message_is_still_empty(worker: Api, chat: str) -> None:
    r = worker.post(f"/chats/{chat}/messages", json={"client_id": "m-leer-00001", "text": " "})
    assert_error(r, 422, "empty_text")


def test_only_files_of_the_same_chat(
    ctx: AppContext, client: TestClient, biz: Business, worker: Api, chat: str
) -> None:
    owner = login(client, biz, "owner")
    r = owner.post("/chats/channels", json={"title": "Büro", "member_ids": [biz.users["worker"]]})
    other_chat = r.json()["id"]
    elsewhere = uploaded(owner, other_chat, samples.photo())
    stranger_biz = make_business(ctx, slug="schmidt", name="Schmidt Bau")
    stranger = login(client, stranger_biz, "owner")
    foreign = uploaded(stranger, general_chat_id(stranger), samples.photo())
    before = media_rows(ctx)
    for file_id in (elsewhere["id"], foreign["id"], "01m8j9v88q5dqz3tpv17k5xyer"):
        r = worker.post(
            f"/chats/{chat}/messages",
            json={
                "client_id": f"m-{file_id[-10:]}",
                "text": "Siehe Foto",
                "attachments": [file_id],
            },
        )
        assert_error(r, 404, "not_found")
    assert media_rows(ctx) == before


def test_deleted_messages_hide_their_files_in_the_view(worker: Api, chat: str) -> None:
    f = uploaded(worker, chat, samples.photo())
    r = worker.post(
        f"/chats/{chat}/messages",
        json={"client_id": "m-weg-000001", "text": "Falsches Foto", "attachments": [f["id"]]},
    )
    message = r.json()
    gone = worker.delete(f"/messages/{message['id']}").json()
    assert gone["deleted"] is True
    assert gone["attachments"] == []
