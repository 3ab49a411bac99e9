"""Working hours and the notification rule: outside their hours a person is told nothing except
dringend things. The FakeClock starts on Monday 2 March 2026, 09:00 in Berlin."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from tests.customers.helpers import make_project, ok
from tests.factories import Business, login
from tests.web.helpers import assert_error
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.hours.service import add_working_minutes, check_week, parse_week
from zunft.ids import new_id


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_working_minutes_skip_nights_weekends_and_dst() -> None:
    from zoneinfo import ZoneInfo

    week = parse_week(check_week({"mo": [["07:00", "17:00"]], "fr": [["07:00", "12:00"]]}))
    berlin = ZoneInfo("Europe/Berlin")
    # Monday 16:30 Berlin (15:30 UTC) + 60 working minutes: 30 on Monday, 30 on Friday.
    assert add_working_minutes(week, berlin, _ms(2026, 3, 2, 15, 30), 60) == _ms(2026, 3, 6, 6, 30)
    # Across the switch to summer time (29 March 2026): Friday 11:30 CET + 60 minutes
    # → 30 minutes on Friday, 30 on Monday 30 March from 07:00 CEST (05:00 UTC).
    assert add_working_minutes(week, berlin, _ms(2026, 3, 27, 10, 30), 60) == _ms(
        2026, 3, 30, 5, 30
    )
    # No working time at all: wall-clock time, nothing waits forever.
    empty = parse_week(check_week({}))
    assert add_working_minutes(empty, berlin, 0, 5) == 300_000


def test_own_hours_and_the_notify_rule(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    worker = login(client, biz, "worker")
    me = biz.users["worker"]
    default = ok(worker.get(f"/users/{me}/working-hours"))
    assert default["own"] is False
    assert default["hours"]["mo"] == [["07:00", "17:00"]]
    mine = {"mo": [["10:00", "14:00"]], "di": [["06:00", "12:00"], ["12:30", "15:00"]]}
    set_ = ok(worker.put(f"/users/{me}/working-hours", json={"hours": mine}))
    assert set_["own"] is True
    assert set_["hours"]["di"] == mine["di"]
    rule = ok(worker.get(f"/users/{me}/notify-now"))  # Monday 09:00: before their 10:00
    assert rule["notify_now"] is False
    assert rule["deliver_after"] == ctx.now_ms() + 3_600_000
    assert ok(worker.get(f"/users/{me}/notify-now", params={"urgent": True}))["notify_now"] is True
    clock.advance(hours=1)
    assert ok(worker.get(f"/users/{me}/notify-now"))["notify_now"] is True
    # A colleague's hours are visible to staff (who can be reached when), not changeable.
    lead = login(client, biz, "lead")
    assert ok(lead.get(f"/users/{me}/working-hours"))["hours"]["mo"] == [["10:00", "14:00"]]
    assert_error(lead.put(f"/users/{me}/working-hours", json={"hours": {}}), 403, "forbidden")
    office = login(client, biz, "office")
    reset = ok(office.put(f"/users/{me}/working-hours", json={"hours": None}))
    assert reset["own"] is False


def test_a_report_outside_hours_waits_unless_dringend(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business
) -> None:
    owner = login(client, biz, "owner")
    project = make_project(owner, biz)
    lead_id = biz.users["lead"]
    lead = login(client, biz, "lead")
    ok(lead.put(f"/users/{lead_id}/working-hours", json={"hours": {"di": [["08:00", "16:00"]]}}))
    worker = login(client, biz, "worker")
    for priority in ("normal", "dringend"):
        body = {
            "client_id": f"r-{new_id()}",
            "category": "mangel",
            "text": "Leck",
            "priority": priority,
        }
        ok(worker.post(f"/projects/{project['id']}/reports", json=body), 201)
    now = [n["urgent"] for n in ok(lead.get("/notifications"))["notifications"]]
    assert now == [True]
    held = ok(lead.get("/notifications", params={"include_held": True}))["notifications"]
    tuesday_8 = _ms(2026, 3, 3, 7, 0)
    assert sorted(n["deliver_after"] for n in held) == [ctx.now_ms(), tuesday_8]


def test_business_rules(client: TestClient, biz: Business) -> None:
    owner, worker = login(client, biz, "owner"), login(client, biz, "worker")
    rules = ok(worker.get("/tenant/rules"))
    assert (rules["reply_minutes"], rules["escalation_minutes"]) == (240, 30)
    assert rules["timezone"] == "Europe/Berlin"
    changed = ok(owner.patch("/tenant/rules", json={"reply_minutes": 120}))
    assert changed["reply_minutes"] == 120
    assert_error(worker.patch("/tenant/rules", json={"reply_minutes": 60}), 403, "forbidden")
    for bad, code in [
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
        ({"hours": {"mo": [["17:00", "07:00"]]}}, "invalid_hours"),
        ({"hours": {"mo": [["07:00", "12:00"], ["11:00", "13:00"]]}}, "invalid_hours"),
        ({"hours": {"montag": []}}, "invalid_hours"),
        ({"hours": {"mo": [["7", "12:00"]]}}, "invalid_hours"),
    ]:
        assert_error(owner.patch("/tenant/rules", json=bad), 422, code)
    assert ok(owner.get("/tenant/rules"))["reply_minutes"] == 120
