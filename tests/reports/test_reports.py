"""Problem reports: routing, acknowledgement, escalation along the chain with a FakeClock,
status changes posted into the project chat, boards with filters.

The FakeClock starts on Monday 2 March 2026, 08:00 UTC = 09:00 in Berlin; the business's
default working week is Monday to Friday, 07:00 to 17:00 Berlin time."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.customers.helpers import make_project, ok
from tests.factories import Api, Business, journal_entries, login
from tests.web.helpers import assert_error
from zunft.clock import FakeClock
from zunft.context import AppContext
from zunft.due import run_due
from zunft.ids import new_id


def _report(api: Api, project_id: str, **extra: Any) -> dict[str, Any]:
    body = {"client_id": f"r-{new_id()}", "category": "mangel", "text": "Fliese gesprungen"}
    return dict(ok(api.post(f"/projects/{project_id}/reports", json={**body, **extra}), 201))


def _rule(api: Api, **body: Any) -> Any:
    return api.post("/routing-rules", json=body)


def _texts(api: Api, chat_id: str) -> list[str]:
    return [m["text"] for m in ok(api.get(f"/chats/{chat_id}/messages"))["messages"]]


@pytest.fixture
def setup(client: TestClient, biz: Business) -> dict[str, Any]:
    owner = login(client, biz, "owner")
    return {
        "owner": owner,
        "project": make_project(owner, biz),
        "worker": login(client, biz, "worker"),
    }


def test_report_goes_to_the_project_lead_by_default(
    ctx: AppContext, client: TestClient, biz: Business, setup: dict[str, Any]
) -> None:
    worker, project = setup["worker"], setup["project"]
    report = _report(
        worker,
        project["id"],
        priority="dringend",
        position={"lat": 52.52, "lon": 13.40, "note": "Bad OG"},
    )
    assert report["number"] == 1
    assert report["status"] == "offen"
    assert report["assignee_id"] == biz.users["lead"]
    assert [c["user_id"] for c in report["chain"]] == [biz.users["lead"], biz.users["office"]]
    assert report["chain"][0]["current"] is True
    assert report["position"] == {"lat": "52.520000", "lon": "13.400000", "note": "Bad OG"}
    [posted] = _texts(worker, project["chat_id"])[-1:]
    assert posted.startswith("Meldung #1 (Mangel, dringend): Fliese gesprungen")
    assert "Zuständig: Lead mueller" in posted
    [created] = journal_entries(ctx, biz.tenant_id, "report.created")
    assert created["assignee_id"] == biz.users["lead"]
    lead = login(client, biz, "lead")
    [note] = ok(lead.get("/notifications"))["notifications"]
    assert (note["kind"], note["ref_id"], note["urgent"]) == (
        "report.assigned",
        report["id"],
        True,
    )


def test_routing_rules_person_role_project_override(
    client: TestClient, biz: Business, setup: dict[str, Any]
) -> None:
    owner, worker, project = setup["owner"], setup["worker"], setup["project"]
    ok(_rule(owner, category="materialbedarf", target_kind="user", target=biz.users["worker"]), 201)
    ok(_rule(owner, category="sicherheit", target_kind="role", target="owner"), 201)
    ok(
        _rule(
            owner,
            category="materialbedarf",
            target_kind="user",
            target=biz.users["apprentice"],
            project_id=project["id"],
        ),
        201,
    )
    ok(_rule(owner, category="kundenanliegen", target_kind="category", target="sicherheit"), 201)
    material = _report(worker, project["id"], category="materialbedarf")
    assert [c["user_id"] for c in material["chain"]] == [
        biz.users["apprentice"],  # the project's override first
        biz.users["worker"],  # then the business's rule
        biz.users["lead"],
        biz.users["office"],
    ]
    customer = _report(worker, project["id"], category="kundenanliegen")
    assert customer["assignee_id"] == biz.users["owner"]  # handled like Sicherheit
    # Another project has no override.
    other = ok(
        owner.post("/projects", json={"name": "Keller", "member_ids": [biz.users["worker"]]}), 201
    )
    assert (
        _report(worker, other["id"], category="materialbedarf")["assignee_id"]
        == biz.users["worker"]
    )
    # The lead of the project sees its rules; a worker cannot add any.
    lead = login(client, biz, "lead")
    rules = ok(lead.get("/routing-rules", params={"project_id": project["id"]}))["rules"]
    assert len(rules) == 4
    r = _rule(worker, category="mangel", target_kind="role", target="worker")
    assert_error(r, 403, "forbidden")


def test_report_routed_to_a_disabled_user_falls_through(
    ctx: AppContext, client: TestClient, biz: Business, setup: dict[str, Any]
) -> None:
    owner, worker, project = setup["owner"], setup["worker"], setup["project"]
    ok(_rule(owner, category="mangel", target_kind="user", target=biz.users["apprentice"]), 201)
    ok(owner.patch(f"/users/{biz.users['apprentice']}", json={"disabled": True}))
    report = _report(worker, project["id"])
    assert report["assignee_id"] == biz.users["lead"]
    assert biz.users["apprentice"] not in [c["user_id"] for c in report["chain"]]
    # Disabled after the report reached them: the next round passes it on at once.
    ok(owner.patch(f"/users/{biz.users['lead']}", json={"disabled": True}))
    assert run_due(ctx)["escalated"] == 1
    moved = ok(owner.get(f"/reports/{report['id']}"))
    assert moved["assignee_id"] == biz.users["office"]
    assert moved["history"][-1]["reason"] == "disabled"


def test_routing_loops_are_refused_when_saved(
    ctx: AppContext, client: TestClient, biz: Business, setup: dict[str, Any]
) -> None:
    owner, project = setup["owner"], setup["project"]
    own = ok(owner.post("/report-categories", json={"name": "Gerüst"}), 201)
    ok(_rule(owner, category="kundenanliegen", target_kind="category", target="mangel"), 201)
    ok(_rule(owner, category="mangel", target_kind="category", target=own["key"]), 201)
    before = ok(owner.get("/routing-rules"))["rules"]
    err = assert_error(
        _rule(owner, category=own["key"], target_kind="category", target="kundenanliegen"),
        409,
        "routing_loop",
    )
    assert err["details"]["loop"] == [own["key"], "kundenanliegen", "mangel", own["key"]]
    assert_error(
        _rule(owner, category="mangel", target_kind="category", target="mangel"),
        409,
        "routing_loop",
    )
    # A project's override can close a loop with the business's rules, too.
    r = _rule(
        owner,
        category=own["key"],
        target_kind="category",
        target="kundenanliegen",
        project_id=project["id"],
    )
    assert_error(r, 409, "routing_loop")
    assert ok(owner.get("/routing-rules"))["rules"] == before
    # What is saved still routes: Kundenanliegen → Mangel → Gerüst → (no rule) lead.
    report = _report(setup["worker"], project["id"], category="kundenanliegen")
    assert report["assignee_id"] == biz.users["lead"]


def test_escalation_within_working_hours(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business, setup: dict[str, Any]
) -> None:
    worker, project = setup["worker"], setup["project"]
    report = _report(worker, project["id"])
    due = run_due(ctx)  # (it also writes the day's first checkpoint: docs/archive.md)
    assert (due["escalated"], due["reminded"]) == (0, 0)
    clock.advance(minutes=29)
    assert run_due(ctx)["escalated"] == 0
    clock.advance(minutes=1)
    assert run_due(ctx)["escalated"] == 1
    assert run_due(ctx)["escalated"] == 0  # once per deadline
    office = login(client, biz, "office")
    seen = ok(office.get(f"/reports/{report['id']}"))
    assert seen["assignee_id"] == biz.users["office"]
    assert [(c["passed"], c["current"]) for c in seen["chain"]] == [(True, False), (False, True)]
    # Everybody in the chain sees where it stands, also the lead it passed by.
    lead = login(client, biz, "lead")
    assert ok(lead.get(f"/reports/{report['id']}"))["assignee_id"] == biz.users["office"]
    [escalated] = journal_entries(ctx, biz.tenant_id, "report.escalated")
    assert (escalated["from"], escalated["to"]) == (biz.users["lead"], biz.users["office"])
    # The end of the chain: the office is told, and it stays there.
    clock.advance(minutes=30)
    assert run_due(ctx)["escalated"] == 1
    assert ok(office.get(f"/reports/{report['id']}"))["escalation_exhausted"] is True
    clock.advance(hours=5)
    assert run_due(ctx)["escalated"] == 0
    acked = ok(office.post(f"/reports/{report['id']}/acknowledge"))
    assert acked["status"] == "angenommen"
    assert acked["escalation_exhausted"] is False


def test_escalation_outside_working_hours_only_for_dringend(
    ctx: AppContext, client: TestClient, clock: FakeClock, biz: Business, setup: dict[str, Any]
) -> None:
    clock.advance(hours=7, minutes=50)  # Monday 16:50 in Berlin
    worker, project = setup["worker"], setup["project"]
    normal = _report(worker, project["id"])
    urgent = _report(worker, project["id"], priority="dringend")
    clock.advance(minutes=30)  # 17:20: after hours
    assert run_due(ctx)["escalated"] == 1
    owner = setup["owner"]
    assert ok(owner.get(f"/reports/{urgent['id']}"))["assignee_id"] == biz.users["office"]
    assert ok(owner.get(f"/reports/{normal['id']}"))["assignee_id"] == biz.users["lead"]
    clock.advance(hours=13, minutes=59)  # Tuesday 07:19: 29 working minutes since 16:50
    run_due(ctx)  # (the dringend one reaches the end of its chain at the office)
    assert ok(owner.get(f"/reports/{normal['id']}"))["assignee_id"] == biz.users["lead"]
    clock.advance(minutes=1)  # 07:20: 10 + 20 working minutes
    assert run_due(ctx)["escalated"] == 1
    assert ok(owner.get(f"/reports/{normal['id']}"))["assignee_id"] == biz.users["office"]


def test_status_flow_is_journaled_and_posted(
    ctx: AppContext, client: TestClient, biz: Business, setup: dict[str, Any]
) -> None:
    worker, project = setup["worker"], setup["project"]
    lead = login(client, biz, "lead")
    report = _report(worker, project["id"])
    rid = report["id"]
    assert_error(
        worker.post(f"/reports/{rid}/status", json={"status": "erledigt"}), 403, "not_responsible"
    )
    assert ok(lead.post(f"/reports/{rid}/acknowledge"))["status"] == "angenommen"
    assert_error(
        lead.post(f"/reports/{rid}/status", json={"status": "offen"}), 409, "invalid_transition"
    )
    assert ok(lead.post(f"/reports/{rid}/status", json={"status": "in_arbeit"}))[
        "status_label"
    ] == ("in Arbeit")
    done = lead.post(f"/reports/{rid}/status", json={"status": "erledigt", "client_id": "fertig-1"})
    assert ok(done)["status"] == "erledigt"
    again = lead.post(
        f"/reports/{rid}/status", json={"status": "erledigt", "client_id": "fertig-1"}
    )
    assert again.headers["idempotent-replayed"] == "true"
    # The reporter sees it is not solved and reopens it; the lead must acknowledge again.
    reopened = ok(worker.post(f"/reports/{rid}/status", json={"status": "offen"}))
    assert (reopened["status"], reopened["assignee_id"]) == ("offen", biz.users["lead"])
    assert reopened["acknowledged_at"] is None
    changes = journal_entries(ctx, biz.tenant_id, "report.status_changed")
    assert [(c["from"], c["to"]) for c in changes] == [
        ("offen", "angenommen"),
        ("angenommen", "in_arbeit"),
        ("in_arbeit", "erledigt"),
        ("erledigt", "offen"),
    ]
    posted = _texts(worker, project["chat_id"])[-4:]
    assert posted == [
        "Meldung #1: offen → angenommen (angenommen von Lead mueller)",
        "Meldung #1: angenommen → in Arbeit (in Arbeit von Lead mueller)",
        "Meldung #1: in Arbeit → erledigt (erledigt von Lead mueller)",
        "Meldung #1: erledigt → offen (wieder geöffnet von Worker mueller)",
    ]
    history = ok(lead.get(f"/reports/{rid}"))["history"]
    assert [h["kind"] for h in history] == ["created", "status", "status", "status", "status"]


def test_boards_and_filters(client: TestClient, biz: Business, setup: dict[str, Any]) -> None:
    owner, worker, project = setup["owner"], setup["worker"], setup["project"]
    other = ok(owner.post("/projects", json={"name": "Keller"}), 201)
    a = _report(worker, project["id"])
    b = _report(worker, project["id"], category="materialbedarf", priority="dringend")
    c = _report(owner, other["id"], category="sicherheit")
    lead = login(client, biz, "lead")
    ok(lead.post(f"/reports/{a['id']}/status", json={"status": "in_arbeit"}))

    def ids(api: Api, path: str, **params: Any) -> list[str]:
        return [r["id"] for r in ok(api.get(path, params=params))["reports"]]

    assert ids(owner, "/reports") == [c["id"], b["id"], a["id"]]
    assert ids(owner, f"/projects/{project['id']}/reports") == [b["id"], a["id"]]
    assert ids(owner, "/reports", status="in_arbeit") == [a["id"]]
    assert ids(owner, "/reports", status=["offen", "in_arbeit"]) == [c["id"], b["id"], a["id"]]
    assert ids(owner, "/reports", priority="dringend") == [b["id"]]
    assert ids(owner, "/reports", category="sicherheit") == [c["id"]]
    assert ids(owner, "/reports", assignee_id=biz.users["lead"]) == [b["id"], a["id"]]
    assert ids(owner, "/reports", assignee_id=biz.users["office"]) == [c["id"]]  # no lead
    board = ok(owner.get("/reports", params={"project_id": project["id"]}))
    assert board["counts"] == {"offen": 1, "angenommen": 0, "in_arbeit": 1, "erledigt": 0}
    # The worker is not in "Keller" and not in its chain: it is not on their board.
    assert ids(worker, "/reports") == [b["id"], a["id"]]
    r = worker.get(f"/reports/{c['id']}")
    assert_error(r, 404, "not_found")
    assert_error(worker.get(f"/projects/{other['id']}/reports"), 404, "not_found")
    assert_error(owner.get("/reports", params={"status": "kaputt"}), 422, "validation_error")


def test_bad_report_input(
    ctx: AppContext, client: TestClient, biz: Business, setup: dict[str, Any]
) -> None:
    worker, project = setup["worker"], setup["project"]
    path = f"/projects/{project['id']}/reports"
    base = {"client_id": "r-schlecht-1", "category": "mangel", "text": "x"}
    assert_error(worker.post(path, json={**base, "category": "unbekannt"}), 422, "invalid_category")
    assert_error(worker.post(path, json={**base, "text": "   "}), 422, "empty_text")
    assert_error(worker.post(path, json={**base, "priority": "sofort"}), 422, "validation_error")
    assert_error(worker.post(path, json={**base, "photo_ids": ["../etc"]}), 422, "invalid_photos")
    bad_pos = {**base, "position": {"lat": 1.0}}
    assert_error(worker.post(path, json=bad_pos), 422, "invalid_position")
    assert ok(worker.get("/reports"))["reports"] == []
    apprentice = login(client, biz, "apprentice")  # not in the project
    assert_error(apprentice.post(path, json=base), 404, "not_found")


def test_a_customer_message_becomes_a_kundenanliegen(
    client: TestClient, biz: Business, setup: dict[str, Any]
) -> None:
    from tests.customers.helpers import invite, join, msg

    owner, project = setup["owner"], setup["project"]
    erika, chat = join(client, invite(owner, project["id"])["token"])
    asked = ok(erika.post(f"/chats/{chat}/messages", json=msg("Der Wasserhahn tropft.")), 201)
    lead = login(client, biz, "lead")
    report = _report(
        lead,
        project["id"],
        category="kundenanliegen",
        text="Wasserhahn Bad tropft",
        source_message_id=asked["id"],
    )
    assert report["source_message_id"] == asked["id"]
    # A message of another project's chat is refused.
    other = ok(owner.post("/projects", json={"name": "Keller"}), 201)
    elsewhere = ok(owner.post(f"/chats/{other['chat_id']}/messages", json=msg("Hallo")), 201)
    r = owner.post(
        f"/projects/{project['id']}/reports",
        json={
            "client_id": "r-anderswo-1",
            "category": "mangel",
            "text": "x",
            "source_message_id": elsewhere["id"],
        },
    )
    assert_error(r, 422, "invalid_source")
    # The customer sees nothing of it: reports are staff business.
    assert_error(erika.get(f"/reports/{report['id']}"), 403, "staff_only")


def test_own_categories_are_idempotent(client: TestClient, setup: dict[str, Any]) -> None:
    owner = setup["owner"]
    body = {"name": "Gerüst", "client_id": "kategorie-1"}
    first = ok(owner.post("/report-categories", json=body), 201)
    again = owner.post("/report-categories", json=body)
    assert (again.status_code, again.json()) == (201, first)
    assert again.headers["idempotent-replayed"] == "true"
    assert_error(owner.post("/report-categories", json={"name": "mangel"}), 409, "category_exists")
    names = [c["name"] for c in ok(owner.get("/report-categories"))["categories"]]
    assert names == [
        "Mangel",
        "Materialbedarf",
        "Sicherheit",
        "Terminproblem",
        "Kundenanliegen",
        "Gerüst",
    ]
    worker = setup["worker"]
    assert_error(worker.post("/report-categories", json={"name": "Eigenes"}), 403, "forbidden")
