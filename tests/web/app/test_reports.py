"""Problem reports (Meldungen) in the browser: a worker raises an urgent report from the
project chat, the responsible lead sees it arrive on the board live, acknowledges it and
moves it to erledigt while the worker watches; the board's filters; routing rules refuse a
loop with the server's words; axe on the board and a report's page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import expect

from tests.factories import Business
from tests.web.app.test_accessibility import serious
from tests.web.app.test_customers import PROJECT, make_project, shots
from zunft.context import AppContext
from zunft.hours.service import get_rules
from zunft.projects.service import do_create_project
from zunft.reports.service import do_add_routing_rule, do_create_report, do_set_status


def raise_report(
    ctx: AppContext, biz: Business, project_id: str, category: str, priority: str, text: str
) -> dict[str, Any]:
    return ctx.write(
        lambda tx: do_create_report(
            tx, biz.actor("worker"), project_id, category=category, priority=priority, text=text
        )
    )


def test_urgent_report_from_the_chat_to_done(
    people: Any, ctx: AppContext, biz: Business, tmp_path: Path
) -> None:
    make_project(ctx, biz)
    lead = people("lead")
    lead.page.goto("/#/reports")
    expect(lead.page.get_by_text("Keine Meldungen.")).to_be_visible()
    expect(lead.page.locator("html")).to_have_attribute("data-stream", "ready")

    worker = people("worker")
    wp = worker.page
    wp.goto("/")
    wp.get_by_role("link", name=PROJECT).first.click()
    wp.get_by_role("link", name="Meldung", exact=True).click()
    expect(wp.locator(".topbar .title")).to_have_text("Neue Meldung")
    wp.get_by_label("Kategorie").select_option(label="Mangel")
    wp.get_by_label("⚠ dringend").check()
    wp.get_by_label("Was ist los?").fill("Wasserschaden im Bad, Leitung tropft.")
    # A photo (the single-upload API) and the position (with the browser's permission).
    photo = tmp_path / "bad.png"
    Image.new("RGB", (64, 48), (40, 90, 160)).save(photo)
    wp.locator("#rep-photo").set_input_files(str(photo))
    expect(wp.locator(".report-form img.thumb")).to_have_count(1)
    worker.context.grant_permissions(["geolocation"])
    worker.context.set_geolocation({"latitude": 52.52, "longitude": 13.405})
    wp.get_by_role("button", name="Standort").click()
    expect(wp.locator("#rep-pos")).to_have_text("Standort: 52.52000, 13.40500")
    shots(worker, "report-new")
    wp.get_by_role("button", name="Meldung absenden").click()
    expect(wp.locator(".topbar .title")).to_have_text("Meldung #1")
    expect(wp.locator("#rep-status")).to_have_text("offen")
    expect(wp.locator("#rep-chain li.current")).to_contain_text("Lead mueller")
    expect(wp.get_by_role("link", name="Standort: 52.520000, 13.405000")).to_be_visible()
    thumb = wp.locator("#report img.thumb")
    assert thumb.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    expect(wp.locator("html")).to_have_attribute("data-stream", "ready")

    # The lead's board shows it live, urgent not by colour alone.
    card = lead.page.locator(".report-card", has_text="Wasserschaden")
    expect(card).to_contain_text("#1 · Mangel")
    expect(card.locator(".tag.urgent")).to_have_text("⚠ dringend")
    expect(lead.page.locator("#rep-counts")).to_contain_text("offen: 1")
    shots(lead, "report-board")
    card.click()
    expect(lead.page.locator(".topbar .title")).to_have_text("Meldung #1")
    lead.page.get_by_role("button", name="Annehmen").click()
    expect(lead.page.locator("#rep-status")).to_have_text("angenommen")
    expect(wp.locator("#rep-status")).to_have_text("angenommen")  # live at the reporter
    lead.page.get_by_role("button", name="In Arbeit").click()
    expect(lead.page.locator("#rep-status")).to_have_text("in Arbeit")
    lead.page.get_by_role("button", name="Erledigt").click()
    expect(lead.page.locator("#rep-status")).to_have_text("erledigt")
    expect(wp.locator("#rep-status")).to_have_text("erledigt")
    history = lead.page.locator("#rep-history li")
    expect(history).to_have_count(4)
    expect(history.last).to_contain_text("in Arbeit → erledigt (Ich)")
    shots(lead, "report-page")
    # Each change was posted into the project chat.
    wp.get_by_role("link", name="Zum Chat des Auftrags").click()
    expect(wp.locator(".msg", has_text="Meldung #1").last).to_contain_text("erledigt")
    # The reporter reopens it: it is open again, with the lead to acknowledge.
    wp.go_back()
    wp.get_by_role("button", name="Wieder öffnen").click()
    expect(wp.locator("#rep-status")).to_have_text("offen")
    expect(lead.page.locator("#rep-status")).to_have_text("offen")


def test_board_filters(people: Any, ctx: AppContext, biz: Business) -> None:
    project = make_project(ctx, biz)
    pid = project["id"]
    raise_report(ctx, biz, pid, "mangel", "dringend", "Fliese gesprungen")
    material = raise_report(ctx, biz, pid, "materialbedarf", "normal", "Silikon fehlt")
    raise_report(ctx, biz, pid, "sicherheit", "normal", "Gerüst wackelt")
    ctx.write(lambda tx: do_set_status(tx, biz.actor("lead"), material["id"], "erledigt"))
    office = people("office")
    page = office.page
    page.goto(f"/#/reports/{pid}")
    cards = page.locator("#rep-list .report-card")
    expect(cards).to_have_count(3)
    page.get_by_label("Priorität").select_option("dringend")
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Fliese gesprungen")
    page.get_by_label("Priorität").select_option("")
    page.get_by_label("Status").select_option("erledigt")
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Silikon fehlt")
    page.get_by_label("Status").select_option("open")
    expect(cards).to_have_count(2)
    page.get_by_label("Kategorie").select_option(label="Sicherheit")
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Gerüst wackelt")
    page.get_by_label("Kategorie").select_option("")
    page.get_by_label("Zuständig").select_option(label="Office mueller")
    expect(page.get_by_text("Keine Meldungen.")).to_be_visible()
    page.get_by_label("Zuständig").select_option(label="Lead mueller")
    expect(cards).to_have_count(2)
    shots(office, "report-board-filtered")
    assert serious(page) == []
    cards.first.click()
    expect(page.locator("#rep-chain")).to_be_visible()
    assert serious(page) == []


def test_routing_rules_refuse_a_loop(people: Any, ctx: AppContext, biz: Business) -> None:
    make_project(ctx, biz)
    office = people("office")
    page = office.page
    page.goto("/#/admin/routing")
    page.get_by_label("Neue Kategorie").fill("Elektrik")
    page.get_by_role("button", name="Kategorie anlegen").click()
    expect(page.locator("#own-categories")).to_contain_text("Elektrik")

    def rule(category: str, kind: str, target: str) -> None:
        page.get_by_label("Kategorie", exact=True).select_option(label=category)
        page.get_by_label("Geht an").select_option(label=kind)
        page.get_by_label("Ziel").select_option(label=target)
        page.get_by_role("button", name="Regel speichern").click()

    rule("Elektrik", "wie Kategorie", "Mangel")
    expect(page.locator("#rules")).to_contain_text("Elektrik → wie Mangel")
    rule("Mangel", "Person", "Lead mueller")
    expect(page.locator("#rules")).to_contain_text("Mangel → Lead mueller")
    rule("Mangel", "wie Kategorie", "Elektrik")
    alert = page.locator("#routing-msg")
    expect(alert).to_contain_text("im Kreis")
    expect(alert).to_contain_text("Mangel → Elektrik → Mangel")
    expect(page.locator("#rules li")).to_have_count(2)
    page.get_by_label("Meldungen annehmen binnen (Minuten)").fill("45")
    page.get_by_role("button", name="Speichern", exact=True).click()
    expect(page.get_by_text("Gespeichert.", exact=True)).to_be_visible()
    assert ctx.read(lambda rx: get_rules(rx, biz.tenant_id))["escalation_minutes"] == 45
    shots(office, "report-routing")
    assert serious(page) == []


def test_the_project_lead_overrides_routing_for_their_project(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    project = make_project(ctx, biz)
    elsewhere = ctx.write(
        lambda tx: do_create_project(
            tx,
            biz.actor("office"),
            name="Heizung Weber",
            lead_id=biz.users["lead"],
            member_ids=[biz.users["worker"]],
        )
    )
    # The business's rule (the office's): the lead sees it, but cannot change it there.
    ctx.write(
        lambda tx: do_add_routing_rule(
            tx, biz.actor("office"), category="sicherheit", target_kind="role", target="office"
        )
    )
    lead = people("lead")
    page = lead.page
    page.goto("/")
    # From the project chat: its customers screen, then the project's routing.
    page.get_by_role("link", name=PROJECT).first.click()
    page.get_by_role("link", name="Kunden").click()
    page.get_by_role("navigation", name="Dieser Auftrag").get_by_role(
        "link", name="Meldewege"
    ).click()
    expect(page.locator(".topbar .title")).to_have_text(f"Meldewege · {PROJECT}")
    expect(page.locator("#business-rules li")).to_have_count(1)
    expect(page.locator("#business-rules li")).to_contain_text("Sicherheit → Rolle: Büro")
    expect(page.locator("#business-rules button")).to_have_count(0)
    expect(page.locator("#project-rules")).to_contain_text("Keine eigenen Regeln")

    def rule(category: str, kind: str, target: str) -> None:
        page.get_by_label("Kategorie", exact=True).select_option(label=category)
        page.get_by_label("Geht an").select_option(label=kind)
        page.get_by_label("Ziel").select_option(label=target)
        page.get_by_role("button", name="Regel speichern").click()

    rule("Mangel", "Person", "Apprentice mueller")
    expect(page.locator("#project-rules li")).to_have_count(1)
    expect(page.locator("#project-rules li")).to_contain_text("Mangel → Apprentice mueller")

    # A new Mangel in this project goes to that person; in the lead's other project it does not.
    here = raise_report(ctx, biz, project["id"], "mangel", "normal", "Fliese gesprungen")
    there = raise_report(ctx, biz, elsewhere["id"], "mangel", "normal", "Heizkörper undicht")
    assert here["assignee_id"] == biz.users["apprentice"]
    assert there["assignee_id"] == biz.users["lead"]
    page.goto(f"/#/report/{here['id']}")
    expect(page.locator("#rep-chain li.current")).to_contain_text("Apprentice mueller")

    # A rule that would send reports round in a circle is refused, in German, with the circle.
    page.goto(f"/#/routing/{project['id']}")
    rule("Terminproblem", "wie Kategorie", "Mangel")
    expect(page.locator("#project-rules li")).to_have_count(2)
    rule("Mangel", "wie Kategorie", "Terminproblem")
    expect(page.locator("#routing-msg")).to_have_text(
        "Diese Regel würde Meldungen im Kreis schicken (Mangel → Terminproblem → Mangel) "
        "und ist nicht gespeichert."
    )
    expect(page.locator("#project-rules li")).to_have_count(2)
    shots(lead, "report-routing-project")
    assert serious(page) == []

    # Removed, the override no longer applies: the next Mangel goes to the lead again.
    page.get_by_role("button", name="Löschen: Mangel → Apprentice mueller").click()
    expect(page.locator("#project-rules li")).to_have_count(1)
    expect(page.locator("#project-rules li")).to_contain_text("Terminproblem → wie Mangel")
    again = raise_report(ctx, biz, project["id"], "mangel", "normal", "Noch eine Fliese")
    assert again["assignee_id"] == biz.users["lead"]


def test_only_the_lead_changes_a_projects_routing(
    people: Any, ctx: AppContext, biz: Business
) -> None:
    project = make_project(ctx, biz)
    worker = people("worker")
    page = worker.page
    page.goto(f"/#/reports/{project['id']}")
    expect(page.get_by_role("link", name="Meldung", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Dieser Auftrag")).to_have_count(0)
    page.goto(f"/#/routing/{project['id']}")
    expect(page.locator("#project-rules")).to_contain_text("Keine eigenen Regeln")
    expect(page.get_by_role("button", name="Regel speichern")).to_have_count(0)
