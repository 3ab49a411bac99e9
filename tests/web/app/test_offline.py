"""Offline: the service worker opens the app without a network; messages written offline wait
in the outbox (shown as waiting, kept across a reload) and are sent exactly once, in the order
written, when the network returns. A device that was away resumes from its stored position."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.factories import Business
from tests.realtime.live import Live
from tests.web.app.test_chat import open_chat, project
from zunft.context import AppContext
from zunft.messages.service import get_history

COMPOSER = "Nachricht schreiben"


def history_texts(ctx: AppContext, biz: Business, chat_id: str) -> list[str]:
    page = ctx.read(lambda rx: get_history(rx, biz.actor("office"), chat_id, limit=200))
    return [m["text"] for m in page["messages"]]


def wait_for_service_worker(page: Any) -> None:
    """Until the service worker controls the page (an awaited promise in the page: polling
    with page.wait_for_function would evaluate a string, which the app's CSP forbids)."""
    page.evaluate(
        """async () => {
            await navigator.serviceWorker.ready;
            if (!navigator.serviceWorker.controller) {
                await new Promise((ok) =>
                    navigator.serviceWorker.addEventListener("controllerchange", ok, {once: true}));
            }
        }"""
    )


def test_the_shell_opens_without_a_network(people: Any, ctx: AppContext, biz: Business) -> None:
    project(ctx, biz)
    worker = people("worker")
    open_chat(worker, "Badsanierung Schmidt")
    wait_for_service_worker(worker.page)
    worker.context.set_offline(True)
    worker.page.reload()
    # The shell, the chat list and the open chat come from the cache and IndexedDB.
    expect(worker.page.locator(".topbar .title")).to_have_text("Badsanierung Schmidt")
    expect(worker.page.locator("#status")).to_have_text("offline")
    worker.page.goto("/")
    expect(worker.page.get_by_role("link", name="Allgemein")).to_be_visible()
    worker.shot("offline-chat-list")


def test_offline_messages_are_sent_once_in_order_when_the_network_returns(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    lead = people("lead")
    worker = people("worker")
    open_chat(lead, "Badsanierung Schmidt")
    open_chat(worker, "Badsanierung Schmidt")
    wait_for_service_worker(worker.page)

    worker.context.set_offline(True)
    expect(worker.page.locator("#status")).to_have_text("offline")
    texts = ["Wasser ist abgestellt.", "Alte Fliesen sind raus.", "Estrich ist trocken."]
    box = worker.page.get_by_label(COMPOSER)
    for text in texts:
        box.fill(text)
        box.press("Enter")
    pending = worker.page.locator(".msg.pending")
    expect(pending).to_have_count(3)
    expect(pending.locator(".state")).to_have_text(["wird gesendet"] * 3)
    # Waiting messages survive a reload (the outbox is in IndexedDB), still offline.
    worker.page.reload()
    expect(worker.page.locator(".msg.pending .text")).to_have_text(texts)
    worker.shot("offline-outbox")
    assert history_texts(ctx, biz, chat_id) == []

    worker.context.set_offline(False)
    expect(worker.page.locator(".msg.pending")).to_have_count(0)
    expect(worker.page.locator(".msg.mine .text")).to_have_text(texts)
    expect(lead.page.locator(".msg .text")).to_have_text(texts)
    assert history_texts(ctx, biz, chat_id) == texts


def test_a_device_that_was_away_resumes_from_its_position(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    worker = people("worker")
    worker.page.goto("/")
    item = worker.page.locator(".chat-item", has_text="Badsanierung Schmidt")
    expect(item).to_be_visible()
    expect(worker.page.locator("html")).to_have_attribute("data-stream", "ready")
    live.send(biz.actor("lead"), chat_id, "Vor der Funkstille")
    expect(item.locator(".badge")).to_have_text("1")
    worker.context.set_offline(True)
    expect(worker.page.locator("#status")).to_have_text("offline")
    live.send(biz.actor("lead"), chat_id, "Während der Funkstille 1")
    live.send(biz.actor("lead"), chat_id, "Während der Funkstille 2")
    worker.context.set_offline(False)
    expect(item.locator(".badge")).to_have_text("3")
    expect(item.locator(".chat-preview")).to_have_text("Lead mueller: Während der Funkstille 2")
    streams = [u for u in worker.requests if "/api/v1/stream" in u]
    assert len(streams) == 2
    assert "since=" not in streams[0]
    assert "since=" in streams[1]


def test_a_reopened_app_counts_each_message_once(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    worker = people("worker")
    worker.page.goto("/")
    item = worker.page.locator(".chat-item", has_text="Badsanierung Schmidt")
    expect(worker.page.locator("html")).to_have_attribute("data-stream", "ready")
    live.send(biz.actor("lead"), chat_id, "Eins")
    expect(item.locator(".badge")).to_have_text("1")
    worker.page.close()  # the stored position stays at "Eins"
    live.send(biz.actor("lead"), chat_id, "Zwei")
    live.send(biz.actor("lead"), chat_id, "Drei")
    page = worker.context.new_page()
    streams: list[str] = []
    page.on("websocket", lambda ws: streams.append(ws.url))
    page.goto("/")
    # The fresh chat list counts 3, and the replay since the stored position brings "Zwei" and
    # "Drei" again: they must not be counted twice. (Which of the two arrives first is up to
    # the network; counted twice shows only when the list comes first.)
    item = page.locator(".chat-item", has_text="Badsanierung Schmidt")
    expect(item.locator(".chat-preview")).to_have_text("Lead mueller: Drei")
    live.send(biz.actor("lead"), chat_id, "Vier")
    expect(item.locator(".chat-preview")).to_have_text("Lead mueller: Vier")
    expect(item.locator(".badge")).to_have_text("4")
    assert streams
    assert all("since=" in u for u in streams)
