"""Problem reports under retention: a report is a business letter of its author in its project
chat, erased with that unit when six years have ended (text, position and the payload of its
`report.created` entry), spared by a legal hold, moved into its unit when it was stored before
content keys, listed in a GDPR access export. Its photos must be files of its project."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from tests.archive.helpers import names, read
from tests.blobs import samples
from tests.customers.helpers import make_project, ok
from tests.factories import Api, Business, journal_entries, login
from tests.retention.helpers import (
    count,
    created_seq,
    move_to,
    payload_row,
    row_of,
    to_data_key,
    verified,
)
from tests.web.helpers import assert_error
from zunft.archive.export import ExportRequest, run_export
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.crypto.envelope import DecryptionError
from zunft.db import schema as s
from zunft.due import run_due
from zunft.ids import new_id
from zunft.retention.erasure import run_erasure
from zunft.retention.gdpr import get_access_data, request_erasure
from zunft.retention.holds import do_lift_hold, do_set_hold

API = "/api/v1"


def _report(api: Api, project_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "client_id": f"r-{new_id()}",
        "category": "mangel",
        "text": "Riss in der Wand, Kinderzimmer",
        "position": {"lat": 52.52, "lon": 13.4, "note": "Gartenweg 3"},
    }
    return dict(ok(api.post(f"/projects/{project_id}/reports", json={**body, **extra}), 201))


def _row(ctx: AppContext, row_id: str) -> Any:
    return row_of(ctx, s.reports, row_id)


def _created_seq(ctx: AppContext, biz: Business, row_id: str) -> int:
    return created_seq(ctx, biz.tenant_id, "report.created", "report_id", row_id)


def _upload(api: Api, chat_id: str) -> str:
    photo = api.client.post(
        f"{API}/uploads/single",
        params={"chat_id": chat_id, "name": "Riss.jpg"},
        content=samples.photo(64, 48),
        headers=api.headers,
    )
    return str(ok(photo, 201)["id"])


@pytest.fixture
def project(client: TestClient, biz: Business) -> dict[str, Any]:
    return make_project(login(client, biz, "owner"), biz)


def test_a_report_is_erased_with_its_unit_after_six_years(
    ctx: AppContext,
    client: TestClient,
    biz: Business,
    clock: FakeClock,
    project: dict[str, Any],
    tmp_path: Path,
) -> None:
    worker = login(client, biz, "worker")
    report = _report(worker, project["id"])
    row = _row(ctx, report["id"])
    assert row.content_key is not None
    seq = _created_seq(ctx, biz, report["id"])
    assert payload_row(ctx, biz.tenant_id, seq).content_key == row.content_key
    unit = ctx.read(
        lambda rx: rx.conn.execute(
            select(s.content_keys).where(s.content_keys.c.id == row.content_key)
        ).one()
    )
    assert (unit.chat_id, unit.doc_class, unit.author_id) == (
        project["chat_id"],
        "geschaeftsbrief",
        biz.users["worker"],
    )

    move_to(clock, 2032, 12, 31, 12)  # 2026 + 6 years: still kept
    run_due(ctx)
    assert _row(ctx, report["id"]).erased_at is None
    move_to(clock, 2033, 1, 1, 1)
    run_due(ctx)
    after = _row(ctx, report["id"])
    assert after.erased_at is not None
    assert (after.text_enc, after.position_enc) == (b"", None)
    assert payload_row(ctx, biz.tenant_id, seq).payload_enc is None
    with pytest.raises(DecryptionError):  # what a backup made before would still hold
        ctx.keys.cipher(biz.tenant_id).decrypt(f"reports.text/{row.id}", row.text_enc)
    owner = login(client, biz, "owner")
    shown = ok(owner.get(f"/reports/{report['id']}"))
    assert (shown["text"], shown["erased"], shown["position"]) == ("gelöscht", True, None)
    board = ok(owner.get("/reports"))["reports"]
    assert [r["text"] for r in board] == ["gelöscht"]
    assert sum(e.get("reports", 0) for e in journal_entries(ctx, biz.tenant_id, "retention.erased"))
    assert verified(ctx, biz)
    # An export after the erasure still works, and shows the report as erased.
    path = tmp_path / "after.zip"
    run_export(ctx, ExportRequest(biz.tenant_id, "project", project["id"]), path)
    text = read(path, "tabellen/meldungen.csv").decode("utf-8")
    [line] = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    assert line["meldung_id"] == report["id"]
    assert (line["text"], line["frist_geloescht_datum"]) == ("", "01.01.2033")
    assert "Riss in der Wand" not in text
    # The report's post in the project chat went with the same unit; the transcript says so.
    messages = read(path, "tabellen/nachrichten.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(messages, newline=""), delimiter=";"))
    assert rows
    assert all(r["frist_geloescht_datum"] == "01.01.2033" and r["text"] == "" for r in rows)
    [pdf] = [n for n in names(path) if n.startswith("protokolle/")]
    transcript = "".join(p.extract_text() for p in PdfReader(io.BytesIO(read(path, pdf))).pages)
    assert "Aufbewahrungsfrist gelöscht am 01.01.2033" in transcript


def test_a_legal_hold_on_the_project_keeps_its_reports(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock, project: dict[str, Any]
) -> None:
    report = _report(login(client, biz, "lead"), project["id"])
    hold = ctx.write(
        lambda tx: do_set_hold(
            tx, biz.actor("office"), target_kind="project", target_id=project["id"], reason="Az 7"
        )
    )
    move_to(clock, 2034, 1, 1, 1)
    run_erasure(ctx)
    assert _row(ctx, report["id"]).erased_at is None
    ctx.write(lambda tx: do_lift_hold(tx, biz.actor("owner"), hold["id"]))
    run_erasure(ctx)
    assert _row(ctx, report["id"]).erased_at is not None
    assert verified(ctx, biz)


def _make_legacy(ctx: AppContext, biz: Business, report_id: str, seq: int) -> None:
    """Turn a report into one stored before migration 0006: text, position and its journal
    payload under the business's data key, no content key."""
    key = _row(ctx, report_id).content_key
    purposes = {"text_enc": "reports.text", "position_enc": "reports.position"}
    to_data_key(ctx, biz.tenant_id, s.reports, report_id, purposes, seq)
    ctx.keys.cipher(biz.tenant_id).forget_content_key(bytes(key))


