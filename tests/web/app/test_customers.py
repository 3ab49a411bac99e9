"""Customers in the browser (docs/customers.md, docs/webapp.md "Customers"): the office invites
a customer from the project, the customer opens the link in a browser of their own, consents,
writes; the office sees it live, in the open questions, and answers; the customer withdraws
and the office can no longer post. Declining, used and revoked links, a consent text changed
mid-flow, the consent text screen; axe on the customer's screens."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.factories import Business
from tests.realtime.live import Live
from tests.web.app.conftest import DESKTOP, PHONE, Person
from tests.web.app.test_accessibility import serious
from zunft.accounts.actor import Actor
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.customers.consent import do_publish_consent_text, get_current_consent
from zunft.customers.service import (
    do_accept_customer_invitation,
    do_create_customer_invitation,
    do_withdraw_consent,
)
from zunft.messages.service import do_send_message
from zunft.projects.service import do_create_project

PROJECT = "Badsanierung Schmidt"


def make_project(ctx: AppContext, biz: Business) -> dict[str, Any]:
    return ctx.write(
        lambda tx: do_create_project(
            tx,
            biz.actor("office"),
            name=PROJECT,
            address="Lindenstraße 4",
            lead_id=biz.users["lead"],
            member_ids=[biz.users["lead"], biz.users["worker"]],
        )
    )


def invite(ctx: AppContext, biz: Business, project_id: str, name: str = "Erika Zander") -> str:
    out = ctx.write(
        lambda tx: do_create_customer_invitation(
            tx, biz.actor("office"), project_id, name=name, email=None, days=7
        )
    )
    return str(out["token"])


def shots(person: Person, name: str) -> None:
    """The screen at phone and desktop size (test-artifacts/webapp/)."""
    before = person.page.viewport_size
    for size in (PHONE, DESKTOP):
        person.page.set_viewport_size(size)
        person.shot(name)
    person.page.set_viewport_size(before)


def open_link(person: Person, live: Live, token: str) -> None:
    # A fresh document each time (a link differing only in its fragment would not reload).
    person.page.goto("about:blank")
    person.page.goto(f"{live.origin}/kunde#{token}")


def test_invite_consent_chat_questions_and_withdrawal(
    people: Any, live: Live, ctx: AppContext, biz: Business, clock: FakeClock
) -> None:
    project = make_project(ctx, biz)
    office = people("office")
    page = office.page
    page.goto("/")
    page.get_by_role("link", name=PROJECT).first.click()
    page.get_by_role("link", name="Kunden").click()
    expect(page.locator(".topbar .title")).to_have_text(f"Kunden · {PROJECT}")
    # This server has no mail server: asking for e-mail is refused, nothing is made.
    page.get_by_label("Name des Kunden").fill("Erika Zander")
    page.get_by_label("E-Mail (freiwillig)").fill("erika@zander.example")
    page.get_by_label("Link per E-Mail senden").check()
    page.get_by_role("button", name="Einladung erstellen").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Dieser Server versendet keine E-Mails. Bitte Link oder QR-Code weitergeben."
    )
    expect(page.locator("#cust-invitations")).to_contain_text("Keine offenen Einladungen.")
    page.get_by_label("Link per E-Mail senden").uncheck()
    page.get_by_label("E-Mail (freiwillig)").fill("")
    page.get_by_role("button", name="Einladung erstellen").click()
    link = page.get_by_label("Link für den Kunden")
    expect(link).to_have_value(f"{live.origin}/kunde#" + link.input_value().split("#")[-1])
    assert "/kunde#" in link.input_value()
    # The QR code is an image from a blob: URL (no markup of the server's SVG in the page).
    qr = page.locator("#invite-qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    assert qr.get_attribute("src").startswith("blob:")
    expect(page.locator("#cust-invitations")).to_contain_text("Erika Zander")
    shots(office, "customer-invite")
    url = link.input_value()

    # The customer, in a browser of their own, without any login.
    customer = people("worker", login=False)
    cp = customer.page
    cp.goto(url)
    expect(cp.get_by_role("heading", name="Guten Tag, Erika Zander,")).to_be_visible()
    expect(cp.get_by_text(f"zu einem Chat über den Auftrag „{PROJECT}“")).to_be_visible()
    expect(cp.locator(".consent-text")).to_contain_text("Einwilligung")
    shots(customer, "customer-consent")
    cp.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    expect(cp.locator(".topbar .title")).to_have_text(PROJECT)
    assert "#" not in cp.url  # the spent token left the address bar
    # Their app: their chat only, no tabs, no staff navigation.
    expect(cp.locator(".tabs")).to_have_count(0)
    expect(cp.locator("html")).to_have_attribute("data-stream", "ready")
    cp.get_by_label("Nachricht schreiben").fill("Wann kommen Sie morgen?")
    cp.get_by_label("Nachricht schreiben").press("Enter")
    expect(cp.locator(".msg.mine .state")).to_have_text("gesendet")
    shots(customer, "customer-chat")

    # The office: the question is open (and overdue once the reply time has passed).
    page.goto("/#/admin/questions")
    question = page.locator("#questions .chat-item", has_text="Erika Zander")
    expect(question).to_contain_text(PROJECT)
    expect(question).to_contain_text("Antwort bis")
    clock.advance(days=3)
    page.reload()
    expect(question).to_contain_text("überfällig")
    shots(office, "customer-questions")
    question.click()
    expect(page.locator(".topbar .title")).to_have_text("Erika Zander")
    expect(page.locator(".msg", has_text="Wann kommen Sie morgen?")).to_contain_text("Erika Zander")
    expect(page.locator("html")).to_have_attribute("data-stream", "ready")
    page.get_by_label("Nachricht schreiben").fill("Um 8 Uhr sind wir da.")
    page.get_by_label("Nachricht schreiben").press("Enter")
    expect(cp.locator(".msg", has_text="Um 8 Uhr sind wir da.")).to_be_visible()
    # Live the other way too.
    cp.get_by_label("Nachricht schreiben").fill("Danke!")
    cp.get_by_label("Nachricht schreiben").press("Enter")
    expect(page.locator(".msg", has_text="Danke!")).to_be_visible()

    # A link for the customer's new phone opens the same account and chat (consent again).
    page.goto(f"/#/customers/{project['id']}")
    page.get_by_role("button", name="Link für neues Gerät: Erika Zander").click()
    device_url = page.get_by_label("Link für den Kunden").input_value()
    phone = people("worker", login=False)
    phone.page.goto(device_url)
    phone.page.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    expect(phone.page.locator(".msg", has_text="Um 8 Uhr sind wir da.")).to_be_visible()
    page.goto("/")
    page.get_by_role("link", name="Erika Zander").click()
    # The chat is open (once, in a full run, the office was still at the list here).
    expect(page.locator(".topbar .title")).to_have_text("Erika Zander")
    expect(page.locator("html")).to_have_attribute("data-stream", "ready")

    # The customer withdraws: access ends, the office sees it and cannot post.
    cp.get_by_role("button", name="Menü").click()
    expect(cp.get_by_text("Eingewilligt: Fassung 1")).to_be_visible()
    shots(customer, "customer-menu")
    cp.get_by_role("button", name="Einwilligung widerrufen").click()
    cp.get_by_role("button", name="Ja, widerrufen").click()
    expect(cp.get_by_role("heading", name="Einwilligung widerrufen")).to_be_visible()
    expect(page.locator("#withdrawn-note")).to_contain_text("Einwilligung widerrufen")
    expect(page.get_by_label("Nachricht schreiben")).to_be_disabled()
    # every button of the composer too (with nothing typed, send gives way to the microphone)
    for button in page.locator("form.composer button").all():
        expect(button).to_be_disabled()
    expect(page.locator("#attach-camera")).to_be_disabled()
    shots(office, "customer-chat-withdrawn")
    cp.reload()
    expect(cp.get_by_text("Dieses Gerät hat keinen Zugang (mehr).")).to_be_visible()
    # The other phone's session ended too: its stream closed and the page says so.
    expect(phone.page.get_by_text("Dieses Gerät hat keinen Zugang (mehr).")).to_be_visible()
    # The chat list and the project's customer list say so too; the used link opens nothing.
    page.goto("/")
    expect(page.locator(".chat-item", has_text="Erika Zander")).to_contain_text(
        "Einwilligung widerrufen"
    )
    page.goto(f"/#/customers/{project['id']}")
    expect(page.locator("#cust-list")).to_contain_text("Einwilligung widerrufen")
    other = people("worker", login=False)
    open_link(other, live, url.split("#")[1])
    expect(other.page.get_by_role("heading", name="Link ungültig")).to_be_visible()


def test_declined_and_revoked_links(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    project = make_project(ctx, biz)
    declined = invite(ctx, biz, project["id"], "Karl Berger")
    revoked = invite(ctx, biz, project["id"], "Jana Roth")
    customer = people("worker", login=False)
    cp = customer.page
    open_link(customer, live, declined)
    cp.get_by_role("button", name="Nein, danke").click()
    expect(cp.get_by_role("heading", name="Wirklich ablehnen?")).to_be_visible()
    cp.get_by_role("button", name="Ja, ablehnen").click()
    expect(cp.get_by_role("heading", name="Schade – alles klar.")).to_be_visible()
    shots(customer, "customer-declined")
    open_link(customer, live, declined)
    expect(cp.get_by_role("heading", name="Link ungültig")).to_be_visible()
    expect(cp.get_by_role("alert")).to_contain_text("schon benutzt, ist abgelaufen")
    shots(customer, "customer-link-invalid")

    office = people("office")
    office.page.goto(f"/#/customers/{project['id']}")
    row = office.page.locator("#cust-invitations li", has_text="Jana Roth")
    expect(office.page.locator("#cust-invitations")).not_to_contain_text("Karl Berger")
    row.get_by_role("button", name="Zurückziehen").click()
    expect(office.page.get_by_text("Einladung zurückgezogen.")).to_be_visible()
    expect(row).to_have_count(0)
    open_link(customer, live, revoked)
    expect(cp.get_by_role("heading", name="Link ungültig")).to_be_visible()


def test_consent_text_changed_while_the_customer_reads_it(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    project = make_project(ctx, biz)
    token = invite(ctx, biz, project["id"])
    customer = people("worker", login=False)
    cp = customer.page
    open_link(customer, live, token)
    expect(cp.get_by_text("Fassung 1")).to_be_visible()

    # Meanwhile the owner publishes a new version on the consent screen.
    owner = people("owner")
    owner.page.goto("/#/admin/consent")
    area = owner.page.get_by_label("Text der Einwilligung")
    expect(area).to_have_value(get_current_consent_text(ctx, biz))
    area.fill(area.input_value() + "\n\nNeu: Fotos der Baustelle sehen nur die Beteiligten.")
    owner.page.get_by_role("button", name="Als neue Fassung veröffentlichen").click()
    expect(owner.page.get_by_text("Fassung 2 ist veröffentlicht.")).to_be_visible()
    expect(owner.page.locator("#consent-versions summary")).to_have_count(2)
    shots(owner, "consent-text")

    # The customer accepts what they read (version 1): they are shown version 2 instead.
    cp.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    expect(cp.get_by_text("Der Text wurde gerade geändert.")).to_be_visible()
    expect(cp.get_by_text("Fassung 2")).to_be_visible()
    expect(cp.locator(".consent-text")).to_contain_text("Neu: Fotos der Baustelle")
    cp.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    expect(cp.locator(".topbar .title")).to_have_text(PROJECT)
    expect(cp.locator("html")).to_have_attribute("data-stream", "ready")

    # A third version while they are in the chat: their next message is refused, and the
    # new text is shown to accept before anything else.
    current = ctx.read(lambda rx: get_current_consent(rx, biz.tenant_id))["text"]
    ctx.write(lambda tx: do_publish_consent_text(tx, biz.actor("owner"), current + "\n\nDritte."))
    cp.get_by_label("Nachricht schreiben").fill("Hallo?")
    cp.get_by_label("Nachricht schreiben").press("Enter")
    expect(cp.get_by_role("heading", name="Neue Fassung der Einwilligung")).to_be_visible()
    expect(cp.locator(".consent-text")).to_contain_text("Dritte.")
    shots(customer, "customer-reconsent")
    cp.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    expect(cp.locator(".topbar .title")).to_have_text(PROJECT)


def get_current_consent_text(ctx: AppContext, biz: Business) -> str:
    return str(ctx.read(lambda rx: get_current_consent(rx, biz.tenant_id))["text"])


def test_customer_screens_have_no_serious_violations(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    project = make_project(ctx, biz)
    customer = people("worker", login=False)
    cp = customer.page
    open_link(customer, live, invite(ctx, biz, project["id"]))
    expect(cp.locator(".consent-text")).to_be_visible()
    assert serious(cp) == []
    cp.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    expect(cp.locator("html")).to_have_attribute("data-stream", "ready")
    cp.get_by_label("Nachricht schreiben").fill("Guten Tag!")
    cp.get_by_label("Nachricht schreiben").press("Enter")
    expect(cp.locator(".msg.mine .state")).to_have_text("gesendet")
    assert serious(cp) == []
    cp.get_by_role("button", name="Menü").click()
    expect(cp.get_by_role("button", name="Einwilligung widerrufen")).to_be_visible()
    assert serious(cp) == []
    open_link(customer, live, "x" * 43)
    expect(cp.get_by_role("heading", name="Link ungültig")).to_be_visible()
    assert serious(cp) == []
    office = people("office")
    office.page.goto(f"/#/customers/{project['id']}")
    expect(office.page.locator("#cust-list")).to_contain_text("Erika Zander")
    assert serious(office.page) == []


def accept(ctx: AppContext, biz: Business, token: str) -> tuple[Actor, str]:
    """The customer accepts the link outside the browser (the current consent text): their
    actor and the customer chat."""
    consent = ctx.read(lambda rx: get_current_consent(rx, biz.tenant_id))
    actor, chat_id, _session = ctx.write(
        lambda tx: do_accept_customer_invitation(
            tx,
            token=token,
            consent_version=consent["version"],
            consent_sha256=consent["sha256"],
            device_name="Telefon",
            kind="bearer",
            days=30,
        )
    )
    return actor, chat_id


def test_a_known_customer_is_invited_to_a_further_project(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    def project(name: str) -> dict[str, Any]:
        return ctx.write(
            lambda tx: do_create_project(
                tx, biz.actor("office"), name=name, lead_id=biz.users["lead"], member_ids=[]
            )
        )

    first, second, third = (
        make_project(ctx, biz),
        project("Dachgaube Schmidt"),
        project("Heizung Weber"),
    )
    # Erika says yes to the first project in her browser; the third project has two customers
    # of its own, one of whom withdrew (never offered again).
    customer = people("worker", login=False)
    cp = customer.page
    open_link(customer, live, invite(ctx, biz, first["id"]))
    cp.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    expect(cp.locator(".topbar .title")).to_have_text(PROJECT)
    erika = cp.request.get("/api/v1/customer/me").json()["id"]
    accept(ctx, biz, invite(ctx, biz, third["id"], "Karl Berger"))
    jana, _ = accept(ctx, biz, invite(ctx, biz, third["id"], "Jana Roth"))
    ctx.write(lambda tx: do_withdraw_consent(tx, jana))

    office = people("office")
    page = office.page
    page.goto(f"/#/customers/{second['id']}")
    expect(page.locator(".topbar .title")).to_have_text("Kunden · Dachgaube Schmidt")
    page.get_by_label("Bekannten Kunden aus einem anderen Auftrag").check()
    expect(page.get_by_label("Name des Kunden")).to_be_hidden()
    picker = page.get_by_label("Kunde", exact=True)
    expect(picker.locator("option")).to_have_text(
        ["Erika Zander (Badsanierung Schmidt)", "Karl Berger (Heizung Weber)"]
    )
    picker.select_option(label="Erika Zander (Badsanierung Schmidt)")
    shots(office, "customer-invite-known")
    assert serious(page) == []
    page.get_by_role("button", name="Einladung erstellen").click()
    expect(page.get_by_role("heading", name="Einladung für Erika Zander")).to_be_visible()
    expect(page.locator("#cust-invitations")).to_contain_text("Erika Zander")
    url = page.get_by_label("Link für den Kunden").input_value()

    # The same person opens it: her name, the new project; accepting adds its chat.
    open_link(customer, live, url.split("#")[1])
    expect(cp.get_by_role("heading", name="Guten Tag, Erika Zander,")).to_be_visible()
    expect(cp.get_by_text("zu einem Chat über den Auftrag „Dachgaube Schmidt“")).to_be_visible()
    cp.get_by_role("button", name="Einverstanden – weiter zum Chat").click()
    # Both her chats, and nothing else: no other project, no other customer, no tabs.
    chats = cp.locator("#cust-chats-list button")
    expect(chats).to_have_text(["Badsanierung Schmidt", "Dachgaube Schmidt"])
    expect(cp.locator(".tabs")).to_have_count(0)
    shots(customer, "customer-two-chats")
    me = cp.request.get("/api/v1/customer/me").json()
    assert me["id"] == erika  # the same account
    assert sorted(c["project_name"] for c in me["chats"]) == [PROJECT, "Dachgaube Schmidt"]
    chats.get_by_text("Dachgaube Schmidt").click()
    expect(cp.locator(".topbar .title")).to_have_text("Dachgaube Schmidt")
    expect(cp.locator("html")).to_have_attribute("data-stream", "ready")
    cp.get_by_label("Nachricht schreiben").fill("Wann wird das Dach gedeckt?")
    cp.get_by_label("Nachricht schreiben").press("Enter")
    expect(cp.locator(".msg.mine .state")).to_have_text("gesendet")
    cp.get_by_role("button", name="Alle Ihre Chats").click()
    chats.get_by_text(PROJECT).click()
    expect(cp.locator(".topbar .title")).to_have_text(PROJECT)
    expect(cp.locator(".msg")).to_have_count(0)  # the other chat's message stays there

    # The office: Erika is a customer of this project now, so no longer offered here.
    page.reload()
    expect(page.locator("#cust-list")).to_contain_text("Erika Zander")
    expect(page.locator("#cust-known option")).to_have_text(["Karl Berger (Heizung Weber)"])


def test_the_project_lead_sees_the_open_questions_of_their_customer_chats(
    people: Any, live: Live, ctx: AppContext, biz: Business, clock: FakeClock
) -> None:
    def project(name: str, lead: str | None) -> dict[str, Any]:
        return ctx.write(
            lambda tx: do_create_project(tx, biz.actor("office"), name=name, lead_id=lead)
        )

    first = make_project(ctx, biz)  # led by the lead
    second = project("Dachgaube Schmidt", biz.users["lead"])
    other = project("Heizung Weber", None)  # no lead: its customer chat is not the lead's
    for p, name, text in (
        (first, "Erika Zander", "Wann kommen Sie morgen?"),
        (second, "Jana Roth", "Ist das Dach dicht?"),
        (other, "Karl Berger", "Wer ruft mich zurück?"),
    ):
        customer, chat_id = accept(ctx, biz, invite(ctx, biz, p["id"], name))
        clock.advance(minutes=1)  # oldest first: one after the other
        ctx.write(
            lambda tx, customer=customer, chat_id=chat_id, text=text: do_send_message(
                tx, customer, chat_id, text=text
            )
        )

    lead = people("lead")
    page = lead.page
    page.goto("/")
    page.get_by_role("link", name=PROJECT).first.click()
    page.get_by_role("link", name="Kunden").click()
    # This project's question on its customers screen.
    questions = page.locator("#project-questions .chat-item")
    expect(questions).to_have_count(1)
    expect(questions).to_contain_text("Erika Zander · Badsanierung Schmidt")
    expect(questions).to_contain_text("Wann kommen Sie morgen?")
    expect(questions).to_contain_text("Antwort bis")
    shots(lead, "customer-project-questions")
    # All of the lead's: their two projects, not the one they have no part in.
    page.get_by_role("link", name="Alle offenen Kundenfragen").click()
    expect(page.locator(".topbar .title")).to_have_text("Kundenfragen")
    mine = page.locator("#questions .chat-item")
    expect(mine).to_have_count(2)
    expect(mine.nth(0)).to_contain_text("Erika Zander · Badsanierung Schmidt")
    expect(mine.nth(1)).to_contain_text("Jana Roth · Dachgaube Schmidt")
    assert serious(page) == []
    # Answered from there, the question is gone.
    mine.nth(1).click()
    expect(page.locator(".topbar .title")).to_have_text("Jana Roth")
    expect(page.locator("html")).to_have_attribute("data-stream", "ready")
    page.get_by_label("Nachricht schreiben").fill("Ja, seit gestern.")
    page.get_by_label("Nachricht schreiben").press("Enter")
    expect(page.locator(".msg.mine .state")).to_have_text("gesendet")
    page.goto("/#/questions")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Erika Zander")
