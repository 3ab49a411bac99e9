"""The compliance screen (retention rules, legal holds, GDPR requests, audit log), classifying
a message from the chat view, and an erased message in the history."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.factories import Business, general_chat
from tests.retention.helpers import move_to
from tests.web.app.conftest import DESKTOP
from tests.web.app.test_accessibility import serious
from tests.web.app.test_chat import open_chat, project
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.due import run_due
from zunft.messages.service import do_send_message
from zunft.retention.classify import get_document_class
from zunft.retention.holds import get_holds
from zunft.retention.rules import get_retention_years


def test_owner_sets_a_rule_a_hold_answers_an_erasure_and_reads_the_log(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    made = project(ctx, biz, name="Dach Meier")
    owner = people("owner", viewport=DESKTOP)
    page = owner.page
    page.goto("/#/admin/compliance")
    expect(page.get_by_role("heading", name="Aufbewahrung", exact=True)).to_be_visible()
    expect(page.locator("#audit-list li").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert serious(page) == []  # axe-core: no serious or critical violation
    page.get_by_label("Intern").fill("3")
    page.locator("#years-intern ~ button").click()
    expect(page.locator("#cmp-status")).to_have_text("Gespeichert.")
    assert ctx.read(lambda rx: get_retention_years(rx, biz.tenant_id))["intern"] == 3
    page.get_by_label("Geschäftsbrief").fill("5")
    page.locator("#years-geschaeftsbrief ~ button").click()
    expect(page.locator("#cmp-status")).to_contain_text("das Gesetz verlangt mehr")

    page.get_by_label("Für", exact=True).select_option(f"project:{made['id']}")
    page.get_by_label("Grund (z. B. Aktenzeichen)").fill("Az 4 O 17/26")
    page.get_by_role("button", name="Sperrvermerk setzen").click()
    expect(page.locator("#hold-list")).to_contain_text("Auftrag: Dach Meier")
    [hold] = ctx.read(lambda rx: get_holds(rx, biz.actor("owner")))
    assert hold["reason"] == "Az 4 O 17/26"

    page.get_by_label("Person").select_option(biz.users["apprentice"])
    erase = page.get_by_role("button", name="Löschung beantragen")
    erase.click()
    page.get_by_role("button", name="Wirklich löschen? Nochmals tippen").click()
    expect(page.locator("#gdpr-answer")).to_contain_text("Ihr Antrag auf Löschung")
    expect(page.locator("#gdpr-requests")).to_contain_text("Löschung")
    owner.shot("compliance")

    page.get_by_role("button", name="Filtern").click()  # reload: newest first
    expect(page.locator("#audit-list li").first).to_contain_text("gdpr.erasure_requested")
    expect(page.locator("#audit-list")).to_contain_text("legal_hold.set")
    page.get_by_label("Art", exact=True).fill("retention.rule_changed")
    page.get_by_role("button", name="Filtern").click()
    expect(page.locator("#audit-list li")).to_have_count(1)


def test_office_classifies_a_message_and_an_erased_one_says_so(
    people: Any, ctx: AppContext, biz: Business, clock: FakeClock
) -> None:
    chat = general_chat(ctx, biz)
    old = ctx.write(lambda tx: do_send_message(tx, biz.actor("worker"), chat, text="Grillen?"))
    move_to(clock, 2028, 1, 2)
    run_due(ctx)
    fresh = ctx.write(
        lambda tx: do_send_message(tx, biz.actor("worker"), chat, text="Lieferschein Fliesen")
    )
    office = people("office")
    page = office.page
    open_chat(office, "Allgemein")
    expect(page.locator(f'[data-id="{old["id"]}"] .text')).to_have_text(
        "Gelöscht (Aufbewahrungsfrist abgelaufen)"
    )
    page.locator(f'[data-id="{fresh["id"]}"]').click()
    page.get_by_role("button", name="Dokumentklasse").click()
    page.get_by_label("Dokumentklasse").select_option("buchungsbeleg")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_text("Gespeichert.")).to_be_visible()
    office.shot("classify")
    assert ctx.read(lambda rx: get_document_class(rx, biz.tenant_id, fresh["id"])) == (
        "buchungsbeleg"
    )
