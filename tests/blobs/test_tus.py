"""tus 1.0 (core, creation, termination, expiration), driven by the real tus client
(tuspy) over a real socket; a proxy cuts the connection mid-upload and the client resumes."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from fastapi.testclient import TestClient
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

from tests.blobs import samples
from tests.blobs.helpers import media_rows, stored_keys
from tests.blobs.servers import CuttingProxy, serve
from tests.factories import Api, Business, login
from tests.web.helpers import assert_error, general_chat_id
from zunft.blobs import uploads as up
from zunft.blobs.store import LocalStore
from zunft.clock import FakeClock
from zunft.context import AppContext

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def worker(client: TestClient, biz: Business) -> Api:
    return login(client, biz, "worker")


@pytest.fixture
def chat(worker: Api) -> str:
    return general_chat_id(worker)


@pytest.fixture
def server(ctx: AppContext) -> Iterator[str]:
    with serve(ctx) as url:
        yield url


def _http(method: str, url: str, **kw: Any) -> requests.Response:
    return requests.request(method, url, timeout=60, **kw)


def _meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def test_tuspy_resumes_after_the_connection_breaks(
    ctx: AppContext, server: str, worker: Api, chat: str
) -> None:
    data = samples.photo(1200, 900) + os.urandom(3 * 1024 * 1024 + 12345)
    proxy = CuttingProxy(urlparse(server).port or 0, cut_after=1_500_000)
    try:
        client = TusClient(f"{proxy.url}/api/v1/uploads", headers=dict(worker.headers))
        first = client.uploader(
            file_stream=io.BytesIO(data),
            metadata={"chat_id": chat, "filename": "Baustelle.jpg"},
        )
        with pytest.raises((TusUploadFailed, TusCommunicationError)):
            first.upload()
        assert proxy.cuts == 1
        upload_id = first.url.rsplit("/", 1)[1]
        assert up.wait_for_requests(upload_id, 1)
        # What arrived before the cut is kept: the upload continues from there.
        again = client.uploader(file_stream=io.BytesIO(data), url=first.url)
        assert 0 < again.offset < len(data)
        assert again.offset <= 1_500_000
        again.upload()
        assert again.offset == len(data)
    finally:
        proxy.close()
    r = worker.get(f"/files/{upload_id}")
    assert r.status_code == 200, r.text
    f = r.json()
    assert (f["kind"], f["size"], f["name"]) == ("photo", len(data), "Baustelle.jpg")
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    assert worker.get(f"/files/{upload_id}/content").content == data
    # No leftover of the unfinished state: no .part objects, no upload row.
    assert not [k for k in stored_keys(ctx) if k.endswith(".part")]
    assert media_rows(ctx)["uploads"] == 0
    # HEAD after completion still answers (a client whose last answer got lost).
    h = _http("HEAD", f"{server}/api/v1/uploads/{upload_id}", headers={**worker.headers, **TUS})
    assert h.status_code == 200
    assert h.headers["upload-offset"] == str(len(data))


def test_protocol_details(ctx: AppContext, server: str, worker: Api, chat: str) -> None:
    base = f"{server}/api/v1/uploads"
    auth = dict(worker.headers)
    o = _http("OPTIONS", base, headers=auth)
    assert o.status_code == 204
    assert o.headers["tus-version"] == "1.0.0"
    assert set(o.headers["tus-extension"].split(",")) == {"creation", "termination", "expiration"}
    # Without Tus-Resumable: 412.
    r = _http("POST", base, headers={**auth, "Upload-Length": "10"})
    assert r.status_code == 412
    data = samples.photo()
    r = _http(
        "POST",
        base,
        headers={
            **auth,
            **TUS,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": _meta(chat_id=chat),
        },
    )
    assert r.status_code == 201, r.text
    assert r.headers["tus-resumable"] == "1.0.0"
    assert "upload-expires" in r.headers
    url = server + r.headers["location"]
    patch = {**auth, **TUS, "Content-Type": "application/offset+octet-stream"}
    # Wrong content type: 415; wrong offset: 409; both store nothing.
    r = _http(
        "PATCH",
        url,
        data=data[:100],
        headers={**patch, "Content-Type": "text/plain", "Upload-Offset": "0"},
    )
    assert r.status_code == 415
    r = _http("PATCH", url, data=data[:100], headers={**patch, "Upload-Offset": "5"})
    assert r.status_code == 409
    r = _http("PATCH", url, data=data[:100], headers={**patch, "Upload-Offset": "0"})
    assert r.status_code == 204
    assert r.headers["upload-offset"] == "100"
    # More than the declared length: 413, the offset stays.
    r = _http("PATCH", url, data=data[100:] + b"x" * 10, headers={**patch, "Upload-Offset": "100"})
    assert r.status_code == 413
    h = _http("HEAD", url, headers={**auth, **TUS})
    assert (h.status_code, h.headers["upload-offset"], h.headers["upload-length"]) == (
        200,
        "100",
        str(len(data)),
    )
    assert h.headers["cache-control"] == "no-store"
    r = _http("PATCH", url, data=data[100:], headers={**patch, "Upload-Offset": "100"})
    assert r.status_code == 204
    assert r.headers["zunft-file-id"] == url.rsplit("/", 1)[1]


def test_termination_removes_everything(
    ctx: AppContext, server: str, worker: Api, chat: str
) -> None:
    before = media_rows(ctx), stored_keys(ctx)
    base = f"{server}/api/v1/uploads"
    auth = {**worker.headers, **TUS}
    r = _http(
        "POST",
        base,
        headers={**auth, "Upload-Length": "3000000", "Upload-Metadata": _meta(chat_id=chat)},
    )
    url = server + r.headers["location"]
    r = _http(
        "PATCH",
        url,
        data=os.urandom(1_500_000),
        headers={**auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
    )
    assert r.status_code == 204
    assert stored_keys(ctx) != before[1]
    assert _http("DELETE", url, headers=auth).status_code == 204
    assert _http("HEAD", url, headers=auth).status_code == 404
    assert (media_rows(ctx), stored_keys(ctx)) == before


def test_abandoned_uploads_expire_and_are_cleaned_up(
    ctx: AppContext, clock: FakeClock, worker: Api, chat: str
) -> None:
    before = media_rows(ctx), stored_keys(ctx)
    auth = {**worker.headers, **TUS}
    r = worker.client.post(
        "/api/v1/uploads",
        headers={**auth, "Upload-Length": "2000000", "Upload-Metadata": _meta(chat_id=chat)},
    )
    assert r.status_code == 201, r.text
    path = r.headers["location"]
    r = worker.client.patch(
        path,
        content=os.urandom(1_200_000),
        headers={**auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
    )
    assert r.status_code == 204
    clock.advance(hours=23)  # continuing within the expiry keeps it alive
    assert up.expire_uploads(ctx) == 0
    assert worker.client.head(path, headers=auth).headers["upload-offset"] == "1200000"
    clock.advance(hours=1, seconds=1)
    r = worker.client.head(path, headers=auth)
    assert r.status_code == 410  # HEAD answers have no body: the code is in GET/PATCH answers
    r = worker.client.patch(
        path,
        content=b"x",
        headers={
            **auth,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "1200000",
        },
    )
    assert_error(r, 410, "upload_expired")
    assert up.expire_uploads(ctx) == 1
    assert (media_rows(ctx), stored_keys(ctx)) == before
    assert worker.client.head(path, headers=auth).status_code == 404


def test_uploads_into_a_chat_i_cannot_see_and_empty_uploads(
    ctx: AppContext, client: TestClient, biz: Business, worker: Api
) -> None:
    owner = login(client, biz, "owner")
    r = owner.post("/chats/channels", json={"title": "Nur Büro", "member_ids": []})
    hidden = r.json()["id"]
    before = media_rows(ctx), stored_keys(ctx)
    auth = {**worker.headers, **TUS}
    r = worker.client.post(
        "/api/v1/uploads",
        headers={**auth, "Upload-Length": "1000", "Upload-Metadata": _meta(chat_id=hidden)},
    )
    assert_error(r, 404, "not_found")
    general = general_chat_id(worker)
    r = worker.client.post(
        "/api/v1/uploads",
        headers={**auth, "Upload-Length": "0", "Upload-Metadata": _meta(chat_id=general)},
    )
    assert_error(r, 422, "empty_file")
    r = worker.client.post(
        "/api/v1/uploads",
        headers={**auth, "Upload-Length": "1000", "Upload-Metadata": "chat_id !!!"},
    )
    assert_error(r, 400, "invalid_metadata")
    assert (media_rows(ctx), stored_keys(ctx)) == before
    assert isinstance(ctx.blobs, LocalStore)


def test_a_lying_content_length_stores_nothing(
    ctx: AppContext, server: str, worker: Api, chat: str
) -> None:
    """A single-request upload that promises more bytes than it sends, then hangs up."""
    import socket

    before = media_rows(ctx), stored_keys(ctx)
    port = urlparse(server).port
    body = samples.photo()
    head = (
        f"POST /api/v1/uploads/single?chat_id={chat} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {worker.headers['Authorization']}\r\n"
        f"Content-Type: image/jpeg\r\nContent-Length: {len(body) + 5000}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port or 0)) as s:
        s.sendall(head + body)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    # The server has nothing to answer a half request with, or answers 400; never a file.
    assert b"201 Created" not in answer
    assert (media_rows(ctx), stored_keys(ctx)) == before


def test_a_file_too_large_for_its_kind_is_refused_on_its_first_bytes(
    ctx: AppContext, worker: Api, chat: str
) -> None:
    ctx.settings = ctx.settings.with_overrides(
        file_limits_mb="photo=1,video=50,voice=1,document=1,file=50"
    )
    before = media_rows(ctx), stored_keys(ctx)
    auth = {**worker.headers, **TUS}
    size = 5 * 1024 * 1024
    r = worker.client.post(
        "/api/v1/uploads",
        headers={**auth, "Upload-Length": str(size), "Upload-Metadata": _meta(chat_id=chat)},
    )
    assert r.status_code == 201, r.text  # within the largest limit (video, file)
    path = r.headers["location"]
    head = samples.photo()  # but the bytes say: a photo
    r = worker.client.patch(
        path,
        content=head + b"\x00" * (2 * 1024 * 1024 - len(head)),
        headers={**auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
    )
    error = assert_error(r, 413, "file_too_large")
    assert error["details"]["kind"] == "photo"
    assert worker.client.head(path, headers=auth).status_code == 404
    assert (media_rows(ctx), stored_keys(ctx)) == before


def test_a_retried_creation_with_a_client_id_returns_the_first_upload(
    ctx: AppContext, worker: Api, chat: str
) -> None:
    auth = {**worker.headers, **TUS}
    headers = {
        **auth,
        "Upload-Length": "5000",
        "Upload-Metadata": _meta(chat_id=chat, client_id="tus-foto-000001", filename="a.jpg"),
    }
    first = worker.client.post("/api/v1/uploads", headers=headers)
    again = worker.client.post("/api/v1/uploads", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.headers["location"] == again.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert media_rows(ctx)["uploads"] == 1


def test_the_sweeper_of_zunft_serve_deletes_expired_uploads(
    ctx: AppContext, clock: FakeClock, worker: Api, chat: str
) -> None:
    before = media_rows(ctx), stored_keys(ctx)
    auth = {**worker.headers, **TUS}
    r = worker.client.post(
        "/api/v1/uploads",
        headers={**auth, "Upload-Length": "2000", "Upload-Metadata": _meta(chat_id=chat)},
    )
    r = worker.client.patch(
        r.headers["location"],
        content=b"x" * 1000,
        headers={**auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
    )
    assert r.status_code == 204
    sweeper = up.Sweeper(ctx, interval=3600).start()
    try:
        sweeper.wake()
        assert sweeper.wait_for_sweeps(1)
        assert media_rows(ctx)["uploads"] == 1  # not expired yet
        clock.advance(hours=24, seconds=1)
        sweeper.wake()
        assert sweeper.wait_for_sweeps(2)
    finally:
        sweeper.stop()
    assert (media_rows(ctx), stored_keys(ctx)) == before


class FlakyStore(LocalStore):
    """The real local store, whose disk fails the first read of a finished original."""

    failures = 1

    def get(self, key: str) -> bytes:
        if self.failures and "/o/" in key and not key.endswith(".part"):
            self.failures -= 1
            raise OSError(5, "Input/output error")
        return super().get(key)


def test_a_failure_while_finishing_takes_the_bytes_back_and_the_upload_resumes(
    ctx: AppContext, worker: Api, chat: str, tmp_path: Any
) -> None:
    ctx.blobs = FlakyStore(tmp_path / "flaky")
    auth = {**worker.headers, **TUS}
    data = samples.photo() + b"\x00" * (SEGMENT := 1024 * 1024)
    r = worker.client.post(
        "/api/v1/uploads",
        headers={**auth, "Upload-Length": str(len(data)), "Upload-Metadata": _meta(chat_id=chat)},
    )
    path = r.headers["location"]
    patch = {**auth, "Content-Type": "application/offset+octet-stream"}
    r = worker.client.patch(path, content=data[:SEGMENT], headers={**patch, "Upload-Offset": "0"})
    assert r.status_code == 204
    r = worker.client.patch(
        path, content=data[SEGMENT:], headers={**patch, "Upload-Offset": str(SEGMENT)}
    )
    error = assert_error(r, 503, "storage_unavailable")
    assert error["details"]["offset"] == SEGMENT
    assert r.headers["retry-after"] == "30"
    head = worker.client.head(path, headers=auth)
    assert head.headers["upload-offset"] == str(SEGMENT)  # not complete: send the rest again
    r = worker.client.patch(
        path, content=data[SEGMENT:], headers={**patch, "Upload-Offset": str(SEGMENT)}
    )
    assert r.status_code == 204
    file_id = r.headers["zunft-file-id"]
    assert worker.get(f"/files/{file_id}/content").content == data


def test_tuspy_in_small_chunks(ctx: AppContext, server: str, worker: Api, chat: str) -> None:
    """Chunks that end inside segments: every PATCH continues a stored partial segment."""
    data = samples.photo() + os.urandom(2_500_000)
    client = TusClient(f"{server}/api/v1/uploads", headers=dict(worker.headers))
    uploader = client.uploader(
        file_stream=io.BytesIO(data), chunk_size=700_001, metadata={"chat_id": chat}
    )
    uploader.upload()
    file_id = uploader.url.rsplit("/", 1)[1]
    f = worker.get(f"/files/{file_id}").json()
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    assert worker.get(f"/files/{file_id}/content").content == data
    assert not [k for k in stored_keys(ctx) if k.endswith(".part")]
