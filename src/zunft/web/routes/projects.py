"""Projects (Aufträge/Baustellen) and their members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from zunft.chats.service import do_change_membership
from zunft.projects.service import do_create_project, do_update_project, get_project, get_projects
from zunft.web.deps import Ctx, CurrentActor, write_once
from zunft.web.models import MemberIn, ProjectChangeIn, ProjectIn

router = APIRouter(tags=["projects"])


@router.get("/projects", summary="Projects I may see")
def list_projects(actor: CurrentActor, ctx: Ctx, status: str | None = None) -> dict[str, Any]:
    return {"projects": ctx.read(lambda rx: get_projects(rx, actor, status=status))}


@router.post("/projects", status_code=201, summary="Create a project with its team chat")
def create_project(
    body: ProjectIn, actor: CurrentActor, response: Response, ctx: Ctx
) -> dict[str, Any]:
    return write_once(
        ctx,
        actor,
        response,
        body.client_id,
        body.model_dump(exclude={"client_id"}),
        lambda tx: do_create_project(
            tx,
            actor,
            name=body.name,
            address=body.address,
            customer_name=body.customer_name,
            lead_id=body.lead_id,
            member_ids=body.member_ids,
        ),
    )


@router.get("/projects/{project_id}", summary="One project")
def project(project_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: get_project(rx, actor, project_id))


@router.patch(
    "/projects/{project_id}", summary="Change a project (status: active, completed, archived)"
)
def patch_project(
    project_id: str, body: ProjectChangeIn, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return ctx.write(lambda tx: do_update_project(tx, actor, project_id, changes))


@router.post("/projects/{project_id}/members", summary="Add a colleague to a project")
def add_project_member(
    project_id: str, body: MemberIn, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    def work(tx: Any) -> dict[str, Any]:
        chat_id = get_project(tx, actor, project_id)["chat_id"]
        do_change_membership(tx, actor, chat_id, body.user_id, add=True)
        return get_project(tx, actor, project_id)

    return ctx.write(work)


@router.delete(
    "/projects/{project_id}/members/{user_id}", summary="Remove a colleague from a project"
)
def remove_project_member(
    project_id: str, user_id: str, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    def work(tx: Any) -> dict[str, Any]:
        chat_id = get_project(tx, actor, project_id)["chat_id"]
        do_change_membership(tx, actor, chat_id, user_id, add=False)
        return get_project(tx, actor, project_id)

    return ctx.write(work)
