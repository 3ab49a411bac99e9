"""Archive exports for owner and office: start one, watch its progress, download the ZIP
(docs/archive.md, "Export jobs"). The work runs in archive/jobs.py, outside the request."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import Field

from zunft.archive.export import ExportRequest, do_record_download
from zunft.archive.jobs import ExportJobs, check_export_actor
from zunft.archive.tables import LOCAL
from zunft.crypto.signing import key_id, load_signing_key, public_bytes, public_key_b64
from zunft.errors import Invalid
from zunft.web.deps import Ctx, CurrentActor
from zunft.web.models import Body

router = APIRouter(tags=["archive"])


class ExportIn(Body):
    scope: Literal["business", "project", "chat", "customer", "person"] = "business"
    ref_id: str | None = Field(default=None, min_length=1, max_length=26)
    date_from: date | None = None
    date_to: date | None = None
    classes: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=20
    )


def _day_start(value: date) -> int:
    return int(datetime.combine(value, time(), LOCAL).timestamp() * 1000)


def _jobs(request: Request) -> ExportJobs:
    jobs: ExportJobs = request.app.state.exports
    return jobs


@router.post(
    "/archive/exports",
    status_code=202,
    summary="Start an export (owner, office): business, project, chat, customer or person",
)
def start_export(body: ExportIn, request: Request, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    check_export_actor(actor)
    if body.date_from and body.date_to and body.date_to < body.date_from:
        raise Invalid("date_to lies before date_from.", code="invalid_period")
    req = ExportRequest(
        tenant_id=actor.tenant_id,
        scope=body.scope,
        ref_id=body.ref_id,
        since=_day_start(body.date_from) if body.date_from else None,
        until=_day_start(body.date_to + timedelta(days=1)) if body.date_to else None,
        classes=frozenset(body.classes) if body.classes is not None else None,
        actor_id=actor.user_id,
    )
    return _jobs(request).start(actor, req)


@router.get("/archive/exports", summary="The business's exports, newest first, with their state")
def list_exports(request: Request, actor: CurrentActor) -> dict[str, Any]:
    return {"exports": _jobs(request).list(actor)}


@router.get("/archive/exports/{export_id}", summary="One export's state and progress")
def get_export(export_id: str, request: Request, actor: CurrentActor) -> dict[str, Any]:
    return _jobs(request).get(actor, export_id)


@router.get(
    "/archive/exports/{export_id}/download",
    summary="The finished export as ZIP",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def download_export(export_id: str, request: Request, actor: CurrentActor, ctx: Ctx) -> Response:
    path = _jobs(request).zip_path(actor, export_id)
    ctx.write(
        lambda tx: do_record_download(
            tx, tenant_id=actor.tenant_id, actor_id=actor.user_id, export_id=export_id
        )
    )
    return FileResponse(
        path, media_type="application/zip", filename=f"zunft-export-{export_id}.zip"
    )


@router.get("/archive/public-key", summary="The installation's public signing key (Ed25519)")
def public_key(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    check_export_actor(actor)
    key = load_signing_key(ctx.settings)
    return {"key_id": key_id(public_bytes(key)), "public_key": public_key_b64(key)}
