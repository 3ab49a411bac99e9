"""Working time: the business's rules, each person's working hours, the notification rule
("may this person be told now?") and the notifications waiting for me."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from zunft.customers.service import check_staff_actor
from zunft.hours.service import (
    do_set_rules,
    do_set_working_hours,
    get_notifications,
    get_notify_rule,
    get_rules,
    get_working_hours,
)
from zunft.web.deps import Ctx, CurrentActor
from zunft.web.models import Body

router = APIRouter(tags=["working hours"])

WEEK_DOC = (
    'Days mo di mi do fr sa so, each a list of ["HH:MM", "HH:MM"] intervals in the business\'s '
    'time zone, e.g. {"mo": [["07:00", "12:00"], ["12:30", "16:00"]]}.'
)


class RulesIn(Body):
    timezone: str | None = Field(default=None, max_length=64)
    hours: dict[str, list[list[str]]] | None = Field(default=None, description=WEEK_DOC)
    reply_minutes: int | None = Field(
        default=None, ge=1, le=10080, description="Working minutes to answer a customer."
    )
    escalation_minutes: int | None = Field(
        default=None, ge=1, le=1440, description="Working minutes to acknowledge a report."
    )


class WorkingHoursIn(Body):
    hours: dict[str, list[list[str]]] | None = Field(
        description=WEEK_DOC + " null: the business's hours apply."
    )


@router.get("/tenant/rules", summary="The business's time rules (working week, reply times)")
def rules(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    check_staff_actor(actor)
    return ctx.read(lambda rx: get_rules(rx, actor.tenant_id))


@router.patch("/tenant/rules", summary="Change the business's time rules (owner, office)")
def patch_rules(body: RulesIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return ctx.write(lambda tx: do_set_rules(tx, actor, changes))


@router.get("/users/{user_id}/working-hours", summary="A colleague's working hours")
def working_hours(user_id: str, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return ctx.read(lambda rx: get_working_hours(rx, actor, user_id))


@router.put(
    "/users/{user_id}/working-hours", summary="Set working hours (my own; owner, office: anyone's)"
)
def put_working_hours(
    user_id: str, body: WorkingHoursIn, actor: CurrentActor, ctx: Ctx
) -> dict[str, Any]:
    return ctx.write(lambda tx: do_set_working_hours(tx, actor, user_id, body.hours))


@router.get(
    "/users/{user_id}/notify-now",
    summary="May this person be notified now? (outside working hours only dringend)",
)
def notify_now(
    user_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    urgent: bool = False,
    at: int | None = Query(default=None, ge=0, le=2**53, description="Epoch ms; default now."),
) -> dict[str, Any]:
    return ctx.read(lambda rx: get_notify_rule(rx, actor, user_id, urgent=urgent, at_ms=at))


@router.get("/notifications", summary="My notifications that may reach me now")
def notifications(actor: CurrentActor, ctx: Ctx, include_held: bool = False) -> dict[str, Any]:
    check_staff_actor(actor)
    return {
        "notifications": ctx.read(
            lambda rx: get_notifications(rx, actor, include_held=include_held)
        )
    }
