"""The generated documents state the installation's real settings and the business's real
people and figures, in German, and only owner and office get them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select, update

from tests.factories import Business, login, make_business
from tests.test_cli import base_env, zunft
from tests.web.helpers import assert_error
from zunft.archive.documents import get_document
from zunft.config import Settings, load_settings
from zunft.context import AppContext
from zunft.db import schema as s


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _get(client: TestClient, biz: Business, name: str) -> str:
    owner = login(client, biz, "owner")
    r = owner.get(f"/archive/documents/{name}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "private, no-store"
    return _text(r.content)


def test_tom_states_the_settings_as_they_are(client: TestClient, biz: Business) -> None:
    text = _get(client, biz, "tom")
    assert "Müller Haustechnik GmbH" in text
    assert "NEIN: es ist keine https-Adresse eingestellt" in text  # the test server has none
    assert "angeboten, aber nicht vorgeschrieben" in text
    assert "Office mueller (Büro)" in text  # who sees every chat, by name
    assert "Owner mueller (Inhaber/in)" in text
    assert "Worker mueller" not in text
    assert "mindestens 10 Zeichen" in text
    assert "[bitte ergänzen]" in text  # no hosting location configured


def test_with_https_hosting_and_a_required_second_factor(
    settings: Settings, biz: Business, ctx: AppContext
) -> None:
    ctx.write(lambda tx: tx.conn.execute(update(s.tenants).values(require_totp_admins=True)))
    configured = load_settings(
        {},
        **{
            **settings.values,
            "public_url": "https://zunft.mueller-haustechnik.de",
            "hosting_location": "Rechenzentrum Nürnberg, Deutschland",
            "operator": "IT-Service Schmidt, Ulm",
        },
    )
    owner = biz.actor("owner")
    tom = _text(ctx.read(lambda rx: get_document(rx, configured, owner, "tom"))[1])
    record = _text(ctx.read(lambda rx: get_document(rx, configured, owner, "verzeichnis"))[1])
    assert "ja, über https://zunft.mueller-haustechnik.de" in tom
    assert "vom Betrieb vorgeschrieben" in tom
    assert "Rechenzentrum Nürnberg, Deutschland" in tom
    assert "IT-Service Schmidt, Ulm" in record
    assert "Drittlandübermittlung keine" in record


def test_verfahrensdokumentation_names_the_journal_head(
    client: TestClient, biz: Business, ctx: AppContext
) -> None:
    text = _get(client, biz, "verfahrensdokumentation")
    heads = s.journal_heads
    head = ctx.read(
        lambda rx: rx.conn.execute(
            select(heads.c.seq, heads.c.head_hash).where(heads.c.tenant_id == biz.tenant_id)
        ).one()
    )
    assert f"Journal heute {head.seq} Einträge" in text
    assert bytes(head.head_hash).hex()[:40] in text.replace(" ", "")
    assert "GDPdU" in text


def test_another_business_never_shows(client: TestClient, biz: Business, ctx: AppContext) -> None:
    make_business(ctx, "schulz", "Schulz Dachbau KG")
    for name in ("tom", "verzeichnis", "verfahrensdokumentation"):
        text = _get(client, biz, name)
        assert "Schulz" not in text
        assert "schulz" not in text


@pytest.mark.parametrize("role", ["lead", "worker", "apprentice"])
def test_only_owner_and_office(client: TestClient, biz: Business, role: str) -> None:
    api = login(client, biz, role)
    assert_error(api.get("/archive/documents/tom"), 403, "admin_only")


def test_an_unknown_document(client: TestClient, biz: Business) -> None:
    r = login(client, biz, "office").get("/archive/documents/bilanz")
    assert r.status_code == 422


def test_the_command_writes_all_three(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    assert zunft(env, "demo").returncode == 0
    done = zunft(env, "archive", "documents", "mueller", "--out", str(tmp_path / "unterlagen"))
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "unterlagen").iterdir())
    assert names == [
        "TOM.pdf",
        "Verfahrensdokumentation.pdf",
        "Verzeichnis-Verarbeitungstaetigkeiten.pdf",
    ]
    assert "Müller Haustechnik GmbH" in _text((tmp_path / "unterlagen" / "TOM.pdf").read_bytes())


def test_the_retention_rules_are_the_business_s_own(
    client: TestClient, biz: Business, ctx: AppContext
) -> None:
    from zunft.retention.rules import do_set_rule

    ctx.write(lambda tx: do_set_rule(tx, biz.actor("owner"), "geschaeftsbrief", 10))
    text = _get(client, biz, "verfahrensdokumentation")
    assert "mindestens 10 Jahre ab Ende des Kalenderjahres" in text
    assert "mindestens 8 Jahre" in text  # vouchers: the legal default
