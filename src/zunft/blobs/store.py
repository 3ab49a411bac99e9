"""Where encrypted objects live: a local directory (default) or an S3-compatible bucket.

A store only ever sees ciphertext (zunft.blobs.segments encrypts before `put`). Keys are
"<tenant>/<blob>/<variant>/<segment>" paths. `put` is atomic and durable when it returns:
a reader sees the old object or the new one, never half of one, and a crash after `put`
returned loses nothing.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from zunft.errors import ZunftError


class StorageFull(ZunftError):
    status = 507
    code = "storage_full"


class BlobMissing(Exception):
    """An object that should exist does not (a bug or a damaged store, never user input)."""


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def keys(self, prefix: str) -> Iterator[str]: ...
    def delete_prefix(self, prefix: str) -> None: ...


_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _full(message: str) -> StorageFull:
    return StorageFull(message + " Please ask the administrator to free space.")


class LocalStore:
    """Objects as files under `root`, written to a temporary name, fsynced, then renamed."""

    def __init__(self, root: Path, *, min_free_bytes: int = 0) -> None:
        self.root = root
        self.min_free_bytes = min_free_bytes
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if any(p in {"", ".", ".."} for p in parts):
            raise ValueError(f"bad blob key {key!r}")
        return self.root.joinpath(*parts)

    def check_free(self, need: int) -> None:
        if self.min_free_bytes and shutil.disk_usage(self.root).free - need < self.min_free_bytes:
            raise _full("The server's disk is full.")

    def put(self, key: str, data: bytes) -> None:
        self.check_free(len(data))
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            dirfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dirfd)
            finally:
                os.close(dirfd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in _FULL:
                raise _full("The server's disk is full.") from exc
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                yield path.relative_to(self.root).as_posix()

    def delete_prefix(self, prefix: str) -> None:
        base = self._path(prefix.rstrip("/"))
        shutil.rmtree(base, ignore_errors=True)


class S3Store:
    """Objects in an S3-compatible bucket (tested against SeaweedFS). Credentials come from
    the usual AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or boto3's config."""

    def __init__(self, bucket: str, *, endpoint: str | None, prefix: str = "") -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._s3: Any = boto3.client(
            "s3",
            endpoint_url=endpoint or None,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"QuotaExceeded", "InsufficientStorage", "EntityTooLarge"}:
                raise _full("The object store is full.") from exc
            raise

    def get(self, key: str) -> bytes:
        try:
            body: bytes = self._s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise BlobMissing(key) from None
            raise
        return body

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for item in page.get("Contents", []):
                yield str(item["Key"])[len(self.prefix) :]

    def delete_prefix(self, prefix: str) -> None:
        batch: list[dict[str, str]] = []
        for key in list(self.keys(prefix)):
            batch.append({"Key": self._key(key)})
            if len(batch) == 1000:
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
                batch = []
        if batch:
            self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})


def open_store(url: str, data_dir: Path, *, endpoint: str, min_free_bytes: int) -> BlobStore:
    """`url` empty: <data_dir>/blobs; "file:///path": that directory; "s3://bucket/prefix"."""
    if not url:
        return LocalStore(data_dir / "blobs", min_free_bytes=min_free_bytes)
    if url.startswith("file://"):
        return LocalStore(Path(url.removeprefix("file://")), min_free_bytes=min_free_bytes)
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3Store(bucket, endpoint=endpoint or None, prefix=prefix)
    raise ValueError(f"unknown blob store {url!r} (use file:///path or s3://bucket)")
