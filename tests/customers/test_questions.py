"""Customer questions not answered within the reply time (default 4 working hours) remind the
project lead, then the office; the office sees open questions in one list.

The FakeClock starts on Monday 2 March 2026, 09:00 in Berlin (working 07:00 to 17:00)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.customers.helpers import invite, join, make_project, msg, ok
from tests.factories import Business, journal_entries, login
from tests.web.helpers import assert_error
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.db import schema as s
from zunft.due import run_due


def _kinds(api: object, **params: object) -> list[tuple[str, str]]:
    notes = ok(api.get("/notifications", params=params))["notifications"]  # type: ignore[attr-defined]
    return [(n["kind"], n["ref_id"]) for n in notes]


def test_reminders_go_to_the_lead_then_the_office(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    erika, chat = join(client, invite(owner, project["id"])["token"])
    first = ok(erika.post(f"/chats/{chat}/messages", json=msg("Kommt morgen jemand?")), 201)
    ok(erika.post(f"/chats/{chat}/messages", json=msg("Und wann?")), 201)
    office, lead = login(client, biz, "office"), login(client, biz, "lead")
    [question] = ok(office.get("/customer-questions"))["questions"]
    assert question["message_id"] == first["id"]  # the first unanswered message
    assert question["customer_name"] == "Erika Zander"
    assert question["text"] == "Kommt morgen jemand?"
    assert question["overdue"] is False
    assert question["reply_due_at"] == ctx.now_ms() + 4 * 3_600_000
    clock.advance(hours=3, minutes=59)
    assert run_due(ctx)["reminded"] == 0
    clock.advance(minutes=1)  # 13:00: four working hours
    assert run_due(ctx)["reminded"] == 1
    assert run_due(ctx)["reminded"] == 0
    assert _kinds(lead) == [("customer_question", first["id"])]
    assert _kinds(office) == []
    assert ok(office.get("/customer-questions"))["questions"][0]["overdue"] is True
    clock.advance(hours=3, minutes=59)  # 16:59
    assert run_due(ctx)["reminded"] == 0
    clock.advance(minutes=1)  # 17:00: twice the reply time
    assert run_due(ctx)["reminded"] == 1
    # 17:00 is the end of the office's working day: the reminder waits for the morning.
    assert _kinds(office) == []
    assert _kinds(office, include_held=True) == [("customer_question", first["id"])]
    clock.advance(hours=14)
    assert _kinds(office) == [("customer_question", first["id"])]
    stages = [e["stage"] for e in journal_entries(ctx, biz.tenant_id, "customer_question.reminded")]
    assert stages == ["lead", "office"]
    # Not addressed to the chat: realtime must not tell the customer about staff reminders.
    routed = ctx.read(
        lambda rx: list(
            rx.conn.execute(
                select(s.journal.c.chat_id).where(s.journal.c.kind == "customer_question.reminded")
            ).scalars()
        )
    )
    assert routed == [None, None]
    # An answer closes the question.
    ok(lead.post(f"/chats/{chat}/messages", json=msg("Ja, um 8.")), 201)
    assert ok(office.get("/customer-questions"))["questions"] == []
    clock.advance(days=2)
    assert run_due(ctx)["reminded"] == 0


def test_reply_time_counts_working_hours_only(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    erika, chat = join(client, invite(owner, project["id"])["token"])
    clock.advance(hours=7)  # Monday 16:00
    ok(erika.post(f"/chats/{chat}/messages", json=msg("Noch eine Frage")), 201)
    clock.advance(hours=15)  # Tuesday 07:00: one working hour so far
    assert run_due(ctx)["reminded"] == 0
    clock.advance(hours=3)  # Tuesday 10:00: four working hours
    assert run_due(ctx)["reminded"] == 1


def test_no_reminders_for_a_withdrawn_customer(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    erika, chat = join(client, invite(owner, project["id"])["token"])
    ok(erika.post(f"/chats/{chat}/messages", json=msg("Frage")), 201)
    assert erika.post("/customer/consent/withdraw").status_code == 204
    clock.advance(days=3)
    assert run_due(ctx)["reminded"] == 0
    assert ok(owner.get("/customer-questions"))["questions"] == []


def test_open_questions_only_of_visible_chats(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    erika, chat = join(client, invite(owner, project["id"])["token"])
    ok(erika.post(f"/chats/{chat}/messages", json=msg("Frage")), 201)
    assert len(ok(login(client, biz, "lead").get("/customer-questions"))["questions"]) == 1
    assert ok(login(client, biz, "worker").get("/customer-questions"))["questions"] == []
    assert_error(erika.get("/customer-questions"), 403, "staff_only")
