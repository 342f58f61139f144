"""Where files go: a small interface with a local-folder implementation (the default) and an
S3-compatible one. Storage keys are made by the server, never from a client's file name."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path
from typing import Any, Protocol

from anyio import Path as AsyncPath
from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.db import after_commit, new_id, on_rollback
from services.kernel.settings import ServiceSettings
from services.kernel.uploads import (
    DOCUMENT_TYPES,
    DOSSIER_TYPES,
    SniffedFile,
    UploadRejected,
    check_upload,
    safe_display_name,
    sniff,
)

__all__ = [
    "DOCUMENT_TYPES",
    "DOSSIER_TYPES",
    "FileStorage",
    "LocalStorage",
    "S3Storage",
    "SniffedFile",
    "UploadRejected",
    "check_key",
    "check_upload",
    "delete_after_commit",
    "new_storage_key",
    "put_in_transaction",
    "safe_display_name",
    "sniff",
    "storage_from_settings",
]

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*(\.[a-z0-9]+)?$")


def check_key(key: str) -> str:
    """`key` when it is a relative, server-made key (lowercase segments, one extension), else
    ValueError: no '..', no absolute paths, no empty segments, no backslashes."""
    if len(key) > 512 or not _KEY.match(key):
        raise ValueError(f"bad storage key {key!r}")
    return key


class FileStorage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...


async def put_in_transaction(
    session: AsyncSession, storage: FileStorage, key: str, data: bytes
) -> None:
    """Store a file for a row of `session`'s transaction: it is deleted again if that
    transaction rolls back, so a refused request leaves no file behind."""
    await storage.put(key, data)
    on_rollback(session, functools.partial(storage.delete, key))


def delete_after_commit(session: AsyncSession, storage: FileStorage, key: str) -> None:
    """Delete the file of a row `session`'s transaction removes, once that is committed."""
    after_commit(session, functools.partial(storage.delete, key))


def _write_whole(path: Path, data: bytes) -> None:
    """Write next to the target, then rename: a reader never sees half a file. One thread hop
    for the three steps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.rename(path)


class LocalStorage:
    """Files in a folder, under server-made keys."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> AsyncPath:
        return AsyncPath(self.root / check_key(key))

    async def put(self, key: str, data: bytes) -> None:
        path = Path(self._path(key))
        await to_thread.run_sync(_write_whole, path, data)

    async def get(self, key: str) -> bytes:
        return await self._path(key).read_bytes()

    async def delete(self, key: str) -> None:
        await self._path(key).unlink(missing_ok=True)


class S3Storage:
    """Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph...), under `prefix/key`.
    boto3 runs in worker threads; the bucket must exist (nothing is created here)."""

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        prefix: str = "",
    ) -> None:
        import boto3
        from botocore.config import Config

        if not bucket:
            raise ValueError("S3Storage needs a bucket")
        self.bucket = bucket
        self.prefix = check_key(prefix.strip("/")) + "/" if prefix.strip("/") else ""
        config = Config(
            region_name=region or "us-east-1",
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=32,
            # S3-compatible servers do not all know the newer default CRC checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=config,
        )

    def object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        call = functools.partial(
            self._client.put_object,
            Bucket=self.bucket,
            Key=self.object_key(key),
            Body=data,
            ContentMD5=md5,
        )
        await to_thread.run_sync(call)

    async def get(self, key: str) -> bytes:
        return await to_thread.run_sync(self._get, self.object_key(key))

    def _get(self, object_key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=object_key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(object_key) from error
            raise
        with answer["Body"] as body:
            return bytes(body.read())

    async def delete(self, key: str) -> None:
        call = functools.partial(
            self._client.delete_object, Bucket=self.bucket, Key=self.object_key(key)
        )
        await to_thread.run_sync(call)


def storage_from_settings(
    root: Path, service: str, settings: ServiceSettings | None = None
) -> FileStorage:
    """The storage PORTAL_STORAGE chooses: `root` for "local", else the S3 bucket with keys under
    `service/`. `settings` defaults to the environment."""
    settings = settings or ServiceSettings()
    if settings.storage_backend == "local":
        return LocalStorage(root)
    if not settings.s3_bucket:
        raise RuntimeError("PORTAL_STORAGE=s3 needs PORTAL_S3_BUCKET")
    return S3Storage(
        bucket=settings.s3_bucket,
        endpoint_url=settings.s3_endpoint_url or None,
        access_key=settings.s3_access_key or None,
        secret_key=settings.s3_secret_key.get_secret_value() or None,
        region=settings.s3_region,
        prefix=service,
    )


def new_storage_key(prefix: str, extension: str) -> str:
    """A fresh server-made key `prefix/<random id>.extension`."""
    return check_key(f"{prefix}/{new_id()}.{extension}")
