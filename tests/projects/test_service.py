"""Projects: creation with a team chat, who may create and change them, status."""

from __future__ import annotations

import pytest

from tests.factories import Business, journal_kinds
from zunft.context import AppContext
from zunft.errors import Forbidden, Invalid, NotFound
from zunft.projects.service import do_create_project, do_update_project, get_project, get_projects


def test_create_makes_team_chat_with_members(ctx: AppContext, biz: Business) -> None:
    p = ctx.write(
        lambda tx: do_create_project(
            tx,
            biz.actor("office"),
            name="Badsanierung Schneider",
            address="Lindenstraße 12, 50667 Köln",
            customer_name="Familie Schneider",
            lead_id=biz.users["lead"],
            member_ids=[biz.users["worker"]],
        )
    )
    assert p["status"] == "active"
    assert p["address"] == "Lindenstraße 12, 50667 Köln"
    assert set(p["member_ids"]) == {biz.users[r] for r in ("office", "lead", "worker")}
    kinds = journal_kinds(ctx, biz.tenant_id)
    assert "project.created" in kinds
    assert kinds[-3:] == ["chat.member_added"] * 3


def test_lead_creates_and_leads_workers_cannot(ctx: AppContext, biz: Business) -> None:
    p = ctx.write(lambda tx: do_create_project(tx, biz.actor("lead"), name="Kita"))
    assert p["lead_id"] == biz.users["lead"]
    for role in ("worker", "apprentice"):
        with pytest.raises(Forbidden):
            ctx.write(lambda tx, role=role: do_create_project(tx, biz.actor(role), name="Eigenes"))
    with pytest.raises(Invalid):
        ctx.write(lambda tx: do_create_project(tx, biz.actor("owner"), name="   "))


def test_update_status_by_lead_or_admin(ctx: AppContext, biz: Business) -> None:
    p = ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("lead"), name="Kita", member_ids=[biz.users["worker"]]
        )
    )
    done = ctx.write(
        lambda tx: do_update_project(tx, biz.actor("lead"), p["id"], {"status": "completed"})
    )
    assert done["status"] == "completed"
    with pytest.raises(Forbidden):
        ctx.write(
            lambda tx: do_update_project(tx, biz.actor("worker"), p["id"], {"status": "active"})
        )
    with pytest.raises(Invalid):
        ctx.write(lambda tx: do_update_project(tx, biz.actor("owner"), p["id"], {"status": "weg"}))
    assert [
        x["id"]
        for x in ctx.read(lambda rx: get_projects(rx, biz.actor("owner"), status="completed"))
    ] == [p["id"]]
    assert journal_kinds(ctx, biz.tenant_id)[-1] == "project.updated"


def test_a_monteur_named_lead_of_a_project_manages_that_project_only(
    ctx: AppContext, biz: Business
) -> None:
    """The project's lead is whoever the owner names, whatever their role; the same rule as
    for its routing overrides and reports (and its customers: check_manage_project)."""
    small = ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("office"), name="Wasserhahn Meier", lead_id=biz.users["worker"]
        )
    )
    other = ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("office"), name="Kita", member_ids=[biz.users["worker"]]
        )
    )
    done = ctx.write(
        lambda tx: do_update_project(tx, biz.actor("worker"), small["id"], {"status": "completed"})
    )
    assert done["status"] == "completed"
    with pytest.raises(Forbidden):  # a member of another project, not its lead
        ctx.write(lambda tx: do_update_project(tx, biz.actor("worker"), other["id"], {"name": "X"}))
    with pytest.raises(NotFound):  # a lead by role, not in this project: it does not exist
        ctx.write(lambda tx: do_update_project(tx, biz.actor("lead"), small["id"], {"name": "Y"}))


def test_workers_see_only_their_projects(ctx: AppContext, biz: Business) -> None:
    mine = ctx.write(
        lambda tx: do_create_project(
            tx, biz.actor("office"), name="A", member_ids=[biz.users["worker"]]
        )
    )
    other = ctx.write(lambda tx: do_create_project(tx, biz.actor("office"), name="B"))
    assert {p["id"] for p in ctx.read(lambda rx: get_projects(rx, biz.actor("worker")))} == {
        mine["id"]
    }
    assert {p["id"] for p in ctx.read(lambda rx: get_projects(rx, biz.actor("owner")))} == {
        mine["id"],
        other["id"],
    }
    with pytest.raises(NotFound):
        ctx.read(lambda rx: get_project(rx, biz.actor("worker"), other["id"]))
