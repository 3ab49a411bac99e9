"""The archive screen: the office starts an export, watches it run, and downloads a ZIP that
verifies offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.factories import Business
from tests.web.app.conftest import DESKTOP
from zunft.archive.verify_export import verify_export
from zunft.context import AppContext


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
