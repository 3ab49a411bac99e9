"""The screens around the chats: second factor at login, my devices (log out the others, who
see the login screen at once), language switch, search, profile, and for owner and office the
staff and project screens. Screenshots of each at phone and desktop size."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyotp
from playwright.sync_api import expect

from tests.factories import PASSWORD, Business
from tests.realtime.live import Live
from tests.web.app.conftest import DESKTOP, PHONE
from tests.web.app.test_chat import project
from zunft.accounts.totp import do_begin_totp_setup, do_confirm_totp
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.hours.service import get_working_hours
from zunft.messages.service import do_send_message


def test_login_with_second_factor(
    people: Any, ctx: AppContext, biz: Business, clock: FakeClock
) -> None:
    actor = biz.actor("lead")
    secret = ctx.write(lambda tx: do_begin_totp_setup(tx, actor))["secret"]
    totp = pyotp.TOTP(secret)

    def code() -> str:
        return str(totp.at(clock.now()))

    now: datetime = clock.now()
    ctx.write(lambda tx: do_confirm_totp(tx, actor, code(), now))
    clock.advance(seconds=60)  # a code is used once: the login takes the next one

    lead = people("lead", login=False)
    page = lead.page
    page.goto("/")
    page.get_by_label("Betrieb (Kurzname)").fill(biz.slug)
    page.get_by_label("E-Mail").fill(biz.emails["lead"])
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_text("Ihr Konto ist mit einem zweiten Faktor geschützt.")).to_be_visible()
    lead.shot("login-totp")
    page.get_by_label("Code aus der Authenticator-App").fill("000000")
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Der Code stimmt nicht. Bitte den aktuellen Code eingeben."
    )
    page.get_by_label("Code aus der Authenticator-App").fill(code())
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_role("link", name="Allgemein")).to_be_visible()


def test_second_factor_set_up_when_the_business_requires_it(
    people: Any, ctx: AppContext, biz: Business, clock: FakeClock
) -> None:
    from zunft.tenants.service import do_update_tenant_settings

    owner = biz.actor("owner")
    secret = ctx.write(lambda tx: do_begin_totp_setup(tx, owner))["secret"]
    now: datetime = clock.now()
    ctx.write(lambda tx: do_confirm_totp(tx, owner, pyotp.TOTP(secret).at(now), now))
    ctx.write(lambda tx: do_update_tenant_settings(tx, owner, require_totp_admins=True))

    office = people("office")  # logged in with a password only: set-up comes first
    page = office.page
    page.goto("/")
    expect(
        page.get_by_text("Ihr Betrieb verlangt für Inhaber und Büro einen zweiten Faktor.")
    ).to_be_visible()
    shown = page.locator("#totp-secret").inner_text()
    office.shot("totp-setup")
    page.get_by_label("Code aus der Authenticator-App").fill("123456")
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Der Code stimmt nicht. Bitte den aktuellen Code eingeben."
    )
    code = pyotp.TOTP(shown.replace(" ", "")).at(clock.now())
    page.get_by_label("Code aus der Authenticator-App").fill(code)
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_role("link", name="Allgemein")).to_be_visible()
    page.goto("/#/profile")
    expect(page.get_by_text("Zweiter Faktor: eingerichtet")).to_be_visible()


def test_log_out_other_devices(people: Any, biz: Business) -> None:
    phone = people("worker")
    desk = people("worker", viewport=DESKTOP)
    desk.page.goto("/")
    expect(desk.page.get_by_role("link", name="Allgemein")).to_be_visible()
    phone.page.goto("/#/devices")
    sessions = phone.page.locator("#sessions li")
    expect(sessions).to_have_count(2)
    expect(sessions.filter(has_text="dieses Gerät")).to_have_count(1)
    phone.shot("devices")
    phone.page.get_by_role("button", name="Alle anderen Geräte abmelden").click()
    expect(phone.page.get_by_role("status").last).to_have_text("1 Gerät(e) abgemeldet.")
    expect(sessions).to_have_count(1)
    # The other device's stream is closed with 4001: it shows the login screen by itself.
    expect(desk.page.get_by_role("button", name="Anmelden")).to_be_visible()


def test_language_switch_profile_and_search(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    live.send(biz.actor("lead"), chat_id, "Die Heizkörper werden am Dienstag montiert.")
    worker = people("worker")
    page = worker.page
    page.goto("/#/search")
    page.get_by_label("Suchbegriff").fill("Heizkörper")
    page.get_by_role("button", name="Suchen").click()
    hit = page.locator(".result")
    expect(hit).to_have_count(1)
    expect(hit.locator(".chat-preview")).to_have_text(
        "Lead mueller: Die Heizkörper werden am Dienstag montiert."
    )
    worker.shot("search")
    hit.click()
    expect(page.locator(".topbar .title")).to_have_text("Badsanierung Schmidt")

    page.goto("/#/profile")
    page.get_by_label("Telefon").fill("+49 170 1234567")
    page.locator("form.profile").get_by_role("button", name="Speichern").click()
    expect(page.locator("#profile-msg")).to_have_text("Gespeichert.")
    # Working hours: the business's apply until the worker sets their own.
    expect(page.get_by_text("Es gelten die Zeiten des Betriebs.")).to_be_visible()  # loaded
    monday = page.get_by_label("Montag")
    monday.fill("07:00–12:00, 12:30–16:00")
    page.get_by_label("Samstag").fill("")
    page.locator("form.hours").get_by_role("button", name="Speichern").click()
    expect(page.locator("#hours-msg")).to_have_text("Gespeichert.")
    hours = ctx.read(lambda rx: get_working_hours(rx, biz.actor("worker"), biz.users["worker"]))
    assert hours["own"] is True
    assert hours["hours"]["mo"] == [["07:00", "12:00"], ["12:30", "16:00"]]
    assert hours["hours"]["sa"] == []
    monday.fill("7 Uhr")
    page.locator("form.hours").get_by_role("button", name="Speichern").click()
    expect(page.locator("#hours-msg")).to_have_text("Bitte Zeiten als 07:00–16:00 angeben.")
    worker.shot("profile")
    page.get_by_role("button", name="English").click()
    expect(page.locator("form.profile").get_by_role("button", name="Save")).to_be_visible()
    expect(page.get_by_role("link", name="My devices")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.reload()
    expect(page.get_by_role("button", name="Deutsch")).to_be_visible()
    worker.shot("profile-en")
    page.get_by_role("button", name="Deutsch").click()
    expect(page.locator("form.profile").get_by_role("button", name="Speichern")).to_be_visible()


def test_a_search_hit_opens_the_chat_at_that_message(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    lead = biz.actor("lead")
    long_text = (
        "Die Heizkörper im Obergeschoss werden am Dienstag montiert, die Thermostatköpfe "
        "bringt der Großhändler am Montag; bitte vorher die Wände im Bad verputzen."
    )
    live.send(lead, chat_id, long_text)
    # 250 later messages: the hit lies beyond the first page and the rendered window.
    live.ctx.write(
        lambda tx: [
            do_send_message(tx, lead, chat_id, text=f"Später Nummer {n}") for n in range(250)
        ]
    )
    worker = people("worker")
    page = worker.page
    page.goto("/#/search")
    page.get_by_label("Suchbegriff").fill("Thermostatkopf")
    page.get_by_role("button", name="Suchen").click()
    hit = page.locator(".result")
    expect(hit).to_have_count(1)
    # The hit's text wraps inside its card instead of running out of it.
    card, preview = hit.bounding_box(), hit.locator(".chat-preview").bounding_box()
    assert card is not None
    assert preview is not None
    assert preview["x"] + preview["width"] <= card["x"] + card["width"]
    worker.shot("search-hit")
    hit.click()
    marked = page.locator(".msg.hit")
    expect(marked).to_have_count(1)
    expect(marked.locator(".text")).to_have_text(long_text)
    expect(marked).to_be_in_viewport()
    expect(page.locator(".msg", has_text="Später Nummer 249")).to_have_count(0)  # not at the end
    worker.shot("search-hit-opened")
    # Scrolling on towards the present brings the later messages, a window at a time.
    last_seq = "() => Number([...document.querySelectorAll('.msg')].pop().dataset.seq)"
    for _ in range(30):
        if page.locator(".msg", has_text="Später Nummer 249").count():
            break
        before = page.evaluate(last_seq)
        page.locator(".scroller").evaluate("s => { s.scrollTop = s.scrollHeight; }")
        page.wait_for_function(f"() => ({last_seq})() > {before}")
    expect(page.locator(".msg", has_text="Später Nummer 249")).to_be_visible()


def test_office_manages_staff_and_projects(people: Any, ctx: AppContext, biz: Business) -> None:
    office = people("office", viewport=DESKTOP)
    page = office.page
    page.goto("/#/admin/users")
    row = page.locator(".device", has_text="Apprentice mueller")
    expect(row).to_be_visible()
    row.get_by_role("button", name="Sperren").click()
    expect(page.locator(".device.disabled", has_text="Apprentice mueller")).to_be_visible()
    page.locator(".device", has_text="Worker mueller").get_by_role("combobox").select_option("lead")
    expect(page.get_by_role("status").first).to_have_text("Gespeichert.")
    office.shot("admin-users")

    # An invitation link: the new colleague opens it in their own browser and joins.
    page.goto("/#/admin/users")
    page.get_by_label("Rolle").first.select_option("worker")
    page.get_by_role("button", name="Einladung erstellen").click()
    url = page.locator("#invite-url").inner_text()
    assert url.startswith(office.page.url.split("#")[0] + "#/invite/")
    newcomer = people("worker", login=False)
    newcomer.page.goto(url)
    welcome = "Müller Haustechnik GmbH lädt Sie ein – Rolle: Monteur."
    expect(newcomer.page.get_by_text(welcome)).to_be_visible()
    newcomer.page.get_by_label("Name").fill("Jana Neu")
    newcomer.page.get_by_label("E-Mail").fill("jana@mueller.example")
    newcomer.page.get_by_label("Passwort").fill("kurz")
    newcomer.page.get_by_role("button", name="Konto anlegen").click()
    expect(newcomer.page.get_by_role("alert")).to_contain_text("zu kurz")
    newcomer.page.get_by_label("Passwort").fill("Bohrhammer-Winkel-2026")
    newcomer.page.get_by_role("button", name="Konto anlegen").click()
    expect(newcomer.page.get_by_role("link", name="Allgemein")).to_be_visible()
    page.reload()
    expect(page.locator(".device", has_text="Jana Neu")).to_be_visible()

    page.goto("/#/admin/projects")
    page.get_by_label("Name des Auftrags").fill("Dachrinne Becker")
    page.get_by_label("Adresse der Baustelle").fill("Am Markt 1")
    page.get_by_role("button", name="Auftrag anlegen").click()
    card = page.locator(".project", has_text="Dachrinne Becker")
    expect(card.locator(".chip")).to_have_text("aktiv")
    card.get_by_role("button", name="Abschließen").click()
    expect(card.locator(".chip")).to_have_text("abgeschlossen")
    office.shot("admin-projects")
    page.goto("/")
    expect(page.locator(".group-title", has_text="Dachrinne Becker")).to_have_text(
        "Dachrinne Becker · abgeschlossen"
    )


def test_screens_at_phone_and_desktop_size(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    for i in range(12):
        live.send(biz.actor("lead" if i % 2 else "worker"), chat_id, f"Nachricht {i + 1}")
    for size in (PHONE, DESKTOP):
        owner = people("owner", viewport=size)
        page = owner.page
        for name, url in [("list", "/"), ("search", "/#/search"), ("devices", "/#/devices")]:
            page.goto(url)
            expect(page.locator(".topbar .title")).not_to_be_empty()
            owner.shot(f"owner-{name}")
        page.goto("/")
        page.get_by_role("link", name="Badsanierung Schmidt").click()
        expect(page.locator(".msg")).to_have_count(12)
        owner.shot("owner-chat")
        # Every button and link of the chat view is a large enough target.
        small = page.evaluate(
            """() => [...document.querySelectorAll('button, a, input, textarea, select')]
                .filter(e => e.offsetParent !== null)
                .map(e => [e.textContent.trim() || e.getAttribute('aria-label'),
                           e.getBoundingClientRect()])
                .filter(([, r]) => r.width < 44 || r.height < 44)
                .map(([n, r]) => `${n} ${r.width}x${r.height}`)"""
        )
        assert small == []
