"""Two people in two browser contexts: log in, the chat list, send, live delivery, reply,
edit, delete and read state."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.factories import PASSWORD, Business
from tests.web.app.conftest import DESKTOP, Person
from zunft.context import AppContext
from zunft.projects.service import do_create_project


def project(ctx: AppContext, biz: Business, name: str = "Badsanierung Schmidt") -> dict[str, Any]:
    members = [biz.users["lead"], biz.users["worker"]]
    return ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("office"), name=name, address="Lindenstraße 4", member_ids=members
        )
    )


def open_chat(person: Person, title: str) -> None:
    person.page.goto("/")
    person.page.get_by_role("link", name=title).first.click()
    expect(person.page.locator(".topbar .title")).to_have_text(title)


def test_login_screen_then_chat_list(people: Any, ctx: AppContext, biz: Business) -> None:
    project(ctx, biz)
    worker = people("worker", login=False)
    page = worker.page
    page.goto("/")
    expect(page.get_by_role("button", name="Anmelden")).to_be_visible()
    worker.shot("login")
    page.get_by_label("Betrieb (Kurzname)").fill(biz.slug)
    page.get_by_label("E-Mail").fill(biz.emails["worker"])
    page.get_by_label("Passwort").fill("falsch-falsch-falsch")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_have_text("Betrieb, E-Mail oder Passwort stimmen nicht.")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.locator(".group-title").first).to_have_text("Badsanierung Schmidt")
    expect(page.get_by_role("link", name="Allgemein")).to_be_visible()
    worker.shot("chat-list")


def test_message_appears_live_with_read_state_edit_and_delete(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    project(ctx, biz)
    lead = people("lead")
    worker = people("worker")
    open_chat(worker, "Badsanierung Schmidt")
    worker.page.goto("/")  # the worker waits in the chat list
    open_chat(lead, "Badsanierung Schmidt")

    lead.page.get_by_label("Nachricht schreiben").fill("Fliesen sind geliefert.")
    lead.page.get_by_label("Nachricht schreiben").press("Enter")
    mine = lead.page.locator(".msg.mine", has_text="Fliesen sind geliefert.")
    expect(mine.locator(".state")).to_have_text("gesendet")

    # The worker's list shows it live, unread, with the last message.
    item = worker.page.locator(".chat-item", has_text="Badsanierung Schmidt")
    expect(item.locator(".badge")).to_have_text("1")
    expect(item.locator(".chat-preview")).to_have_text("Lead mueller: Fliesen sind geliefert.")
    worker.shot("chat-list-unread")

    # Opening the chat marks it read: the lead sees "gelesen".
    item.click()
    theirs = worker.page.locator(".msg", has_text="Fliesen sind geliefert.")
    expect(theirs).to_be_visible()
    expect(mine.locator(".state")).to_have_text("gelesen")

    # A reply from the worker arrives live at the lead, with the quote.
    theirs.click()
    worker.page.get_by_role("button", name="Antworten").click()
    worker.page.get_by_label("Nachricht schreiben").fill("Danke, ich hole sie morgen ab.")
    worker.page.get_by_role("button", name="Senden").click()
    reply = lead.page.locator(".msg", has_text="Danke, ich hole sie morgen ab.")
    expect(lead.page.locator("#announcer")).to_have_text(
        "Neue Nachricht von Worker mueller: Danke, ich hole sie morgen ab."
    )
    expect(reply.locator(".quote")).to_have_text("Ich: Fliesen sind geliefert.")

    # The lead edits and deletes; the worker sees both live.
    mine.click()
    lead.page.get_by_role("button", name="Bearbeiten").click()
    lead.page.get_by_label("Nachricht schreiben").fill("Fliesen und Kleber sind geliefert.")
    lead.page.get_by_label("Nachricht schreiben").press("Enter")
    edited = worker.page.locator(".msg", has_text="Fliesen und Kleber sind geliefert.")
    expect(edited.locator(".edited")).to_have_text("bearbeitet")
    lead.page.get_by_label("Nachricht schreiben").fill("Bitte ignorieren")
    lead.page.get_by_label("Nachricht schreiben").press("Enter")
    oops = lead.page.locator(".msg.mine", has_text="Bitte ignorieren")
    expect(oops.locator(".state")).to_have_text("gelesen")
    worker.shot("chat")
    lead.shot("chat-lead")
    oops.click()
    lead.page.get_by_role("button", name="Löschen").click()
    lead.page.get_by_role("button", name="Wirklich löschen?").click()
    expect(worker.page.locator(".msg.deleted .text")).to_have_text("Nachricht gelöscht")
    expect(worker.page.locator(".msg", has_text="Bitte ignorieren")).to_have_count(0)


def test_desktop_layout(people: Any, ctx: AppContext, biz: Business) -> None:
    project(ctx, biz)
    office = people("office", viewport=DESKTOP)
    open_chat(office, "Badsanierung Schmidt")
    office.page.get_by_label("Nachricht schreiben").fill("Termin mit Frau Schmidt am Montag.")
    office.page.get_by_label("Nachricht schreiben").press("Enter")
    expect(office.page.locator(".msg.mine .state")).to_have_text("gesendet")
    office.shot("chat-desktop")
    office.page.goto("/")
    expect(office.page.locator(".group-title").first).to_be_visible()
    office.shot("chat-list-desktop")


def test_mention_autocomplete_and_typing(people: Any, ctx: AppContext, biz: Business) -> None:
    from zunft.messages.service import get_history

    chat_id = project(ctx, biz)["chat_id"]
    lead = people("lead")
    worker = people("worker")
    open_chat(lead, "Badsanierung Schmidt")
    open_chat(worker, "Badsanierung Schmidt")
    box = worker.page.get_by_label("Nachricht schreiben")
    box.press_sequentially("Frage an @Le")
    expect(lead.page.locator(".typing")).to_have_text("Worker mueller schreibt …")
    options = worker.page.get_by_role("option")
    expect(options).to_have_text(["@Lead mueller"])
    worker.shot("mention")
    box.press("Enter")  # picks the suggestion, does not send
    expect(options).to_have_count(0)
    box.press_sequentially("kommt der Elektriker?")
    expect(box).to_have_value("Frage an @Lead mueller kommt der Elektriker?")
    box.press("Enter")
    expect(lead.page.locator(".msg .text")).to_have_text(
        ["Frage an @Lead mueller kommt der Elektriker?"]
    )
    expect(lead.page.locator(".typing")).to_have_text("")
    page = ctx.read(lambda rx: get_history(rx, biz.actor("lead"), chat_id))
    assert page["messages"][0]["mentions"] == [biz.users["lead"]]


def test_mentions_of_me_are_marked(people: Any, ctx: AppContext, biz: Business) -> None:
    project(ctx, biz)
    lead, worker, office = people("lead"), people("worker"), people("office")
    for person in (lead, worker, office):
        open_chat(person, "Badsanierung Schmidt")
        expect(person.page.locator("html")).to_have_attribute("data-stream", "ready")
    box = worker.page.get_by_label("Nachricht schreiben")
    box.press_sequentially("Frage an @Le")
    expect(worker.page.get_by_role("option")).to_have_text(["@Lead mueller"])
    box.press("Enter")  # picks the suggestion
    box.press_sequentially("kommt der Elektriker?")
    box.press("Enter")
    box.fill("@alle Morgen um 7 Baubesprechung.")
    box.press("Enter")
    question = "Frage an @Lead mueller kommt der Elektriker?"

    marked = re.compile(r"\bmentions-me\b")
    # The lead, live: marked by a border, a background, bold and words, not colour alone.
    msg = lead.page.locator(".msg", has_text="kommt der Elektriker?")
    expect(msg).to_have_class(marked)
    expect(msg.locator("mark.mention")).to_have_text("@Lead mueller")
    expect(msg.locator(".mention-tag")).to_have_text("@ Erwähnt Sie")
    expect(msg).to_have_attribute("aria-label", "Erwähnt Sie. Worker mueller: " + question)
    # (one evaluation: the list may be redrawn between two, e.g. for a read marker)
    weight, border = lead.page.evaluate(
        """() => {
            const m = document.querySelector(".msg.mentions-me");
            return [getComputedStyle(m.querySelector("mark")).fontWeight,
                    getComputedStyle(m).borderLeftWidth];
        }"""
    )
    assert (weight, border) == ("700", "5px")
    # The writer and the office see the name in bold, but not as a mention of them.
    for other in (worker, office):
        theirs = other.page.locator(".msg", has_text="kommt der Elektriker?")
        expect(theirs.locator("strong.mention")).to_have_text("@Lead mueller")
        expect(theirs).not_to_have_class(marked)
        expect(theirs.locator("mark, .mention-tag")).to_have_count(0)
    # @alle is everybody's mention, except the writer's.
    for person in (lead, office):
        everyone = person.page.locator(".msg", has_text="Baubesprechung")
        expect(everyone).to_have_class(marked)
        expect(everyone.locator("mark.mention")).to_have_text("@alle")
    expect(worker.page.locator(".msg.mentions-me")).to_have_count(0)
    lead.shot("chat-mention")
    # Drawn from the history the same way (a reload).
    lead.page.reload()
    expect(lead.page.locator(".msg.mentions-me")).to_have_count(2)
    expect(lead.page.locator(".msg.mentions-me mark")).to_have_text(["@Lead mueller", "@alle"])
    office.page.reload()
    expect(office.page.locator(".msg", has_text="Baubesprechung")).to_have_class(marked)
    expect(office.page.locator(".msg.mentions-me")).to_have_count(1)


def test_a_refused_message_says_why_and_gives_its_text_back(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    from zunft.projects.service import do_update_project

    project_id = project(ctx, biz)["id"]
    worker = people("worker")
    open_chat(worker, "Badsanierung Schmidt")
    # The office archives the project while the worker writes: the send is refused.
    ctx.write(
        lambda tx: do_update_project(tx, biz.actor("office"), project_id, {"status": "archived"})
    )
    box = worker.page.get_by_label("Nachricht schreiben")
    box.fill("Noch eine Frage zum Bad")
    box.press("Enter")
    refused = worker.page.locator(".msg.pending")
    expect(refused.locator(".state")).to_have_text("nicht gesendet")
    expect(refused.locator(".error")).to_have_text("Diese Unterhaltung kann nur gelesen werden.")
    worker.shot("refused")
    refused.get_by_role("button", name="Text zurückholen").click()
    expect(worker.page.locator(".msg.pending")).to_have_count(0)
    expect(box).to_have_value("Noch eine Frage zum Bad")
