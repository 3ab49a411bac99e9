"""Consent first at the domain level, whatever the transport: a customer whose consent is not
in force sees no chat and cannot post (the HTTP gate in web/deps.py answers before, the
realtime stream relies on this)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.customers.helpers import invite, join, make_project, ok
from tests.factories import Business, login
from zunft.accounts.actor import Actor
from zunft.chats.service import get_chats, get_visible_chat_ids
from zunft.context import AppContext
from zunft.errors import Forbidden
from zunft.messages.service import do_send_message


def test_visibility_and_posting_need_consent_in_force(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    erika, chat = join(client, invite(owner, make_project(owner, biz)["id"])["token"])
    actor = Actor(biz.tenant_id, erika.user_id, "customer", None, "customer")
    assert ctx.read(lambda rx: get_visible_chat_ids(rx, actor)) == [chat]
    ctx.write(lambda tx: do_send_message(tx, actor, chat, text="Hallo"))
    current = ok(owner.get("/consent-texts/current"))
    new = ok(owner.post("/consent-texts", json={"text": current["text"] + " Neu."}), 201)
    assert ctx.read(lambda rx: get_visible_chat_ids(rx, actor)) == []
    assert ctx.read(lambda rx: get_chats(rx, actor)) == []
    with pytest.raises(Forbidden) as caught:
        ctx.write(lambda tx: do_send_message(tx, actor, chat, text="Noch da?"))
    assert caught.value.code == "consent_required"
    body = {"version": new["version"], "sha256": new["sha256"], "device_name": "Telefon"}
    ok(erika.post("/customer/consent", json=body))
    assert ctx.read(lambda rx: get_visible_chat_ids(rx, actor)) == [chat]
    # Staff are not affected by a customer's consent: they still see and post.
    staff = biz.actor("owner")
    assert chat in ctx.read(lambda rx: get_visible_chat_ids(rx, staff))
