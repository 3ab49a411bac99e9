"""`zunft serve` as a real process: it starts, shows the demo logins, answers real HTTP, and
stops cleanly. Waiting for readiness polls /api/v1/health a bounded number of times; no
assertion depends on sleeping."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import ZUNFT, base_env

READY_TRIES = 300  # x READY_WAIT_S: up to a minute for a slow CI machine to start Python
READY_WAIT_S = 0.2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(
    method: str, url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], Any]:
    data = None if body is None else json.dumps(body).encode()
    assert url.startswith("http://127.0.0.1:")  # only ever our own server
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (checked above)
            return resp.status, json.loads(resp.read() or b"null"), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null"), err.headers


@contextmanager
def server(data_dir: Path, log: Path) -> Iterator[str]:
    """Run `zunft serve` until the block ends; yields its base URL once it answers."""
    port = free_port()
    env = base_env(data_dir)
    env["ZUNFT_PORT"] = str(port)
    base = f"http://127.0.0.1:{port}"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([*ZUNFT, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(READY_TRIES):
            if proc.poll() is not None:
                pytest.fail(f"zunft serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if request("GET", f"{base}/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(READY_WAIT_S)  # waiting for readiness, not asserting on time
        else:
            pytest.fail(f"zunft serve did not answer on {base}:\n{log.read_text()}")
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                pytest.fail(f"zunft serve ignored SIGTERM:\n{log.read_text()}")
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{log.read_text()}"


def test_serve_shows_demo_logins_that_work(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "serve.log"
    with server(data, log) as base:
        status, health, _ = request("GET", f"{base}/api/v1/health")
        assert (status, health["status"]) == (200, "ok")

        printed = log.read_text(encoding="utf-8")
        assert "Created the demo business." in printed
        assert "Demo business: Müller Haustechnik GmbH (Betrieb: mueller)" in printed
        password = re.search(r"^Password for every demo account: (\S+)$", printed, re.MULTILINE)
        owner = re.search(r"^  owner\s+(\S+@\S+)$", printed, re.MULTILINE)
        assert password, printed
        assert owner, printed
        assert f"zunft listens on {base}" in printed

        login = {"tenant": "mueller", "email": owner[1], "password": password[1]}
        status, body, _ = request("POST", f"{base}/api/v1/auth/login", {**login, "password": "x"})
        assert (status, body["error"]["code"]) == (401, "invalid_credentials")

        status, body, _ = request(
            "POST", f"{base}/api/v1/auth/login", {**login, "session_kind": "bearer"}
        )
        assert status == 200, body
        bearer = {"Authorization": f"Bearer {body['token']}"}
        status, me, _ = request("GET", f"{base}/api/v1/me", headers=bearer)
        assert (status, me["name"], me["role"]) == (200, "Karl Müller", "owner")
        status, chats, _ = request("GET", f"{base}/api/v1/chats", headers=bearer)
        assert status == 200
        assert "Allgemein" in {c["title"] for c in chats["chats"]}
        # The server follows the journal with its search indexer: a message sent is found.
        general = next(c["id"] for c in chats["chats"] if c["title"] == "Allgemein")
        status, _body, _ = request(
            "POST",
            f"{base}/api/v1/chats/{general}/messages",
            {"client_id": "serve-search-1", "text": "Dachrinnenheizung für die Baustelle Nord"},
            headers=bearer,
        )
        assert status == 201
        status, found, _ = request(
            "GET", f"{base}/api/v1/search?q=Dachrinnenheizungen", headers=bearer
        )
        assert status == 200
        assert [m["text"] for m in found["results"]] == ["Dachrinnenheizung für die Baustelle Nord"]

        # The browser flavour: HttpOnly session cookie, not Secure over plain http.
        status, body, headers = request("POST", f"{base}/api/v1/auth/login", login)
        assert status == 200
        cookies = headers.get_all("set-cookie")
        session = next(c for c in cookies if c.startswith("zunft_session="))
        assert "httponly" in session.lower()
        assert "secure" not in session.lower()
        assert body["csrf_token"]

    assert (data / "demo-login.txt").read_text(encoding="utf-8") in printed

    # A restart keeps the demo (and its password) and points at the file instead.
    with server(data, tmp_path / "again.log") as base:
        again = (tmp_path / "again.log").read_text(encoding="utf-8")
        assert "Created the demo business." not in again
        assert "demo-login.txt" in again
        status, body, _ = request(
            "POST", f"{base}/api/v1/auth/login", {**login, "session_kind": "bearer"}
        )
        assert status == 200
        bearer = {"Authorization": f"Bearer {body['token']}"}
        status, found, _ = request(
            "GET", f"{base}/api/v1/search?q=Dachrinnenheizungen", headers=bearer
        )
        assert [m["text"] for m in found["results"]] == ["Dachrinnenheizung für die Baustelle Nord"]
