"""The S3 store against a real SeaweedFS: the same uploads, ranges, expiry and encryption at
rest as on the local directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from tests.blobs import samples
from tests.blobs.helpers import fetch, media_rows, stored_keys, upload, uploaded
from tests.blobs.seaweed import ACCESS, BUCKET
from tests.factories import login, make_business
from tests.web.helpers import assert_error, general_chat_id
from zunft.blobs import uploads as up
from zunft.blobs.segments import BlobReader, SegmentWriter
from zunft.blobs.store import S3Store
from zunft.clock import FakeClock
from zunft.config import Settings
from zunft.context import AppContext, open_context
from zunft.ids import new_id
from zunft.web.app import create_app


@pytest.fixture
def s3_ctx(
    settings: Settings, clock: FakeClock, seaweed: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppContext]:
    for name, value in ACCESS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    prefix = f"t-{new_id()}"
    context = open_context(
        settings.with_overrides(blob_url=f"s3://{BUCKET}/{prefix}", s3_endpoint=seaweed),
        clock=clock,
        migrate=False,
    )
    assert isinstance(context.blobs, S3Store)
    yield context
    context.close()


@pytest.fixture
def s3_client(s3_ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(s3_ctx), base_url="http://127.0.0.1:8080") as c:
        yield c


def _all_objects(seaweed: str) -> list[bytes]:
    s3: Any = boto3.client("s3", endpoint_url=seaweed, region_name="us-east-1")
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            out.append(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
    return out


def test_segments_round_trip_on_s3(s3_ctx: AppContext) -> None:
    ctx = s3_ctx
    biz = make_business(ctx)
    cipher = ctx.keys.cipher(biz.tenant_id)
    assert ctx.blobs is not None
    data = os.urandom(2 * 1024 * 1024 + 777)
    writer = SegmentWriter(ctx.blobs, cipher, "blob-1", size=len(data))
    writer.write(data[:1_500_000])
    writer.flush_partial()
    # A later request continues from the stored partial segment.
    resumed = SegmentWriter(ctx.blobs, cipher, "blob-1", size=len(data), offset=1_500_000)
    resumed.write(data[1_500_000:])
    resumed.drop_parts(1_500_000)
    reader = BlobReader(ctx.blobs, cipher, "blob-1", size=len(data))
    assert b"".join(reader.iter_range(0, len(data) - 1)) == data
    assert b"".join(reader.iter_range(1048000, 1049000)) == data[1048000:1049001]
    assert not [k for k in ctx.blobs.keys(f"{biz.tenant_id}/") if k.endswith(".part")]


def test_uploads_and_downloads_through_s3(
    s3_ctx: AppContext, s3_client: TestClient, seaweed: str
) -> None:
    ctx = s3_ctx
    biz = make_business(ctx)
    worker = login(s3_client, biz, "worker")
    chat = general_chat_id(worker)
    data = samples.photo() + samples.PATTERN * 30_000  # about 3 MB: several segments
    f = uploaded(worker, chat, data)
    assert f["kind"] == "photo"
    assert worker.get(f"/files/{f['id']}/content").content == data
    r = fetch(worker, f"/files/{f['id']}/content", Range="bytes=2000000-2000099")
    assert r.status_code == 206
    assert r.content == data[2000000:2000100]
    assert worker.get(f"/files/{f['id']}/preview?size=thumb").status_code == 200
    # Encryption at rest: the pattern is in no object of the bucket.
    objects = _all_objects(seaweed)
    assert len(objects) >= 4
    assert all(samples.PATTERN[:16] not in o for o in objects)
    # Bad input leaves nothing in the bucket either.
    before = media_rows(ctx), stored_keys(ctx)
    assert_error(upload(worker, chat, samples.truncated_jpeg()), 422, "corrupt_image")
    assert (media_rows(ctx), stored_keys(ctx)) == before


def test_expired_uploads_leave_the_bucket(
    s3_ctx: AppContext, s3_client: TestClient, clock: FakeClock
) -> None:
    ctx = s3_ctx
    biz = make_business(ctx)
    worker = login(s3_client, biz, "worker")
    chat = general_chat_id(worker)
    import base64

    tus = {**worker.headers, "Tus-Resumable": "1.0.0"}
    r = s3_client.post(
        "/api/v1/uploads",
        headers={
            **tus,
            "Upload-Length": "3000000",
            "Upload-Metadata": "chat_id " + base64.b64encode(chat.encode()).decode(),
        },
    )
    path = r.headers["location"]
    r = s3_client.patch(
        path,
        content=os.urandom(1_300_000),
        headers={**tus, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
    )
    assert r.status_code == 204
    assert stored_keys(ctx)
    clock.advance(hours=25)
    assert up.expire_uploads(ctx) == 1
    assert stored_keys(ctx) == []
    assert media_rows(ctx)["uploads"] == 0
