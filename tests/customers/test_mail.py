"""Invitation e-mails through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from tests.customers.helpers import join, make_project, ok
from tests.factories import Business, login
from zunft.config import Settings


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def settings(settings: Settings, inbox: tuple[Inbox, int]) -> Settings:
    return settings.with_overrides(
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_from="zunft@mueller.example",
        smtp_starttls=False,
        public_url="https://zunft.mueller.example",
    )


def test_invitation_is_mailed_with_link_and_qr_code(
    client: TestClient, biz: Business, inbox: tuple[Inbox, int]
) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    body = {"name": "Erika Zander", "email": "erika@zander.example", "send_email": True}
    inv = ok(owner.post(f"/projects/{project['id']}/customer-invitations", json=body), 201)
    assert inv["emailed"] is True
    assert inv["link"] == f"https://zunft.mueller.example/kunde#{inv['token']}"
    [(sender, recipients, message)] = inbox[0].messages
    assert sender == "zunft@mueller.example"
    assert recipients == ["erika@zander.example"]
    assert message["Subject"] == (
        "Müller Haustechnik GmbH: Ihr Kunden-Chat zum Auftrag Bad Familie Zander"
    )
    parts = list(message.walk())
    text = next(p for p in parts if p.get_content_type() == "text/plain")
    content = text.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert "Guten Tag Erika Zander" in content
    assert inv["link"] in content
    png = next(p for p in parts if p.get_content_type() == "image/png")
    assert png.get_payload(decode=True).startswith(b"\x89PNG")  # type: ignore[union-attr]
    # The mailed link works once.
    _customer, chat = join(client, inv["token"])
    assert chat


def test_a_failing_mail_server_keeps_the_invitation(
    client: TestClient, biz: Business, inbox: tuple[Inbox, int], settings: Settings
) -> None:
    client.app.state.ctx.settings = settings.with_overrides(smtp_port=_free_port())  # type: ignore[attr-defined]
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    body = {"name": "Erika Zander", "email": "erika@zander.example", "send_email": True}
    inv = ok(owner.post(f"/projects/{project['id']}/customer-invitations", json=body), 201)
    assert inv["emailed"] is False
    assert inv["email_error"]
    assert inbox[0].messages == []
    join(client, inv["token"])  # shown as link or QR code instead, it still works
