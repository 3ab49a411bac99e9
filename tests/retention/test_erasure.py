"""The daily erasure: content goes when its retention ends, by destroying its unit's key; the
journal still verifies; legal holds stop it; content from before content keys is moved in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.blobs import samples
from tests.customers.helpers import make_project, ok
from tests.factories import Business, general_chat, journal_entries, login
from tests.retention.helpers import (
    count,
    indexed,
    message_row,
    move_to,
    payload_row,
    verified,
)
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.crypto.envelope import DecryptionError
from zunft.db import schema as s
from zunft.due import run_due
from zunft.ids import new_id
from zunft.messages.service import do_edit_message, do_send_message, get_history
from zunft.retention.classify import do_reclassify_message, get_document_class
from zunft.retention.erasure import run_erasure
from zunft.retention.holds import do_lift_hold, do_set_hold
from zunft.retention.rules import do_set_rule


def _send(ctx: AppContext, biz: Business, chat: str, text: str, role: str = "worker") -> str:
    return str(ctx.write(lambda tx: do_send_message(tx, biz.actor(role), chat, text=text))["id"])


def _project_chat(ctx: AppContext, client: TestClient, biz: Business) -> tuple[str, str]:
    project = make_project(login(client, biz, "owner"), biz)
    return str(project["id"]), str(project["chat_id"])


def test_small_talk_goes_after_its_year_and_the_chain_still_verifies(
    ctx: AppContext, biz: Business, clock: FakeClock
) -> None:
    chat = general_chat(ctx, biz)
    mid = _send(ctx, biz, chat, "Wer holt Brötchen?")
    ctx.write(lambda tx: do_edit_message(tx, biz.actor("worker"), mid, text="Wer holt Kaffee?"))
    before = message_row(ctx, mid)
    assert before.content_key is not None
    assert payload_row(ctx, biz.tenant_id, before.seq).content_key == before.content_key
    assert indexed(ctx, biz, mid)

    move_to(clock, 2027, 12, 31, 23)  # intern: kept 1 year after 2026, so all of 2027 too
    assert run_erasure(ctx)["erased_keys"] == 0
    assert message_row(ctx, mid).erased_at is None

    move_to(clock, 2028, 1, 1)
    assert run_erasure(ctx)["erased_keys"] == 1
    after = message_row(ctx, mid)
    assert after.erased_at is not None
    assert after.body_enc == b""
    assert payload_row(ctx, biz.tenant_id, after.seq).payload_enc is None
    assert count(ctx, s.message_revisions, s.message_revisions.c.message_id == mid) == 0
    assert not indexed(ctx, biz, mid)  # the search index followed the erasure
    # The old ciphertext (as a backup made before would hold it) no longer decrypts.
    with pytest.raises(DecryptionError):
        ctx.keys.cipher(biz.tenant_id).decrypt(f"messages.body/{mid}", before.body_enc)
    history = ctx.read(lambda rx: get_history(rx, biz.actor("owner"), chat))["messages"]
    [shown] = [m for m in history if m["id"] == mid]
    assert shown["erased"]
    assert shown["text"] is None
    [entry] = journal_entries(ctx, biz.tenant_id, "retention.erased")
    assert entry["messages"] == 1
    assert entry["units"][0]["doc_class"] == "intern"
    assert verified(ctx, biz)
    assert run_erasure(ctx)["erased_keys"] == 0  # idempotent


def test_business_letters_stay_six_years_and_vouchers_eight(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    _, chat = _project_chat(ctx, client, biz)
    letter = _send(ctx, biz, chat, "Termin Abnahme am Montag", role="lead")
    voucher = _send(ctx, biz, chat, "Lieferschein 4711 anbei", role="lead")
    assert ctx.read(lambda rx: get_document_class(rx, biz.tenant_id, letter)) == "geschaeftsbrief"
    ctx.write(lambda tx: do_reclassify_message(tx, biz.actor("office"), voucher, "buchungsbeleg"))
    assert ctx.read(lambda rx: get_document_class(rx, biz.tenant_id, voucher)) == "buchungsbeleg"
    assert message_row(ctx, voucher).content_key != message_row(ctx, letter).content_key
    assert verified(ctx, biz)  # re-encrypted payloads still hash the same

    move_to(clock, 2032, 12, 31, 12)
    run_due(ctx)
    assert message_row(ctx, letter).erased_at is None
    move_to(clock, 2033, 1, 1, 1)
    run_due(ctx)
    assert message_row(ctx, letter).erased_at is not None
    assert message_row(ctx, voucher).erased_at is None
    move_to(clock, 2035, 1, 1, 1)
    run_due(ctx)
    assert message_row(ctx, voucher).erased_at is not None
    assert verified(ctx, biz)


def test_a_longer_rule_keeps_content_longer(
    ctx: AppContext, biz: Business, clock: FakeClock
) -> None:
    chat = general_chat(ctx, biz)
    mid = _send(ctx, biz, chat, "Grillfest am Freitag")
    ctx.write(lambda tx: do_set_rule(tx, biz.actor("owner"), "intern", 3))
    move_to(clock, 2029, 6, 1)
    run_due(ctx)
    assert message_row(ctx, mid).erased_at is None
    move_to(clock, 2030, 1, 1, 1)
    run_due(ctx)
    assert message_row(ctx, mid).erased_at is not None


def test_a_legal_hold_on_the_project_stops_erasure_until_lifted(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    project_id, chat = _project_chat(ctx, client, biz)
    mid = _send(ctx, biz, chat, "Mangel am Estrich", role="lead")
    hold = ctx.write(
        lambda tx: do_set_hold(
            tx, biz.actor("office"), target_kind="project", target_id=project_id, reason="Az 3 O 12"
        )
    )
    move_to(clock, 2034, 1, 1, 1)
    assert run_erasure(ctx)["erased_keys"] == 0
    assert message_row(ctx, mid).erased_at is None
    ctx.write(lambda tx: do_lift_hold(tx, biz.actor("owner"), hold["id"]))
    assert run_erasure(ctx)["erased_keys"] >= 1
    assert message_row(ctx, mid).erased_at is not None
    kinds = [e["hold_id"] for e in journal_entries(ctx, biz.tenant_id, "legal_hold.lifted")]
    assert kinds == [hold["id"]]
    assert verified(ctx, biz)


def test_content_written_before_content_keys_is_read_moved_and_erased(
    ctx: AppContext, biz: Business, clock: FakeClock
) -> None:
    chat = general_chat(ctx, biz)
    mid = _send(ctx, biz, chat, "Alte Nachricht")
    ctx.write(lambda tx: do_edit_message(tx, biz.actor("worker"), mid, text="Alte Nachricht!"))
    row = message_row(ctx, mid)
    edit_seq = row.seq + 1
    # Turn it into a row as written before 0004_retention: everything under the data key.
    cipher = ctx.keys.cipher(biz.tenant_id)

    def legacy(tx: object) -> None:
        conn = tx.conn  # type: ignore[attr-defined]
        p = s.journal_payloads
        conn.execute(
            update(s.messages)
            .where(s.messages.c.id == mid)
            .values(
                body_enc=cipher.encrypt(f"messages.body/{mid}", "Alte Nachricht!"),
                content_key=None,
            )
        )
        rv = s.message_revisions
        conn.execute(
            update(rv)
            .where(rv.c.message_id == mid)
            .values(body_enc=cipher.encrypt(f"message_revisions.body/{mid}/0", "Alte Nachricht"))
        )
        for seq in (row.seq, edit_seq):
            enc = conn.execute(
                select(p.c.payload_enc).where(p.c.tenant_id == biz.tenant_id, p.c.seq == seq)
            ).scalar_one()
            plain = cipher.decrypt_bytes(f"journal/{seq}", enc)
            conn.execute(
                update(p)
                .where(p.c.tenant_id == biz.tenant_id, p.c.seq == seq)
                .values(payload_enc=cipher.encrypt(f"journal/{seq}", plain), content_key=None)
            )
        conn.execute(delete_keys())

    def delete_keys() -> object:
        from sqlalchemy import delete

        return delete(s.content_keys).where(s.content_keys.c.tenant_id == biz.tenant_id)

    ctx.write(legacy)
    assert message_row(ctx, mid).content_key is None
    history = ctx.read(lambda rx: get_history(rx, biz.actor("worker"), chat))["messages"]
    assert [m["text"] for m in history if m["id"] == mid] == ["Alte Nachricht!"]
    assert verified(ctx, biz)

    assert run_erasure(ctx)["migrated"] == 1
    moved = message_row(ctx, mid)
    assert moved.content_key is not None
    assert payload_row(ctx, biz.tenant_id, edit_seq).content_key == moved.content_key
    history = ctx.read(lambda rx: get_history(rx, biz.actor("worker"), chat))["messages"]
    assert [m["text"] for m in history if m["id"] == mid] == ["Alte Nachricht!"]
    assert verified(ctx, biz)
    assert run_erasure(ctx)["migrated"] == 0

    move_to(clock, 2028, 1, 2)
    run_due(ctx)
    assert message_row(ctx, mid).erased_at is not None
    assert payload_row(ctx, biz.tenant_id, edit_seq).payload_enc is None
    assert verified(ctx, biz)


def test_files_are_erased_with_their_contents(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    worker = login(client, biz, "worker")
    chat = general_chat(ctx, biz)
    photo = ok(
        client.post(
            "/api/v1/uploads/single",
            params={"chat_id": chat, "name": "Pause.jpg"},
            content=samples.photo(64, 48),
            headers=worker.headers,
        ),
        201,
    )
    sent = ok(
        worker.post(
            f"/chats/{chat}/messages",
            json={"client_id": f"c-{new_id()}", "text": "", "attachments": [photo["id"]]},
        ),
        201,
    )
    assert ctx.blobs is not None
    prefix = f"{biz.tenant_id}/{photo['id']}/"
    assert list(ctx.blobs.keys(prefix))
    row = ctx.read(
        lambda rx: rx.conn.execute(select(s.blobs).where(s.blobs.c.id == photo["id"])).one()
    )
    assert row.content_key is not None
    # The stored segments are under the file's own key, not the business's data key.
    first = next(iter(ctx.blobs.keys(prefix)))
    assert ctx.blobs.get(first)[:1] == b"\x02"

    move_to(clock, 2028, 1, 1, 1)
    result = run_erasure(ctx)
    assert result["erased_keys"] >= 2  # the message's unit and the file's own key
    assert not list(ctx.blobs.keys(prefix))
    assert count(ctx, s.blobs, s.blobs.c.id == photo["id"]) == 0
    owner = login(client, biz, "owner")
    r = owner.get(f"/chats/{chat}/messages")
    assert r.status_code == 200, r.text
    [shown] = [m for m in r.json()["messages"] if m["id"] == sent["id"]]
    assert shown["erased"]
    assert shown["attachments"] == []
    assert owner.get(f"/files/{photo['id']}").status_code == 404
    assert verified(ctx, biz)
    payloads = journal_entries(ctx, biz.tenant_id, "retention.erased")
    assert sum(p["files"] for p in payloads) == 1


def test_reclassifying_needs_owner_or_office_and_a_known_class(
    ctx: AppContext, biz: Business
) -> None:
    from zunft.errors import Forbidden, Invalid

    mid = _send(ctx, biz, general_chat(ctx, biz), "Rechnung Großhandel")
    with pytest.raises(Forbidden):
        ctx.write(lambda tx: do_reclassify_message(tx, biz.actor("worker"), mid, "intern"))
    with pytest.raises(Invalid):
        ctx.write(lambda tx: do_reclassify_message(tx, biz.actor("owner"), mid, "privat"))
    ctx.write(lambda tx: do_reclassify_message(tx, biz.actor("owner"), mid, "buchungsbeleg"))
    [entry] = journal_entries(ctx, biz.tenant_id, "message.reclassified")
    assert (entry["from"], entry["to"], entry["_actor"]) == (
        "intern",
        "buchungsbeleg",
        biz.users["owner"],
    )


def test_files_from_before_content_keys_are_erased_by_deletion(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    worker = login(client, biz, "worker")
    chat = general_chat(ctx, biz)
    photo = ok(
        client.post(
            "/api/v1/uploads/single",
            params={"chat_id": chat, "name": "Alt.jpg"},
            content=samples.photo(32, 24),
            headers=worker.headers,
        ),
        201,
    )
    ctx.write(
        lambda tx: tx.conn.execute(
            update(s.blobs).where(s.blobs.c.id == photo["id"]).values(content_key=None)
        )
    )
    move_to(clock, 2027, 12, 31, 12)
    run_due(ctx)
    assert count(ctx, s.blobs, s.blobs.c.id == photo["id"]) == 1
    move_to(clock, 2028, 1, 1, 1)
    run_due(ctx)
    assert count(ctx, s.blobs, s.blobs.c.id == photo["id"]) == 0
    assert ctx.blobs is not None
    assert not list(ctx.blobs.keys(f"{biz.tenant_id}/{photo['id']}/"))
    assert any(
        p.get("file_ids") == [photo["id"]]
        for p in journal_entries(ctx, biz.tenant_id, "retention.erased")
    )
    assert verified(ctx, biz)


def test_stored_answers_of_client_writes_do_not_outlive_erasure(
    ctx: AppContext, client: TestClient, biz: Business, clock: FakeClock
) -> None:
    worker = login(client, biz, "worker")
    chat = general_chat(ctx, biz)
    body = {"client_id": f"c-{new_id()}", "text": "Schlüssel liegt unter der Matte"}
    ok(worker.post(f"/chats/{chat}/messages", json=body), 201)
    mine = s.client_writes.c.user_id == biz.users["worker"]
    assert count(ctx, s.client_writes, mine) == 1
    clock.advance(days=179)
    run_due(ctx)
    assert count(ctx, s.client_writes, mine) == 1  # a late retry still gets its answer
    clock.advance(days=2)
    run_due(ctx)
    assert count(ctx, s.client_writes, mine) == 0
