"""Problem reports (Meldungen): categories, routing rules, raising, acknowledging, status
changes and the boards (per project and for the whole business)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from zunft.reports.service import (
    do_acknowledge,
    do_add_routing_rule,
    do_create_category,
    do_create_report,
    do_delete_routing_rule,
    do_set_status,
    get_categories,
    get_report,
    get_reports,
    get_routing_rules,
)
from zunft.web.deps import Ctx, CurrentActor, write_once
from zunft.web.models import Body

router = APIRouter(tags=["reports"])

Status = Literal["offen", "angenommen", "in_arbeit", "erledigt"]
Priority = Literal["normal", "dringend"]
StatusFilter = Annotated[list[Status] | None, Query(description="Repeat for several.")]


class CategoryIn(Body):
    client_id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=60)


class RoutingRuleIn(Body):
    client_id: str | None = Field(default=None, max_length=64)
    category: str = Field(
        max_length=26, description="A built-in key (mangel, ...) or a category id."
    )
    target_kind: Literal["user", "role", "category"] = Field(
        description="user: a person; role: everyone with the role; category: handle like another."
    )
    target: str = Field(max_length=26)
    project_id: str | None = Field(
        default=None, max_length=26, description="Set: an override for this project only."
    )


class PositionIn(Body):
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=300)


class ReportIn(Body):
    client_id: str = Field(max_length=64)
    category: str = Field(max_length=26)
    priority: Priority = "normal"
    text: str = Field(description="What is wrong (limit 10,000 characters).")
    position: PositionIn | None = None
    photo_ids: list[str] = Field(default_factory=list, max_length=20)
    source_message_id: str | None = Field(
        default=None, max_length=26, description="Raised from this message of the project chat."
    )


class StatusIn(Body):
    client_id: str | None = Field(default=None, max_length=64)
    status: Status


@router.get("/report-categories", summary="Report categories: the built-in ones and our own")
def categories(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"categories": ctx.read(lambda rx: get_categories(rx, actor))}


@router.post("/report-categories", status_code=201, summary="Add a category (owner, office)")
def create_category(
    body: CategoryIn, actor: CurrentActor, response: Response, ctx: Ctx
) -> dict[str, Any]:
    return write_once(
        ctx,
        actor,
        response,
        body.client_id,
        {"name": body.name},
        lambda tx: do_create_category(tx, actor, body.name),
    )


@router.get(
    "/routing-rules", summary="Routing rules (with project_id: the project's overrides too)"
)
def routing_rules(
    actor: CurrentActor, ctx: Ctx, project_id: str | None = Query(default=None, max_length=26)
) -> dict[str, Any]:
    return {"rules": ctx.read(lambda rx: get_routing_rules(rx, actor, project_id))}


@router.post(
    "/routing-rules",
    status_code=201,
    summary="Add a routing rule (a rule that would loop is refused: routing_loop)",
)
def add_routing_rule(
    body: RoutingRuleIn, actor: CurrentActor, response: Response, ctx: Ctx
) -> dict[str, Any]:
    return write_once(
        ctx,
        actor,
        response,
        body.client_id,
        body.model_dump(exclude={"client_id"}),
        lambda tx: do_add_routing_rule(
            tx,
            actor,
            category=body.category,
            target_kind=body.target_kind,
            target=body.target,
            project_id=body.project_id,
        ),
    )


@router.delete("/routing-rules/{rule_id}", status_code=204, summary="Remove a routing rule")
def delete_routing_rule(rule_id: str, actor: CurrentActor, ctx: Ctx) -> Response:
    ctx.write(lambda tx: do_delete_routing_rule(tx, actor, rule_id))
    return Response(status_code=204)


@router.post(
    "/projects/{project_id}/reports",
    status_code=201,
    summary="Raise a report in a project (routed at once, posted into the project chat)",
)
def create_report(
    project_id: str, body: ReportIn, actor: CurrentActor, response: Response, ctx: Ctx
) -> dict[str, Any]:
    position = body.position.model_dump() if body.position else None
    request = {
        "project_id": project_id,
        **body.model_dump(exclude={"client_id", "position"}),
        # Canonical JSON (the idempotency hash) has no floats.
        "position": {k: repr(v) for k, v in position.items()} if position else None,
    }
    return write_once(
        ctx,
        actor,
        response,
        body.client_id,
        request,
        lambda tx: do_create_report(
            tx,
            actor,
            project_id,
            category=body.category,
            priority=body.priority,
            text=body.text,
            position=position,
            photo_ids=body.photo_ids,
            source_message_id=body.source_message_id,
        ),
    )


def _board(
    ctx: Ctx,
    actor: CurrentActor,
    project_id: str | None,
    status: list[Status] | None,
    assignee_id: str | None,
    category: str | None,
    priority: Priority | None,
) -> dict[str, Any]:
    return ctx.read(
        lambda rx: get_reports(
            rx,
            actor,
            project_id=project_id,
            status=list(status or []),
            assignee_id=assignee_id,
            category=category,
            priority=priority,
        )
    )


@router.get("/projects/{project_id}/reports", summary="The project's report board, filterable")
def project_board(
    project_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    status: StatusFilter = None,
    assignee_id: str | None = Query(default=None, max_length=26),
    category: str | None = Query(default=None, max_length=26),
    priority: Priority | None = None,
) -> dict[str, Any]:
    return _board(ctx, actor, project_id, status, assignee_id, category, priority)


@router.get("/reports", summary="The business's report board (what I may see), filterable")
def business_board(
    actor: CurrentActor,
    ctx: Ctx,
    project_id: str | None = Query(default=None, max_length=26),
    status: StatusFilter = None,
    assignee_id: str | None = Query(default=None, max_length=26),
    category: str | None = Query(default=None, max_length=26),
    priority: Priority | None = None,
) -> dict[str, Any]:
    return _board(ctx, actor, project_id, status, assignee_id, category, priority)


@router.get("/reports/{report_id}", summary="One report: where it stands in its chain, history")
def report(report_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: get_report(rx, actor, report_id))


@router.post("/reports/{report_id}/acknowledge", summary="Acknowledge: I take care of it")
def acknowledge(report_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.write(lambda tx: do_acknowledge(tx, actor, report_id))


@router.post(
    "/reports/{report_id}/status",
    summary="Change the status: offen, angenommen, in_arbeit, erledigt (erledigt → offen reopens)",
)
def set_status(
    report_id: str, body: StatusIn, actor: CurrentActor, response: Response, ctx: Ctx
) -> dict[str, Any]:
    return write_once(
        ctx,
        actor,
        response,
        body.client_id,
        {"report_id": report_id, "status": body.status},
        lambda tx: do_set_status(tx, actor, report_id, body.status),
        status=200,
    )