def test_a_report_from_before_content_keys_is_moved_into_its_unit_then_erased(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock, project: dict[str, Any]
) -> None:
    lead = login(client, biz, "lead")
    report = _report(lead, project["id"])
    seq = _created_seq(ctx, biz, report["id"])
    key = _row(ctx, report["id"]).content_key
    _make_legacy(ctx, biz, report["id"], seq)
    assert ok(lead.get(f"/reports/{report['id']}"))["text"] == report["text"]

    run_erasure(ctx)  # the daily job moves it
    moved = _row(ctx, report["id"])
    assert moved.content_key == key  # the same unit as a report written today
    assert payload_row(ctx, biz.tenant_id, seq).content_key == key
    shown = ok(lead.get(f"/reports/{report['id']}"))
    assert (shown["text"], shown["position"]["note"]) == (report["text"], "Gartenweg 3")
    assert verified(ctx, biz)  # re-encrypted payload: same plaintext, same hash

    move_to(clock, 2033, 1, 1, 1)
    run_erasure(ctx)
    assert _row(ctx, report["id"]).erased_at is not None
    assert verified(ctx, biz)


def test_a_legacy_report_whose_unit_is_gone_is_erased_when_moved(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock, project: dict[str, Any]
) -> None:
    lead = login(client, biz, "lead")
    report = _report(lead, project["id"])
    seq = _created_seq(ctx, biz, report["id"])
    _make_legacy(ctx, biz, report["id"], seq)
    # The unit's key is destroyed (its other content fell due) before the job moved the report.
    move_to(clock, 2033, 1, 1, 1)
    ctx.write(lambda tx: _destroy_unit_only(tx, biz, project["chat_id"]))
    run_erasure(ctx)
    row = _row(ctx, report["id"])
    assert row.erased_at is not None
    assert row.text_enc == b""
    assert payload_row(ctx, biz.tenant_id, seq).payload_enc is None
    assert verified(ctx, biz)


def _destroy_unit_only(tx: Any, biz: Business, chat_id: str) -> None:
    from zunft.retention.erasure import Erased, destroy_keys

    k = s.content_keys
    keys = list(
        tx.conn.execute(
            select(k.c.id).where(
                k.c.chat_id == chat_id,
                k.c.author_id == biz.users["lead"],
                k.c.doc_class == "geschaeftsbrief",
            )
        ).scalars()
    )
    assert keys
    destroy_keys(tx, biz.tenant_id, [bytes(x) for x in keys], Erased())


def test_gdpr_access_lists_a_persons_reports_and_erasure_schedules_them(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock, project: dict[str, Any]
) -> None:
    worker = login(client, biz, "worker")
    report = _report(worker, project["id"])
    data = ctx.read(lambda rx: get_access_data(rx, biz.actor("owner"), biz.users["worker"]))
    [listed] = data["reports"]
    assert (listed["id"], listed["text"], listed["erased"]) == (report["id"], report["text"], False)
    assert listed["position"]["note"] == "Gartenweg 3"
    # A report is a business letter: the request keeps it until its retention ends.
    request_erasure(ctx, biz.actor("owner"), biz.users["worker"])
    assert _row(ctx, report["id"]).erased_at is None
    move_to(clock, 2033, 1, 1, 1)
    run_due(ctx)
    assert _row(ctx, report["id"]).erased_at is not None


def test_report_photos_must_be_files_of_the_project(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock, project: dict[str, Any]
) -> None:
    owner, worker = login(client, biz, "owner"), login(client, biz, "worker")
    other = make_project(owner, biz, name="Dach Schulze")
    own_photo = _upload(worker, project["chat_id"])
    foreign_photo = _upload(owner, other["chat_id"])
    path = f"/projects/{project['id']}/reports"
    body = {"client_id": f"r-{new_id()}", "category": "mangel", "text": "Riss"}
    assert_error(
        worker.post(path, json={**body, "photo_ids": [foreign_photo]}), 422, "invalid_photos"
    )
    assert_error(worker.post(path, json={**body, "photo_ids": [new_id()]}), 422, "invalid_photos")
    assert count(ctx, s.reports) == 0  # nothing half-done
    report = ok(worker.post(path, json={**body, "photo_ids": [own_photo]}), 201)
    assert report["photo_ids"] == [own_photo]
    # The photo's retention is its own: once erased, the report no longer lists it.
    move_to(clock, 2033, 1, 1, 1)
    run_erasure(ctx)
    assert count(ctx, s.blobs, s.blobs.c.id == own_photo) == 0
    owner = login(client, biz, "owner")  # seven years on, the old session has ended
    assert ok(owner.get(f"/reports/{report['id']}"))["photo_ids"] == []
