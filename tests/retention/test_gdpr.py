"""GDPR requests: the access export (JSON, PDF summary, files, consents) and the erasure request
(at once what no duty keeps, the rest scheduled, a written answer, refused under legal hold)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from tests.blobs import samples
from tests.customers.helpers import customer_world, msg, ok
from tests.factories import Business, error, general_chat, journal_entries, login
from tests.retention.helpers import make_legacy, message_row, move_to, verified
from tests.web.helpers import row_counts
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.retention.erasure import run_erasure


def _user(ctx: AppContext, user_id: str) -> Any:
    return ctx.read(
        lambda rx: rx.conn.execute(select(s.users).where(s.users.c.id == user_id)).one()
    )


def test_access_export_holds_data_consents_summary_and_files(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    w = customer_world(client, biz)
    customer, chat = w["customer"], w["chat"]
    sent = ok(customer.post(f"/chats/{chat}/messages", json=msg("Wann kommt der Maler?")), 201)
    office = login(client, biz, "office")
    r = office.post(f"/compliance/people/{customer.user_id}/access-export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    data = json.loads(zf.read("daten.json"))
    assert data["person"]["name"] == "Erika Zander"
    assert [m["text"] for m in data["messages"]] == ["Wann kommt der Maler?"]
    assert data["messages"][0]["id"] == sent["id"]
    assert [c["kind"] for c in data["consents"]] == ["consent.given"]
    assert data["consents"][0]["text"]  # the text consented to
    pdf = PdfReader(io.BytesIO(zf.read("zusammenfassung.pdf")))
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "Erika Zander" in text
    assert "Einwilligung erteilt" in text
    [entry] = journal_entries(ctx, biz.tenant_id, "gdpr.access_exported")
    assert entry["user_id"] == customer.user_id
    assert entry["_actor"] == biz.users["office"]

    # A colleague's export carries the files they uploaded, byte for byte.
    worker = login(client, biz, "worker")
    photo = ok(
        client.post(
            "/api/v1/uploads/single",
            params={"chat_id": general_chat(ctx, biz), "name": "Fleck.jpg"},
            content=samples.photo(40, 30),
            headers=worker.headers,
        ),
        201,
    )
    r = office.post(f"/compliance/people/{worker.user_id}/access-export")
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert zf.read(f"dateien/{photo['id']}") == samples.photo(40, 30)
    assert json.loads(zf.read("daten.json"))["files"][0]["name"] == "Fleck.jpg"


def test_workers_and_customers_cannot_ask_for_exports(client: TestClient, biz: Business) -> None:
    w = customer_world(client, biz)
    worker = login(client, biz, "worker")
    path = f"/compliance/people/{w['customer'].user_id}/access-export"
    assert error(worker.post(path)) == (403, "admin_only")
    assert error(w["customer"].post(path))[0] == 403


def test_erasure_request_of_a_customer_keeps_business_letters_and_answers(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    w = customer_world(client, biz)
    customer, chat = w["customer"], w["chat"]
    sent = ok(customer.post(f"/chats/{chat}/messages", json=msg("Bitte Angebot schicken")), 201)
    owner = w["owner"]
    r = owner.post(f"/compliance/people/{customer.user_id}/erasure")
    assert r.status_code == 200, r.text
    result = r.json()
    assert "geschaeftsbrief" in result["kept_until"]
    assert "bis 01.01.2033" in result["answer"]
    assert "Art. 17 Abs. 3 lit. b DSGVO" in result["answer"]
    # The account ends at once; the letter and the name stay until 2033.
    assert customer.get("/chats").status_code == 401
    row = _user(ctx, customer.user_id)
    assert row.email_enc is None
    assert row.disabled_at is not None
    assert message_row(ctx, sent["id"]).erased_at is None
    pdf = owner.get(f"/compliance/requests/{result['request_id']}/answer")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Art. 17 DSGVO" in text

    move_to(clock, 2033, 1, 1, 1)
    assert run_erasure(ctx)["gdpr_finished"] == 1
    assert message_row(ctx, sent["id"]).erased_at is not None
    cipher = ctx.keys.cipher(biz.tenant_id)
    name = cipher.decrypt(f"users.name/{customer.user_id}", _user(ctx, customer.user_id).name_enc)
    assert name == "Gelöschte Person"
    assert [
        e["user_id"] for e in journal_entries(ctx, biz.tenant_id, "gdpr.erasure_completed")
    ] == [customer.user_id]
    assert verified(ctx, biz)


def test_erasure_request_of_a_worker_erases_small_talk_at_once(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    worker = login(client, biz, "worker")
    general = general_chat(ctx, biz)
    talk = ok(worker.post(f"/chats/{general}/messages", json=msg("Feierabendbier?")), 201)
    w = customer_world(client, biz)
    project_chat = w["project"]["chat_id"]
    letter = ok(worker.post(f"/chats/{project_chat}/messages", json=msg("Fliesen sind da")), 201)
    result = ok(w["owner"].post(f"/compliance/people/{biz.users['worker']}/erasure"))
    assert result["erased_messages"] == 1
    assert message_row(ctx, talk["id"]).erased_at is not None
    assert message_row(ctx, letter["id"]).erased_at is None
    [entry] = journal_entries(ctx, biz.tenant_id, "gdpr.erasure_requested")
    assert entry["erased_messages"] == 1
    assert verified(ctx, biz)


def test_erasure_request_for_a_person_under_legal_hold_is_refused(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    w = customer_world(client, biz)
    customer, owner = w["customer"], w["owner"]
    ok(customer.post(f"/chats/{w['chat']}/messages", json=msg("Der Riss ist größer")), 201)
    hold = {"target_kind": "customer", "target_id": customer.user_id, "reason": "Az 7 C 3/26"}
    ok(owner.post("/compliance/holds", json=hold), 201)
    before = row_counts(ctx)
    journal = len(journal_entries(ctx, biz.tenant_id, "legal_hold.set"))
    r = owner.post(f"/compliance/people/{customer.user_id}/erasure")
    assert error(r) == (409, "person_under_legal_hold")
    assert row_counts(ctx) == before  # nothing half-done
    assert len(journal_entries(ctx, biz.tenant_id, "legal_hold.set")) == journal
    assert _user(ctx, customer.user_id).disabled_at is None
    assert customer.get("/chats").status_code == 200


def test_only_the_owner_lifts_a_hold(client: TestClient, biz: Business) -> None:
    w = customer_world(client, biz)
    office = login(client, biz, "office")
    body = {"target_kind": "project", "target_id": w["project"]["id"], "reason": "Steuerprüfung"}
    hold = ok(office.post("/compliance/holds", json=body), 201)
    assert error(office.post(f"/compliance/holds/{hold['id']}/lift")) == (403, "owner_only")
    assert ok(w["owner"].post(f"/compliance/holds/{hold['id']}/lift"))["active"] is False
    assert ok(office.get("/compliance/holds"))["holds"] == []
    bad = {"target_kind": "project", "target_id": "0" * 26, "reason": "x"}
    assert error(office.post("/compliance/holds", json=bad)) == (404, "not_found")


def test_erasure_request_also_takes_small_talk_from_before_content_keys(
    ctx: AppContext, client: TestClient, biz: Business
) -> None:
    worker = login(client, biz, "worker")
    talk = ok(
        worker.post(f"/chats/{general_chat(ctx, biz)}/messages", json=msg("Altes Geplauder")), 201
    )
    make_legacy(ctx, biz.tenant_id, talk["id"])
    assert message_row(ctx, talk["id"]).content_key is None
    result = ok(
        login(client, biz, "owner").post(f"/compliance/people/{biz.users['worker']}/erasure")
    )
    assert result["erased_messages"] == 1
    assert message_row(ctx, talk["id"]).erased_at is not None
    assert verified(ctx, biz)
