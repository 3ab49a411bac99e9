"""A project's master data under retention: its name, address and customer name are under the
project's own key, destroyed once the project is completed, its business letters' period has
ended and nothing of its chats is kept; never while it runs or is held."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from tests.customers.helpers import make_project, ok
from tests.factories import Api, Business, journal_entries, login
from tests.retention.helpers import created_seq, move_to, payload_row, row_of, to_data_key, verified
from tests.web.helpers import assert_error
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.crypto.envelope import DecryptionError
from zunft.db import schema as s
from zunft.due import run_due
from zunft.ids import new_id
from zunft.retention.classify import do_reclassify_message
from zunft.retention.erasure import do_erase_due, erased_project_name, run_erasure
from zunft.retention.gdpr import request_erasure
from zunft.retention.holds import do_lift_hold, do_set_hold


def _row(ctx: AppContext, row_id: str) -> Any:
    return row_of(ctx, s.projects, row_id)


def _created_seq(ctx: AppContext, biz: Business, row_id: str) -> int:
    return created_seq(ctx, biz.tenant_id, "project.created", "project_id", row_id)


def _say(api: Api, chat_id: str, text: str) -> str:
    body = {"client_id": f"c-{new_id()}", "text": text}
    return str(ok(api.post(f"/chats/{chat_id}/messages", json=body), 201)["id"])


def _complete(api: Api, project_id: str) -> None:
    ok(api.patch(f"/projects/{project_id}", json={"status": "completed"}))


@pytest.fixture
def owner(client: TestClient, biz: Business) -> Api:
    return login(client, biz, "owner")


def test_a_completed_project_loses_its_name_with_its_last_kept_content(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock, owner: Api
) -> None:
    project = make_project(owner, biz, name="Bad Familie Zander")
    row = _row(ctx, project["id"])
    key = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.content_keys).where(s.content_keys.c.id == row.content_key)
        ).one()
    )
    assert (key.doc_class, key.chat_id) == ("auftrag", project["chat_id"])
    seq = _created_seq(ctx, biz, project["id"])
    assert payload_row(ctx, biz.tenant_id, seq).content_key == row.content_key
    _say(owner, project["chat_id"], "Abnahme am Freitag")
    _complete(owner, project["id"])

    move_to(clock, 2032, 12, 31, 12)
    run_due(ctx)
    assert _row(ctx, project["id"]).erased_at is None
    move_to(clock, 2033, 1, 1, 1)
    run_due(ctx)  # the chat's business letters go, and with them the project's name
    after = _row(ctx, project["id"])
    assert after.erased_at is not None
    assert (after.address_enc, after.customer_name_enc) == (None, None)
    assert payload_row(ctx, biz.tenant_id, seq).payload_enc is None
    with pytest.raises(DecryptionError):  # what a backup made before would hold
        ctx.keys.cipher(biz.tenant_id).decrypt(f"projects.name/{row.id}", row.name_enc)
    owner = login(client, biz, "owner")
    shown = ok(owner.get(f"/projects/{project['id']}"))
    assert shown["name"] == erased_project_name(row.created_at)
    assert shown["name"].startswith("Auftrag vom ")
    assert (shown["address"], shown["erased"]) == (None, True)
    assert [p["name"] for p in ok(owner.get("/projects"))["projects"]] == [shown["name"]]
    erased = journal_entries(ctx, biz.tenant_id, "retention.erased")
    assert [project["id"]] in [e.get("project_ids") for e in erased]
    assert verified(ctx, biz)
    assert_error(
        owner.patch(f"/projects/{project['id']}", json={"name": "Neu"}), 409, "project_erased"
    )
    run_due(ctx)  # idempotent
    assert _row(ctx, project["id"]).erased_at == after.erased_at


def test_a_running_project_keeps_its_name_however_old(
    ctx: AppContext, biz: Business, clock: FakeClock, owner: Api
) -> None:
    project = make_project(owner, biz)
    _say(owner, project["chat_id"], "Abnahme am Freitag")
    move_to(clock, 2040, 1, 1, 1)
    run_erasure(ctx)
    assert _row(ctx, project["id"]).erased_at is None


def test_a_voucher_keeps_its_projects_name_and_a_hold_keeps_it_too(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock, owner: Api
) -> None:
    project = make_project(owner, biz)
    voucher = _say(owner, project["chat_id"], "Lieferschein 4711")
    ctx.write(lambda tx: do_reclassify_message(tx, biz.actor("office"), voucher, "buchungsbeleg"))
    _complete(owner, project["id"])
    move_to(clock, 2033, 6, 1)
    run_erasure(ctx)
    assert _row(ctx, project["id"]).erased_at is None  # the voucher (8 years) is still kept
    hold = ctx.write(
        lambda tx: do_set_hold(
            tx, biz.actor("office"), target_kind="project", target_id=project["id"], reason="Az"
        )
    )
    move_to(clock, 2035, 1, 1, 1)
    run_erasure(ctx)
    assert _row(ctx, project["id"]).erased_at is None  # held
    ctx.write(lambda tx: do_lift_hold(tx, biz.actor("owner"), hold["id"]))
    run_erasure(ctx)
    assert _row(ctx, project["id"]).erased_at is not None
    assert verified(ctx, biz)


def test_a_project_from_before_content_keys_gets_its_key_from_the_daily_job(
    ctx: AppContext, biz: Business, clock: FakeClock, owner: Api
) -> None:
    project = make_project(owner, biz, name="Dach Schulze")
    pid = project["id"]
    seq = _created_seq(ctx, biz, pid)
    row = _row(ctx, pid)
    purposes = {"name_enc": "projects.name", "address_enc": "projects.address"}
    to_data_key(ctx, biz.tenant_id, s.projects, pid, purposes, seq)
    ctx.write(
        lambda tx: tx.conn.execute(
            delete(s.content_keys).where(s.content_keys.c.id == row.content_key)
        )
    )
    cipher = ctx.keys.cipher(biz.tenant_id)
    cipher.forget_content_key(bytes(row.content_key))
    run_erasure(ctx)
    moved = _row(ctx, pid)
    assert moved.content_key is not None
    assert moved.content_key != row.content_key
    assert payload_row(ctx, biz.tenant_id, seq).content_key == moved.content_key
    shown = ok(owner.get(f"/projects/{pid}"))
    assert (shown["name"], shown["address"]) == ("Dach Schulze", "Lindenweg 3")
    assert verified(ctx, biz)
    _complete(owner, pid)
    move_to(clock, 2033, 1, 1, 1)
    run_erasure(ctx)
    assert _row(ctx, pid).erased_at is not None


def test_a_gdpr_erasure_of_the_projects_creator_does_not_wait_for_the_project(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    lead = login(client, biz, "lead")
    project = ok(lead.post("/projects", json={"name": "Keller Braun"}), 201)
    _say(lead, project["chat_id"], "Material bestellt")
    request_erasure(ctx, biz.actor("owner"), biz.users["lead"])
    move_to(clock, 2033, 1, 1, 1)
    run_due(ctx)  # the lead's business letters are gone; the project still runs
    requests = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.gdpr_requests).where(s.gdpr_requests.c.user_id == biz.users["lead"])
        ).all()
    )
    assert [r.done_at is not None for r in requests if r.kind == "erasure"] == [True]
    assert _row(ctx, project["id"]).erased_at is None


def test_a_report_not_yet_moved_into_its_unit_keeps_its_projects_name(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock, owner: Api
) -> None:
    project = make_project(owner, biz)
    worker = login(client, biz, "worker")
    body = {"client_id": f"r-{new_id()}", "category": "mangel", "text": "Riss im Putz"}
    report = ok(worker.post(f"/projects/{project['id']}/reports", json=body), 201)
    [(seq,)] = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.journal.c.seq).where(
                s.journal.c.tenant_id == biz.tenant_id, s.journal.c.kind == "report.created"
            )
        ).all()
    )
    to_data_key(ctx, biz.tenant_id, s.reports, report["id"], {"text_enc": "reports.text"}, seq)
    _complete(owner, project["id"])
    move_to(clock, 2033, 1, 1, 1)
    ctx.write(do_erase_due)  # the erasure alone, before the daily job moved the report
    assert _row(ctx, project["id"]).erased_at is None
    run_erasure(ctx)  # moved (its unit is gone: erased with it), then the project's name
    assert _row(ctx, project["id"]).erased_at is not None
    assert verified(ctx, biz)
