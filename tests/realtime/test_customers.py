"""Customers on the stream: only their own customer chat, nothing before consent, and a
withdrawal ends their stream at once while staff see it live."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.customers.helpers import customer_world, msg, ok
from tests.factories import Business, general_chat
from tests.realtime.live import Live, refused_status


def test_a_customer_gets_only_their_own_chat(live: Live, client: TestClient, biz: Business) -> None:
    world = customer_world(client, biz)
    customer, chat, owner = world["customer"], world["chat"], world["owner"]
    with live.device(customer.token) as dev, live.device(owner.token) as staff:
        assert dev.hello["online"] == []  # no staff presence for customers
        assert dev.hello["last_seen"] == {}
        ok(owner.post(f"/chats/{general_chat(live.ctx, biz)}/messages", json=msg("intern")), 201)
        team = world["project"]["chat_id"]
        ok(owner.post(f"/chats/{team}/messages", json=msg("Team: Termin verschieben?")), 201)
        ok(owner.post(f"/chats/{chat}/messages", json=msg("Wir kommen Dienstag.")), 201)
        (frame,) = dev.events(1)
        assert frame["data"]["text"] == "Wir kommen Dienstag."
        assert frame["chat_id"] == chat
        live.settle()
        assert [f for f in dev.quiet() if f["type"] in ("event", "presence")] == []
        assert len(staff.events(3)) == 3  # staff got all three


def test_withdrawing_consent_ends_the_stream_and_staff_see_it(
    live: Live, client: TestClient, biz: Business
) -> None:
    world = customer_world(client, biz)
    customer, chat, owner = world["customer"], world["chat"], world["owner"]
    with live.device(customer.token) as dev, live.device(owner.token) as staff:
        r = customer.post("/customer/consent/withdraw")
        assert r.status_code in (200, 204), r.text
        assert dev.closed_with() == 4001
        withdrawn = staff.events(1, kind="consent.withdrawn")[0]
        assert withdrawn["chat_id"] == chat
    assert refused_status(live.url, {"Authorization": f"Bearer {customer.token}"}) == 401


def test_no_stream_before_the_new_consent_text_is_accepted(
    live: Live, client: TestClient, biz: Business
) -> None:
    world = customer_world(client, biz)
    customer, owner = world["customer"], world["owner"]
    current = ok(owner.get("/consent-texts/current"))
    ok(owner.post("/consent-texts", json={"text": current["text"] + "\n\nErgänzt."}), 201)
    assert refused_status(live.url, {"Authorization": f"Bearer {customer.token}"}) == 403
