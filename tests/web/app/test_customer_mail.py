"""The invitation screen sends the link by e-mail through a real SMTP server on loopback
(aiosmtpd) and says so."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.customers.test_mail import Inbox, inbox  # noqa: F401 (a fixture used here)
from tests.factories import Business
from tests.web.app.test_customers import make_project, shots
from zunft.config import Settings
from zunft.context import AppContext


@pytest.fixture
def settings(settings: Settings, inbox: tuple[Inbox, int]) -> Settings:  # noqa: F811
    return settings.with_overrides(
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_from="zunft@mueller.example",
        smtp_starttls=False,
    )


def test_the_link_goes_out_by_email(
    people: Any,
    ctx: AppContext,
    biz: Business,
    inbox: tuple[Inbox, int],  # noqa: F811
) -> None:
    project = make_project(ctx, biz)
    lead = people("lead")  # the project's lead may invite too
    page = lead.page
    page.goto(f"/#/customers/{project['id']}")
    page.get_by_label("Name des Kunden").fill("Erika Zander")
    page.get_by_label("E-Mail (freiwillig)").fill("erika@zander.example")
    page.get_by_label("Link per E-Mail senden").check()
    page.get_by_role("button", name="Einladung erstellen").click()
    expect(page.locator("#invite-mail")).to_have_text(
        "Die E-Mail an erika@zander.example ist versendet."
    )
    shots(lead, "customer-invite-mailed")
    link = page.get_by_label("Link für den Kunden").input_value()
    [(_, to, message)] = inbox[0].messages
    assert to == ["erika@zander.example"]
    assert link in message.get_body(preferencelist=("plain",)).get_content()
