"""The project gallery, captions and tags, and the photo report PDF."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from zunft.blobs import uploads as up
from zunft.blobs.gallery import do_describe_file, get_gallery, get_tag_list
from zunft.blobs.media import LOCAL
from zunft.blobs.report import get_report_data, render
from zunft.errors import Invalid
from zunft.web.deps import Ctx, CurrentActor
from zunft.web.models import Body

router = APIRouter(tags=["gallery"])
REPORT_MAX_PHOTOS = 500


class FileChangeIn(Body):
    caption: str | None = Field(default=None, max_length=1000)
    tags: list[str] | None = Field(default=None, max_length=10)


def _day_start(value: date | None) -> int | None:
    if value is None:
        return None
    return int(datetime.combine(value, time(), LOCAL).timestamp() * 1000)


def _day_end(value: date | None) -> int | None:
    """The first millisecond after the day (German time)."""
    return _day_start(value + timedelta(days=1)) if value is not None else None


def _period(date_from: date | None, date_to: date | None) -> tuple[int | None, int | None]:
    if date_from is not None and date_to is not None and date_to < date_from:
        raise Invalid("date_to lies before date_from.", code="invalid_period")
    return _day_start(date_from), _day_end(date_to)


@router.patch("/files/{file_id}", summary="Change a file's caption and tags")
def describe(file_id: str, body: FileChangeIn, actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    given = body.model_fields_set
    return ctx.write(
        lambda tx: do_describe_file(
            tx,
            actor,
            file_id,
            caption=body.caption,
            set_caption="caption" in given,
            tags=body.tags if "tags" in given else None,
        )
    )


@router.get("/gallery/tags", summary="Tags to choose from: the defaults and the business's own")
def tags(actor: CurrentActor, ctx: Ctx) -> dict[str, Any]:
    return {"tags": ctx.read(lambda rx: get_tag_list(rx, actor))}


@router.get(
    "/projects/{project_id}/gallery",
    summary=(
        "Photos and videos of a project, newest first (period, uploader, kind, tag, place,"
        " words in the name or caption)"
    ),
)
def gallery(
    project_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    date_from: date | None = None,
    date_to: date | None = None,
    uploader_id: str | None = Query(default=None, max_length=26),
    kind: Annotated[
        list[Literal["photo", "video", "voice", "document", "file"]] | None, Query(max_length=5)
    ] = None,
    tag: Annotated[list[str] | None, Query(max_length=10)] = None,
    before: str | None = Query(default=None, max_length=60),
    limit: int = Query(default=50, ge=1, le=100),
    lat: float | None = Query(default=None, ge=-90, le=90),
    lon: float | None = Query(default=None, ge=-180, le=180),
    radius_m: float = Query(default=100, gt=0, le=100_000),
    text: str | None = Query(default=None, max_length=100),
) -> dict[str, Any]:
    since, until = _period(date_from, date_to)
    if (lat is None) != (lon is None):
        raise Invalid("Give lat and lon together.", code="invalid_filter")
    near = (lat, lon, radius_m) if lat is not None and lon is not None else None
    return ctx.read(
        lambda rx: get_gallery(
            rx,
            actor,
            project_id,
            since=since,
            until=until,
            uploader_id=uploader_id,
            kind=kind,
            tags=tag,
            before=before,
            limit=limit,
            near=near,
            text=text,
        )
    )


@router.get(
    "/projects/{project_id}/report",
    summary="Fotodokumentation: the project's photos in a period as PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def report(
    project_id: str,
    actor: CurrentActor,
    ctx: Ctx,
    date_from: date | None = None,
    date_to: date | None = None,
    tag: Annotated[list[str] | None, Query(max_length=10)] = None,
    positions: bool = False,
) -> Response:
    since, until = _period(date_from, date_to)

    def build() -> bytes:
        data = ctx.read(
            lambda rx: get_report_data(rx, actor, project_id, since=since, until=until, tags=tag)
        )
        if len(data.items) > REPORT_MAX_PHOTOS:
            raise Invalid(
                f"A report holds at most {REPORT_MAX_PHOTOS} photos; choose a shorter period.",
                code="report_too_large",
            )
        previews = []
        for item in data.items:
            _, reader = up.open_file(ctx, actor, item["id"], "large")
            previews.append(reader.read())
        return render(data, previews, positions=positions and actor.kind == "staff")

    pdf = await run_in_threadpool(build)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="Fotodokumentation.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
