"""A chat with 10,000 messages: only a window of them is in the page, however far one scrolls
back; the window moves with scrolling and the newest messages come back."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.factories import Business
from tests.web.app.test_chat import open_chat, project
from zunft.context import AppContext
from zunft.messages.service import do_send_message

COUNT = 10_000
WINDOW_MAX = 150  # app/chat.js


def first_shown(page: Any) -> int:
    return int(page.locator(".msg .text").first.inner_text().split()[-1])


def test_ten_thousand_messages_render_a_window(people: Any, ctx: AppContext, biz: Business) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    lead = biz.actor("lead")

    def fill(tx: Any) -> None:
        for i in range(1, COUNT + 1):
            do_send_message(tx, lead, chat_id, text=f"Nachricht {i}")

    ctx.write(fill)
    worker = people("worker")
    open_chat(worker, "Badsanierung Schmidt")
    page = worker.page
    expect(page.locator(".msg .text").last).to_have_text(f"Nachricht {COUNT}")
    assert page.locator(".msg").count() <= WINDOW_MAX

    # Scroll back through several pages: older messages come, the page never holds more.
    seen = first_shown(page)
    for _ in range(6):
        page.locator(".scroller").evaluate("s => { s.scrollTop = 0; }")
        expect(page.locator(".msg .text").first).not_to_have_text(f"Nachricht {seen}")
        now = first_shown(page)
        assert now < seen
        seen = now
        shown = page.locator(".msg .text").all_inner_texts()
        assert len(shown) <= WINDOW_MAX
        numbers = [int(t.split()[-1]) for t in shown]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # no gap
    assert seen <= COUNT - 300
    worker.shot("large-chat-scrolled-back")

    # And forward again to the newest.
    for _ in range(40):
        if page.locator(".msg .text", has_text=f"Nachricht {COUNT}").count():
            break
        page.locator(".scroller").evaluate("s => { s.scrollTop = s.scrollHeight; }")
        expect(page.locator(".msg .text").first).not_to_have_text(f"Nachricht {seen}")
        now = first_shown(page)
        assert now > seen
        seen = now
        assert page.locator(".msg").count() <= WINDOW_MAX
    expect(page.locator(".msg .text").last).to_have_text(f"Nachricht {COUNT}")
