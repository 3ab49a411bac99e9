"""Real processes for the scale-out and crash tests: `zunft serve` and a private
redis-server, each on a free loopback port."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.realtime.live import WAIT, free_port

ZUNFT = str(Path(sys.executable).parent / "zunft")


def _wait(predicate: object, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll until a process is ready (startup readiness, not test timing)."""
    deadline = time.monotonic() + 3 * WAIT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready")


class ZunftServer:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env, "ZUNFT_PORT": str(self.port), "ZUNFT_DEMO": "false"}
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/api/v1/stream"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ZunftServer:
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [ZUNFT, "serve"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        _wait(self._healthy, f"zunft serve on {self.port} (log: {self.log})", self.proc)
        return self

    def _healthy(self) -> bool:
        try:
            return self.request("GET", "/api/v1/health")[0] == 200
        except OSError:
            return False

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """One HTTP request to this server (plain http on loopback); (status, JSON body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, None if body is None else json.dumps(body), headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, whatever was in flight is cut off."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(WAIT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)


class RedisServer:
    """A redis-server of the test's own, so the test may stop and start it."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            # `make test` installs it (scripts/ensure-redis.sh); without it this is a failure.
            pytest.fail("redis-server is not installed (make test installs it)")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self._answers, f"redis-server on {self.port}", self.proc)
        return self

    def _answers(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
