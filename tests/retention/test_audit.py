"""The audit log: administrative journal entries for the owner, filtered and paged; and the
retention rules' API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.customers.helpers import ok
from tests.factories import Business, error, login


def test_owner_sees_admin_actions_filtered_and_paged(client: TestClient, biz: Business) -> None:
    owner = login(client, biz, "owner")
    ok(owner.patch(f"/users/{biz.users['worker']}", json={"role": "lead"}))
    ok(owner.put("/compliance/retention", json={"doc_class": "intern", "years": 2}))
    ok(owner.put("/compliance/retention", json={"doc_class": "geschaeftsbrief", "years": 10}))
    log = ok(owner.get("/compliance/audit"))["entries"]
    kinds = [e["kind"] for e in log]
    assert kinds[:3] == ["retention.rule_changed", "retention.rule_changed", "user.role_changed"]
    assert "message.sent" not in kinds
    assert log[0]["payload"] == {"doc_class": "geschaeftsbrief", "from": 6, "to": 10}

    only = ok(owner.get("/compliance/audit", params={"kind": "user.role_changed"}))["entries"]
    assert [e["payload"]["user_id"] for e in only] == [biz.users["worker"]]
    about = ok(owner.get("/compliance/audit", params={"person": biz.users["worker"]}))["entries"]
    assert "user.role_changed" in [e["kind"] for e in about]
    assert all(
        e["actor_id"] == biz.users["worker"] or biz.users["worker"] in e["payload"].values()
        for e in about
    )

    page = ok(owner.get("/compliance/audit", params={"limit": 2}))
    assert len(page["entries"]) == 2
    rest = ok(owner.get("/compliance/audit", params={"limit": 2, "before": page["next_before"]}))
    assert rest["entries"][0]["seq"] < page["entries"][-1]["seq"]
    late = ok(owner.get("/compliance/audit", params={"since": log[0]["at"] + 1}))
    assert late["entries"] == []


def test_audit_log_is_for_the_owner_and_kinds_are_checked(
    client: TestClient, biz: Business
) -> None:
    assert error(login(client, biz, "office").get("/compliance/audit")) == (403, "owner_only")
    owner = login(client, biz, "owner")
    r = owner.get("/compliance/audit", params={"kind": "message.sent"})
    assert error(r) == (422, "invalid_kind")


def test_retention_rules_never_go_below_the_law(client: TestClient, biz: Business) -> None:
    owner, office = login(client, biz, "owner"), login(client, biz, "office")
    rules = {r["doc_class"]: r for r in ok(office.get("/compliance/retention"))["rules"]}
    assert rules["geschaeftsbrief"]["years"] == 6
    assert rules["buchungsbeleg"]["years"] == 8
    r = owner.put("/compliance/retention", json={"doc_class": "buchungsbeleg", "years": 7})
    assert error(r) == (422, "below_legal_minimum")
    r = office.put("/compliance/retention", json={"doc_class": "intern", "years": 3})
    assert error(r) == (403, "owner_only")
    r = owner.put("/compliance/retention", json={"doc_class": "privat", "years": 3})
    assert error(r) == (422, "invalid_doc_class")
    assert error(login(client, biz, "worker").get("/compliance/retention")) == (403, "admin_only")
