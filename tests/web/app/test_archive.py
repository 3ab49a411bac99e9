"""The archive screen: the office starts an export (of the business, or of one chat, limited
to document classes), watches it run, and downloads a ZIP that verifies offline and holds
what was asked for."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.factories import Business, general_chat
from tests.web.app.conftest import DESKTOP, PHONE, Person
from tests.web.app.test_accessibility import serious
from tests.web.app.test_chat import project
from zunft.archive.verify_export import verify_export
from zunft.context import AppContext
from zunft.messages.service import do_send_message
from zunft.retention.classify import do_reclassify_message


def test_office_exports_the_archive_and_downloads_it(
    people: Any, ctx: AppContext, biz: Business, tmp_path: Path
) -> None:
    office = people("office", viewport=DESKTOP)
    page = office.page
    page.goto("/#/admin/archive")
    expect(page.get_by_role("heading", name="Archiv exportieren")).to_be_visible()
    expect(page.get_by_text("Noch keine Exporte.")).to_be_visible()
    page.get_by_label("Von (Tag)").fill("2020-01-01")
    page.get_by_role("button", name="Export starten").click()
    done = page.locator("#export-list li[data-state=done]")
    expect(done).to_have_count(1)
    expect(done).to_contain_text("Ganzer Betrieb")
    expect(done).to_contain_text("fertig")
    office.shot("archive-export")
    with page.expect_download() as info:
        done.get_by_role("link", name="ZIP herunterladen").click()
    path = tmp_path / "export.zip"
    info.value.save_as(path)
    check = verify_export(path)
    assert check.ok, check.problems


def test_a_worker_has_no_archive_screen(people: Any) -> None:
    worker = people("worker")
    page = worker.page
    page.goto("/")
    expect(page.get_by_role("link", name="Allgemein")).to_be_visible()
    expect(page.get_by_role("link", name="Verwaltung")).to_have_count(0)


def test_office_downloads_the_documents_for_the_tax_adviser(people: Any, tmp_path: Path) -> None:
    import io

    from pypdf import PdfReader

    office = people("office", viewport=DESKTOP)
    page = office.page
    page.goto("/#/admin/archive")
    docs = page.locator("#documents")
    expect(docs.get_by_role("heading", name="Unterlagen")).to_be_visible()
    with page.expect_download() as info:
        docs.get_by_role("link", name="Verfahrensdokumentation (GoBD)").click()
    assert info.value.suggested_filename == "Verfahrensdokumentation.pdf"
    path = tmp_path / "vd.pdf"
    info.value.save_as(path)
    text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(path.read_bytes())).pages)
    assert "Müller Haustechnik GmbH" in text


def _send(ctx: AppContext, biz: Business, chat_id: str, text: str) -> str:
    actor = biz.actor("lead")
    return str(ctx.write(lambda tx: do_send_message(tx, actor, chat_id, text=text))["id"])


def _start(page: Any) -> dict[str, Any]:
    """Click "Export starten"; the body of the request it sent."""
    with page.expect_request(
        lambda r: r.url.endswith("/api/v1/archive/exports") and r.method == "POST"
    ) as sent:
        page.get_by_role("button", name="Export starten").click()
    body: dict[str, Any] = sent.value.post_data_json
    return body


def _download(person: Person, job: Any, path: Path) -> dict[str, Any]:
    """The finished job's ZIP: its manifest's scope and the ids in its tables."""
    with person.page.expect_download() as info:
        job.get_by_role("link", name="ZIP herunterladen").click()
    info.value.save_as(path)
    assert verify_export(path).ok
    with zipfile.ZipFile(path) as zf:

        def ids(table: str, column: str) -> set[str]:
            text = zf.read(f"tabellen/{table}.csv").decode("utf-8")
            rows = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
            return {row[column] for row in rows}

        return {
            "scope": json.loads(zf.read("manifest.json"))["scope"],
            "chats": ids("unterhaltungen", "unterhaltung_id"),
            "messages": ids("nachrichten", "nachricht_id"),
        }


def test_office_exports_one_chat_and_only_the_vouchers(
    people: Any, ctx: AppContext, biz: Business, tmp_path: Path
) -> None:
    bath = project(ctx, biz, "Badsanierung Schmidt")
    roof = project(ctx, biz, "Dachausbau Weber")
    bath_ids = {_send(ctx, biz, bath["chat_id"], f"Bad {i}") for i in range(3)}
    roof_ids = {_send(ctx, biz, roof["chat_id"], f"Dach {i}") for i in range(2)}
    _send(ctx, biz, general_chat(ctx, biz), "Grillfest am Freitag")
    # One message of the roof is an accounting voucher (the office reclassified it).
    voucher = next(iter(roof_ids))
    ctx.write(lambda tx: do_reclassify_message(tx, biz.actor("office"), voucher, "buchungsbeleg"))
    office = people("office", viewport=DESKTOP)
    page = office.page
    page.goto("/#/admin/archive")
    expect(page.get_by_role("heading", name="Archiv exportieren")).to_be_visible()
    pickers = {
        scope: page.get_by_label(label)
        for scope, label in {
            "project": "Welcher Auftrag",
            "chat": "Welcher Chat",
            "customer": "Welcher Kunde",
            "person": "Welche Person (Mitarbeiter oder Kunde)",
        }.items()
    }
    for picker in pickers.values():  # the whole business: nothing to pick
        expect(picker).to_be_hidden()

    # One chat: only its picker is shown, and it offers no direct chat.
    page.get_by_label("Umfang").select_option(label="Chat")
    for scope, picker in pickers.items():
        if scope == "chat":
            expect(picker).to_be_enabled()
        else:
            expect(picker).to_be_hidden()
    pickers["chat"].select_option(label="Dachausbau Weber")
    office.shot("archive-chat-scope")
    assert serious(page) == []
    assert _start(page) == {"scope": "chat", "ref_id": roof["chat_id"]}
    done = page.locator("#export-list li[data-state=done]")
    expect(done).to_have_count(1)
    expect(done.locator(".chat-title")).to_have_text("Chat: Dachausbau Weber")
    got = _download(office, done, tmp_path / "chat.zip")
    assert got["scope"]["kind"] == "chat"
    assert got["scope"]["id"] == roof["chat_id"]
    assert got["chats"] == {roof["chat_id"]}
    assert got["messages"] == roof_ids

    # The whole business, vouchers only (what a tax auditor asked for).
    page.get_by_label("Umfang").select_option(label="Ganzer Betrieb")
    expect(pickers["chat"]).to_be_hidden()
    page.get_by_role("group", name="Nur diese Dokumentklassen").get_by_label(
        "Buchungsbeleg"
    ).check()
    assert _start(page) == {"scope": "business", "classes": ["buchungsbeleg"]}
    expect(done).to_have_count(2)
    # Found by its title: the test's clock stands still, so both jobs have one start time.
    newest = done.filter(has=page.locator(".chat-title", has_text="Ganzer Betrieb"))
    expect(newest).to_contain_text("nur Buchungsbeleg")
    office.shot("archive-classes")
    got = _download(office, newest, tmp_path / "vouchers.zip")
    assert got["scope"]["classes"] == ["buchungsbeleg"]
    assert got["chats"] == {roof["chat_id"]}
    assert got["messages"] == {voucher}
    assert not bath_ids & got["messages"]
    page.set_viewport_size(PHONE)
    office.shot("archive-classes")
