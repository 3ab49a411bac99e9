"""Starting conversations in the app: any staff member opens a 1:1 chat with a colleague
(once: opening it again finds the same chat), owner and office create a channel with chosen
members, who see it appear live."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.factories import Business
from tests.web.app.conftest import DESKTOP
from zunft.context import AppContext


def test_a_worker_writes_to_a_colleague_and_the_office_opens_a_channel(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    worker, lead = people("worker"), people("lead")
    lead.page.goto("/")
    expect(lead.page.get_by_role("link", name="Allgemein")).to_be_visible()

    page = worker.page
    page.goto("/")
    page.get_by_role("link", name="Neuer Chat").click()
    expect(page.locator(".topbar .title")).to_have_text("Neuer Chat")
    expect(page.locator("#channel-form")).to_have_count(0)  # channels are for owner and office
    worker.shot("new-chat")
    page.get_by_role("button", name=re.compile("^Lead mueller")).click()
    expect(page.locator(".topbar .title")).to_have_text(re.compile("^Lead mueller"))
    first_url = page.url
    page.get_by_label("Nachricht schreiben").fill("Kommst du morgen früher?")
    page.get_by_label("Nachricht schreiben").press("Enter")
    expect(page.locator(".msg.mine .state")).to_have_text(re.compile("gesendet|gelesen"))

    # The lead sees the new 1:1 chat live, under the worker's name.
    item = lead.page.locator(".chat-item", has_text="Worker mueller")
    expect(item.locator(".chat-preview")).to_have_text("Worker mueller: Kommst du morgen früher?")

    # Opening it again finds the same chat, not a second one.
    page.goto("/#/new")
    page.get_by_role("button", name=re.compile("^Lead mueller")).click()
    expect(page.locator(".topbar .title")).to_have_text(re.compile("^Lead mueller"))
    assert page.url == first_url
    expect(page.locator(".msg", has_text="Kommst du morgen früher?")).to_have_count(1)

    office = people("office")
    office.page.goto("/#/new")
    form = office.page.locator("#channel-form")
    form.get_by_label("Name des Kanals").fill("Lager")
    form.get_by_label("Worker mueller").check()
    office.shot("new-channel")
    form.get_by_role("button", name="Kanal anlegen").click()
    expect(office.page.locator(".topbar .title")).to_have_text("Lager")

    worker.page.goto("/")
    expect(worker.page.locator(".chat-item", has_text="Lager")).to_be_visible()
    expect(lead.page.locator(".chat-item", has_text="Lager")).to_have_count(0)  # not a member


def test_on_a_wide_screen_a_new_chat_starts_beside_the_open_one(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    office = people("office", viewport=DESKTOP)
    page = office.page
    page.goto("/")
    page.get_by_role("link", name="Allgemein").first.click()
    expect(page.locator(".topbar .title")).to_have_text("Allgemein")
    page.locator(".pane-new").click()  # the list beside the chat has no top bar of its own
    expect(page.locator(".topbar .title")).to_have_text("Neuer Chat")
    page.get_by_role("button", name=re.compile("^Worker mueller")).click()
    expect(page.locator(".topbar .title")).to_have_text(re.compile("^Worker mueller"))
    office.shot("new-chat-beside")
