"""axe-core (through axe-playwright-python, a test dependency; nothing of it is served) finds
no serious or critical violation on the main screens, at phone size."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.factories import Business
from tests.realtime.live import Live
from tests.web.app.test_chat import project
from zunft.context import AppContext


def serious(page: Any) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/#/search",
        "/#/devices",
        "/#/profile",
        "/#/admin/users",
        "/#/admin/projects",
        "/#/admin/archive",
        "/#/new",
    ],
)
def test_no_serious_violations(
    people: Any, live: Live, ctx: AppContext, biz: Business, url: str
) -> None:
    project(ctx, biz)
    office = people("office")
    office.page.goto(url)
    expect(office.page.locator(".topbar .title")).not_to_be_empty()
    office.page.wait_for_load_state("networkidle")
    assert serious(office.page) == []


def test_no_serious_violations_in_a_chat_and_at_login(
    people: Any, live: Live, ctx: AppContext, biz: Business
) -> None:
    chat_id = project(ctx, biz)["chat_id"]
    live.send(biz.actor("lead"), chat_id, "Die Leitung ist verlegt.")
    worker = people("worker")
    worker.page.goto("/")
    worker.page.get_by_role("link", name="Badsanierung Schmidt").click()
    expect(worker.page.locator(".msg")).to_have_count(1)
    worker.page.locator(".msg").click()
    expect(worker.page.get_by_role("button", name="Antworten")).to_be_visible()
    assert serious(worker.page) == []
    guest = people("worker", login=False)
    guest.page.goto("/")
    expect(guest.page.get_by_role("button", name="Anmelden")).to_be_visible()
    assert serious(guest.page) == []
