"""Customers and files: what is posted in their chat they can see, photos and videos only
as previews (no location), nothing from other chats."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.blobs import samples
from tests.customers.helpers import customer_world, ok
from tests.factories import Api, Business


def _upload(staff: Api, chat: str, content: bytes, name: str) -> dict[str, Any]:
    r = staff.client.post(
        "/api/v1/uploads/single",
        params={"chat_id": chat, "name": name},
        content=content,
        headers=staff.headers,
    )
    return dict(ok(r, 201))


def test_a_customer_sees_photos_of_their_chat_as_previews_only(
    client: TestClient, biz: Business
) -> None:
    world = customer_world(client, biz)
    owner, customer, chat = world["owner"], world["customer"], world["chat"]
    photo = _upload(owner, chat, samples.photo(), "Bad vorher.jpg")
    ok(
        owner.post(
            f"/chats/{chat}/messages",
            json={
                "client_id": "photo-msg-0001",
                "text": "So sieht es aus",
                "attachments": [photo["id"]],
            },
        ),
        201,
    )
    info = ok(customer.get(f"/files/{photo['id']}"))
    assert "gps" not in (info.get("metadata") or {})
    preview = customer.get(f"/files/{photo['id']}/preview")
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/jpeg"
    assert b"GPS" not in preview.content  # the preview carries no EXIF
    original = customer.get(f"/files/{photo['id']}/content")
    assert original.status_code == 403
    assert original.json()["error"]["code"] == "preview_only"
    assert owner.get(f"/files/{photo['id']}/content").status_code == 200  # staff: the original


def test_a_customer_gets_nothing_from_the_team_chat(client: TestClient, biz: Business) -> None:
    world = customer_world(client, biz)
    owner, customer = world["owner"], world["customer"]
    team = world["project"]["chat_id"]
    photo = _upload(owner, team, samples.photo(), "Intern.jpg")
    for path in ("", "/preview", "/content"):
        assert customer.get(f"/files/{photo['id']}{path}").status_code == 404


def test_a_customer_sends_a_photo_of_the_damage(client: TestClient, biz: Business) -> None:
    world = customer_world(client, biz)
    owner, customer, chat = world["owner"], world["customer"], world["chat"]
    photo = _upload(customer, chat, samples.photo(gps=(48.1374, 11.5755)), "Fleck an der Decke.jpg")
    sent = ok(
        customer.post(
            f"/chats/{chat}/messages",
            json={
                "client_id": "kunde-foto-0001",
                "text": "Seit gestern",
                "attachments": [photo["id"]],
            },
        ),
        201,
    )
    assert [a["id"] for a in sent["attachments"]] == [photo["id"]]
    assert owner.get(f"/files/{photo['id']}/content").content == samples.photo(
        gps=(48.1374, 11.5755)
    )
    # their own photo's original carries their home's position: they see the preview, like all
    assert customer.get(f"/files/{photo['id']}/preview").status_code == 200


def test_a_customer_cannot_upload_into_the_team_chat(client: TestClient, biz: Business) -> None:
    world = customer_world(client, biz)
    customer, team = world["customer"], world["project"]["chat_id"]
    r = customer.client.post(
        "/api/v1/uploads/single",
        params={"chat_id": team, "name": "x.jpg"},
        content=samples.photo(),
        headers=customer.headers,
    )
    assert r.status_code == 404
