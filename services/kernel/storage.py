"""Where files go: a small interface with a local-folder implementation (the default).
Storage keys are made by the server, never from a client's file name."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import filetype
from anyio import Path as AsyncPath

from services.kernel.db import new_id

_KEY = re.compile(r"^[a-z0-9/]+(\.[a-z0-9]+)?$")


class FileStorage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files in a folder, under server-made keys."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> AsyncPath:
        if not _KEY.match(key) or ".." in key:
            raise ValueError(f"bad storage key {key!r}")
        return AsyncPath(self.root / key)

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        await path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        await partial.write_bytes(data)
        await partial.rename(path)

    async def get(self, key: str) -> bytes:
        return await self._path(key).read_bytes()

    async def delete(self, key: str) -> None:
        await self._path(key).unlink(missing_ok=True)


@dataclass(frozen=True)
class SniffedFile:
    content_type: str
    extension: str
    sha256: str
    size: int


DOCUMENT_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/msword": "doc",
    "application/x-ole-storage": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


def sniff(data: bytes, allowed: dict[str, str]) -> SniffedFile | None:
    """The file's type from its content (magic bytes), or None when it is not one of `allowed`."""
    kind = filetype.guess(data)
    if kind is None or kind.mime not in allowed:
        return None
    mime = "application/msword" if kind.mime == "application/x-ole-storage" else kind.mime
    return SniffedFile(
        content_type=mime,
        extension=allowed[kind.mime],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def new_storage_key(prefix: str, extension: str) -> str:
    return f"{prefix}/{new_id()}.{extension}"
